// An independent recomputation of aitrace's format v2 digests, in JavaScript (Node.js >= 18),
// written from the specifications, sharing no code with aitrace:
//
//   node recompute.mjs jcs FILE...     for each FILE: is it exactly the RFC 8785 form of its JSON?
//   node recompute.mjs dirhash DIR     in-toto dirHash of DIR (lowercase hex) and its listing
//
// RFC 8785 for aitrace's data is JSON.stringify over objects whose keys are sorted by UTF-16
// code units (Array.prototype.sort's default order): ECMAScript prints numbers exactly as
// §3.2.2.3 requires and escapes strings as §3.2.2.2 does. The dirHash is in-toto's digest-set
// `dirHash`: sha256 over the "<sha256 hex>  <relative path>\n" lines of every regular file
// (links to files are opened, as Go's dirhash does), sorted by the bytes of the path.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function jcs(value) {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return "[" + value.map(jcs).join(",") + "]";
  return "{" + Object.keys(value).sort()
    .map((k) => JSON.stringify(k) + ":" + jcs(value[k])).join(",") + "}";
}

function files(root, prefix = "") {
  const out = [];
  for (const name of readdirSync(join(root, prefix))) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = statSync(join(root, rel)); // follows links
    if (st.isDirectory()) out.push(...files(root, rel));
    else if (st.isFile()) out.push(rel);
  }
  return out;
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === "jcs") {
  const result = {};
  for (const f of args) {
    const bytes = readFileSync(f);
    const again = Buffer.from(jcs(JSON.parse(bytes.toString("utf8"))), "utf8");
    result[f] = Buffer.compare(again, bytes) === 0;
  }
  process.stdout.write(JSON.stringify(result));
} else if (cmd === "dirhash") {
  const root = args[0];
  const names = files(root).map((n) => Buffer.from(n, "utf8")).sort(Buffer.compare);
  const listing = Buffer.concat(names.map((n) => {
    const sha = createHash("sha256").update(readFileSync(join(root, n.toString("utf8"))));
    return Buffer.concat([Buffer.from(sha.digest("hex") + "  "), n, Buffer.from("\n")]);
  }));
  process.stdout.write(JSON.stringify({
    dirHash: createHash("sha256").update(listing).digest("hex"),
    listing: listing.toString("utf8"),
  }));
} else {
  process.stderr.write("usage: recompute.mjs jcs FILE... | dirhash DIR\n");
  process.exit(2);
}
