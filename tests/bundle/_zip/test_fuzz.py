"""The archive reader's fuzz target: bounded, deterministic, run by every ``make test`` (CI).

Structure-aware mutations of real archives — flipped bytes and header fields set to edge
values, cuts, inserted bytes, copied local records, prefixes and comments (the ZIP
differential shapes, at random) — checked against three properties:

* only ``InvalidBundle`` ever escapes the reader, and when it accepts an archive and reads
  every member, Python's ``zipfile`` (which trusts the central directory) and a streaming
  reader (which walks local headers, as Java's ``ZipInputStream`` does) see exactly the same
  members with the same bytes, in the same order;
* ``safe_extract`` is all or nothing: it extracts everything, or leaves its target empty;
* ``verify_bundle`` never raises on a mutated bundle, and when it passes, every member is the
  genuine one.

The budget is fixed (``AITRACE_FUZZ_EXAMPLES``, default 150 per target) and the search is
derandomised, so CI runs the same inputs in bounded time; raise the budget locally to dig.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aitrace.bundle._zip.extract import safe_extract
from aitrace.bundle._zip.limits import ArchiveLimits
from aitrace.bundle._zip.reader import SafeArchive
from aitrace.bundle._zip.writer import write_deterministic_zip
from aitrace.errors import InvalidBundle
from aitrace.signing.keys import load_public_key
from aitrace.verify.bundle import verify_bundle
from tests.helpers.bundle import Keys, read_members
from tests.helpers.zip_forge import ZipParts, local_record, stream_members

BUDGET = int(os.environ.get("AITRACE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=BUDGET, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
SMALL = ArchiveLimits(max_member_size=1 << 20, max_total_size=4 << 20, max_json_size=1 << 20)
EDGES = (0, 1, 0x7F, 0xFF, 0xFFFF, 0xFFFFFFFF)


def _small_archive() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.aitrace"
        write_deterministic_zip(path, [
            ("manifest.json", b'{"members": [{"path": "steps/000001.json", "size": 2}]}'),
            ("steps/000001.json", b'{"seq": 1, "metrics": {"accuracy": 0.91}}'),
            ("objects/sha256/ab/cdef", b"evidence " * 40),
            ("z.txt", b"z"),
        ])
        return path.read_bytes()


VALID = _small_archive()


@st.composite
def mutations(draw: st.DrawFn, genuine: bytes) -> bytes:
    """A sequence of structure-aware edits of ``genuine``."""
    parts = ZipParts.split(genuine)
    data = bytearray(genuine)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "field16", "field32", "cut", "insert", "smuggle",
                                   "prefix", "comment", "copy"]))
        n = len(data)
        if op == "flip" and n:
            at = draw(st.integers(0, n - 1))
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op in ("field16", "field32") and n >= 4:
            width, fmt = (2, "<H") if op == "field16" else (4, "<I")
            at = draw(st.integers(0, n - width))
            struct.pack_into(fmt, data, at, draw(st.sampled_from(EDGES)) & (256 ** width - 1))
        elif op == "cut" and n:
            data = data[:draw(st.integers(0, n - 1))]
        elif op == "insert":
            at = draw(st.integers(0, n))
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "smuggle":
            name = draw(st.sampled_from(["steps/000001.json", "z.txt", "extra.json"]))
            at = draw(st.integers(0, n))
            data[at:at] = local_record(name, draw(st.binary(max_size=40)))
        elif op == "prefix":
            data = bytearray(parts.build(prefix=draw(st.binary(min_size=1, max_size=40)),
                                         adjust_offsets=draw(st.booleans())))
        elif op == "comment":
            data = bytearray(parts.build(comment=draw(st.binary(min_size=1, max_size=40))))
        elif op == "copy" and n > 8:
            a = draw(st.integers(0, n - 2))
            b = draw(st.integers(a + 1, min(n, a + 200)))
            at = draw(st.integers(0, n))
            data[at:at] = data[a:b]
    return bytes(data)


def _read_all(path: Path) -> dict[str, bytes] | None:
    """Every member through the strict reader, or None when it refuses the archive."""
    try:
        with SafeArchive.open(path, SMALL) as ar:
            return {name: ar.read(name) for name in ar.names()}
    except InvalidBundle:
        return None


@FUZZ
@given(mutations(VALID))
def test_every_reader_sees_what_the_strict_reader_accepts(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.aitrace"
        path.write_bytes(data)
        ours = _read_all(path)
        if ours is None:
            return
        with zipfile.ZipFile(path) as zf:
            theirs = {i.filename: zf.read(i) for i in zf.infolist()}
        assert ours == theirs
        assert stream_members(data) == list(ours.items())


@FUZZ
@given(mutations(VALID))
def test_extraction_is_all_or_nothing(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "x.aitrace"
        path.write_bytes(data)
        dest = root / "out"
        try:
            written = safe_extract(path, dest, SMALL)
        except InvalidBundle:
            assert not dest.exists() or list(dest.iterdir()) == []
            return
        files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(dest.resolve()).as_posix() for p in written)
        assert {p.name for p in root.iterdir()} == {"x.aitrace", "out"}


@settings(FUZZ, max_examples=max(BUDGET // 3, 10))
@given(data=st.data())
def test_verify_never_raises_and_passes_only_genuine_bundles(
        data: st.DataObject, bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    genuine = bundle_path.read_bytes()
    mutated = data.draw(mutations(genuine))
    path = tmp_path / "m.aitrace"
    path.write_bytes(mutated)
    report = verify_bundle(path, [load_public_key(keys.pub)])
    if report.ok:
        assert read_members(path) == read_members(bundle_path)
