"""ZIP parser differentials: archives other readers accept but read differently are refused.

Each shape starts from a genuine bundle's bytes. Python's ``zipfile`` (and ``unzip``) accept
every one of them; a streaming reader (Java's ``ZipInputStream``) sees the smuggled step. The
strict reader refuses them all before reading any data, naming what it found.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest

from aitrace.bundle._zip.extract import safe_extract
from aitrace.bundle._zip.reader import SafeArchive
from aitrace.errors import InvalidBundle
from tests.helpers.zip_forge import Entry, Forge, differentials

VICTIM = "steps/000005.json"
ASSETS = Path(__file__).parents[2] / "assets"

EXPECTED = {
    "smuggled-local-header": "between its last member",
    "prepended-polyglot": "bytes before its first member (prepended data",
    "end-record-comment": "comment after its end record",
    "decoy-directory": "between its last member",
    "local-header-lies": f"member '{VICTIM}' has a local header that disagrees with the central "
                         "directory (CRC-32",
}


def _evil(genuine: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(genuine)) as zf:
        step = json.loads(zf.read(VICTIM))
    step["metrics"]["accuracy"] = 0.999
    return json.dumps(step, indent=2).encode()


@pytest.fixture(scope="module")
def shapes(bundle_path: Path) -> dict[str, bytes]:
    genuine = bundle_path.read_bytes()
    return differentials(genuine, VICTIM, _evil(genuine))


@pytest.mark.parametrize("shape", sorted(EXPECTED))
def test_differential_is_refused_before_reading(shapes: dict[str, bytes], shape: str,
                                                tmp_path: Path, bundle_path: Path) -> None:
    path = tmp_path / f"{shape}.aitrace"
    path.write_bytes(shapes[shape])
    # The shape is real: Python's zipfile opens it and shows the genuine step...
    with zipfile.ZipFile(path) as zf, zipfile.ZipFile(bundle_path) as genuine:
        assert zf.read(VICTIM) == genuine.read(VICTIM) or shape == "local-header-lies"
    # ...and the strict reader refuses it, naming what it found.
    with pytest.raises(InvalidBundle) as err, SafeArchive.open(path):
        pass
    assert EXPECTED[shape] in err.value.message
    with pytest.raises(InvalidBundle):
        safe_extract(path, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.skipif(shutil.which("java") is None, reason="needs a Java runtime")
def test_a_streaming_reader_sees_the_smuggled_step(shapes: dict[str, bytes],
                                                   tmp_path: Path) -> None:
    """Why layout matters: java.util.zip.ZipInputStream walks local headers, not the directory."""
    path = tmp_path / "smuggled.aitrace"
    path.write_bytes(shapes["smuggled-local-header"])
    out = subprocess.run(["java", str(ASSETS / "java" / "ZipStream.java"), str(path), VICTIM],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.count('"accuracy"') == 2 and "0.999" in out


@pytest.mark.skipif(shutil.which("unzip") is None, reason="needs unzip")
def test_unzip_flags_the_lying_local_header(shapes: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / "lies.aitrace"
    path.write_bytes(shapes["local-header-lies"])
    assert subprocess.run(["unzip", "-tq", str(path)], capture_output=True).returncode != 0


def test_every_local_field_must_agree(tmp_path: Path) -> None:
    base = {"name": "a.json", "plain": b'{"a": 1}'}
    cases = {
        "flags": Forge([Entry(**base, flags=0x0800, local_flags=0)]),  # type: ignore[arg-type]
        "time": Forge([Entry(**base, local_time=0x1234)]),  # type: ignore[arg-type]
        "CRC-32": Forge([Entry(**base, local_crc=zlib.crc32(b"other"))]),  # type: ignore[arg-type]
        "compressed size": Forge([Entry(**base, local_csize=3)]),  # type: ignore[arg-type]
    }
    for what, forge in cases.items():
        path = tmp_path / "f.zip"
        path.write_bytes(forge.build())
        with pytest.raises(InvalidBundle, match=f"disagrees with the central directory "
                                                f"\\(.*{what}"), SafeArchive.open(path):
            pass


def test_data_descriptors_and_entry_comments_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dd.zip"
    path.write_bytes(Forge([Entry("a.json", b"{}", flags=0x0008)]).build())
    with pytest.raises(InvalidBundle, match="data descriptor"), SafeArchive.open(path):
        pass
    path.write_bytes(Forge([Entry("a.json", b"{}", comment=b"hi")]).build())
    with pytest.raises(InvalidBundle, match="comment in the central directory"), \
            SafeArchive.open(path):
        pass


def test_members_out_of_directory_order_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "order.zip"
    path.write_bytes(Forge([Entry("a", b"x"), Entry("b", b"y")], order=[1, 0]).build())
    with pytest.raises(InvalidBundle, match="not laid out in central-directory order"), \
            SafeArchive.open(path):
        pass


def test_zip64_local_extra_agreeing_with_the_directory_is_read(tmp_path: Path) -> None:
    """What zipfile writes for a streamed member over ~4 GiB: ZIP64 sizes in the local header."""
    import struct

    plain = b"weights"
    local_extra = struct.pack("<HHQQ", 1, 16, len(plain), len(plain))
    path = tmp_path / "z64.zip"
    path.write_bytes(Forge([Entry("w.bin", plain, local_extra=local_extra,
                                  local_usize=0xFFFFFFFF, local_csize=0xFFFFFFFF)]).build())
    with SafeArchive.open(path) as ar:
        assert ar.read("w.bin") == plain
    lying = struct.pack("<HHQQ", 1, 16, len(plain) + 1, len(plain))
    path.write_bytes(Forge([Entry("w.bin", plain, local_extra=lying, local_usize=0xFFFFFFFF,
                                  local_csize=0xFFFFFFFF)]).build())
    with pytest.raises(InvalidBundle, match=r"disagrees .*\(size\)"), SafeArchive.open(path):
        pass
