"""Property-based tests of the archive reader and writer (hypothesis).

* Arbitrary bytes and mutated valid archives never raise anything but ``InvalidBundle`` and
  never make ``safe_extract`` write outside its target.
* ``write_deterministic_zip`` is byte-identical for identical members in any order, and what it
  writes reads back exactly through the strict reader.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aitrace.bundle._zip.extract import safe_extract
from aitrace.bundle._zip.limits import ArchiveLimits, name_problem
from aitrace.bundle._zip.reader import SafeArchive
from aitrace.bundle._zip.writer import FIXED_DATE_TIME, write_deterministic_zip
from aitrace.errors import InputError, InvalidBundle

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
SMALL = ArchiveLimits(max_member_size=1 << 20, max_total_size=4 << 20, max_json_size=1 << 20)


def _valid_archive() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.aitrace"
        write_deterministic_zip(path, [
            ("manifest.json", b'{"members": [{"path": "steps/000001.json", "size": 2}]}'),
            ("steps/000001.json", b"{}"),
            ("objects/ab/cdef", b"evidence " * 50),
            ("sbom.cdx.json", b'{"bomFormat": "CycloneDX", "components": [[[]]]}'),
        ])
        return path.read_bytes()


VALID = _valid_archive()


def _exercise(data: bytes) -> None:
    """Open, read every member, and extract; only InvalidBundle may escape; nothing escapes dest."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        box = root / "box"
        box.mkdir()
        path = box / "x.aitrace"
        path.write_bytes(data)
        try:
            with SafeArchive.open(path, SMALL) as ar:
                for name in ar.names():
                    ar.sha256(name)
                    if name.endswith(".json"):
                        ar.read_json(name)
        except InvalidBundle:
            pass
        dest = box / "out"
        with contextlib.suppress(InvalidBundle):
            safe_extract(path, dest, SMALL)
        for p in root.rglob("*"):
            rel = p.relative_to(root).as_posix()
            assert rel in {"box", "box/x.aitrace", "box/out"} or rel.startswith("box/out/"), rel
            assert not p.is_symlink()
            if rel.startswith("box/out/") and p.is_file():
                assert not p.name.startswith(".tmp-")


@SETTINGS
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_only_raise_invalid_bundle(data: bytes) -> None:
    _exercise(data)


@SETTINGS
@given(st.binary(max_size=256).map(lambda b: VALID[:22] + b + VALID[-200:]))
def test_spliced_archives_only_raise_invalid_bundle(data: bytes) -> None:
    _exercise(data)


@SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1,
             max_size=8),
    st.one_of(st.none(), st.integers(0, len(VALID))),
)
def test_mutated_valid_archives_only_raise_invalid_bundle(
        flips: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray(VALID)
    for pos, value in flips:
        data[pos] = value
    if cut is not None:
        data = data[:cut]
    _exercise(bytes(data))


_name_part = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
_names = st.lists(_name_part, min_size=1, max_size=3).map("/".join)


@SETTINGS
@given(_names)
def test_names_either_refused_or_round_trip(name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "n.aitrace"
        if name_problem(name) is not None:
            with pytest.raises(InputError):
                write_deterministic_zip(path, [(name, b"x")])
            return
        write_deterministic_zip(path, [(name, b"x")])
        with SafeArchive.open(path) as ar:
            assert ar.names() == [name]
            assert ar.read(name) == b"x"


_members = st.dictionaries(
    st.from_regex(r"[a-z]{1,6}(/[a-z0-9._-]{1,8}){0,2}", fullmatch=True).filter(
        lambda n: name_problem(n) is None),
    st.binary(max_size=3000), min_size=1, max_size=8)


def _collides(names: list[str]) -> bool:
    names_set = set(names)
    return any("/".join(n.split("/")[:i]) in names_set
               for n in names for i in range(1, n.count("/") + 1))


@SETTINGS
@given(_members, st.randoms(use_true_random=False))
def test_deterministic_zip_is_order_independent_and_reads_back(
        members: dict[str, bytes], rnd: object) -> None:
    items = list(members.items())
    shuffled = items[:]
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a.aitrace", Path(tmp) / "b.aitrace"
        if _collides(list(members)):
            with pytest.raises(InputError, match="needs it to be a directory"):
                write_deterministic_zip(a, items)
            return
        write_deterministic_zip(a, items)
        write_deterministic_zip(b, shuffled)
        assert a.read_bytes() == b.read_bytes()
        with SafeArchive.open(a) as ar:
            assert ar.names() == sorted(members)
            for name, content in members.items():
                assert ar.read(name) == content
                assert ar.sha256(name) == (hashlib.sha256(content).hexdigest(), len(content))


def test_deterministic_zip_fixed_metadata_and_streamed_paths(tmp_path: Path) -> None:
    big = tmp_path / "weights.bin"
    big.write_bytes(bytes(range(256)) * 8192)  # 2 MiB, streamed and stored
    members: list[tuple[str, bytes | Path]] = [("manifest.json", b"{}"), ("include/w.bin", big)]
    out = write_deterministic_zip(tmp_path / "a.aitrace", members)
    first = out.read_bytes()
    big.touch()  # a newer mtime must not change anything
    assert write_deterministic_zip(tmp_path / "a.aitrace", members).read_bytes() == first
    with zipfile.ZipFile(out) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["include/w.bin", "manifest.json"]
        for info in infos:
            assert info.date_time == FIXED_DATE_TIME
            assert info.external_attr >> 16 == 0o100644
            assert info.create_system == 3
            assert info.extra == b""
        assert infos[0].compress_type == zipfile.ZIP_STORED
        assert infos[1].compress_type == zipfile.ZIP_DEFLATED
        assert zf.testzip() is None
    with SafeArchive.open(out) as ar:
        assert ar.sha256("include/w.bin")[0] == hashlib.sha256(big.read_bytes()).hexdigest()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_writer_refuses_bad_members(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"member '\.\./x'.*'\.\.' component"):
        write_deterministic_zip(tmp_path / "a.zip", [("../x", b"")])
    with pytest.raises(InputError, match="appears more than once"):
        write_deterministic_zip(tmp_path / "a.zip", [("x", b""), ("x", b"1")])
    with pytest.raises(InputError, match="cannot read"):
        write_deterministic_zip(tmp_path / "a.zip", [("x", tmp_path / "missing")])
    with pytest.raises(InputError, match="is not a regular file"):
        write_deterministic_zip(tmp_path / "a.zip", [("x", tmp_path)])
    assert not (tmp_path / "a.zip").exists()


def test_extract_round_trip(tmp_path: Path) -> None:
    members = {"manifest.json": b"{}", "objects/ab/cd": b"e" * 5000, "ünï/ç.txt": b"u"}
    path = write_deterministic_zip(tmp_path / "r.aitrace", list(members.items()))
    written = safe_extract(path, tmp_path / "out")
    assert len(written) == 3
    for name, content in members.items():
        assert (tmp_path / "out" / name).read_bytes() == content


def test_writer_never_writes_what_the_reader_calls_a_bomb(tmp_path: Path) -> None:
    repetitive = b'{"k": "value"}, ' * 400_000  # 6 MiB, deflates far beyond ratio 200
    path = write_deterministic_zip(tmp_path / "r.aitrace", [("big.json", repetitive),
                                                            ("small.json", b"{}" * 10)])
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("big.json").compress_type == zipfile.ZIP_STORED
        assert zf.getinfo("small.json").compress_type == zipfile.ZIP_DEFLATED
    with SafeArchive.open(path) as ar:
        assert ar.read("big.json") == repetitive
