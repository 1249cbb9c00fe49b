// A streaming ZIP reader (java.util.zip.ZipInputStream), used by the differential tests to show
// what a reader that walks local headers sees: prints every entry named ARGS[1], in file order.
import java.io.FileInputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

public class ZipStream {
    public static void main(String[] args) throws Exception {
        try (ZipInputStream in = new ZipInputStream(new FileInputStream(args[0]))) {
            ZipEntry entry;
            while ((entry = in.getNextEntry()) != null) {
                if (entry.getName().equals(args[1])) {
                    System.out.println(new String(in.readAllBytes(), "UTF-8"));
                }
            }
        }
    }
}
