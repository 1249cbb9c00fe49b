"""The hostile-archive suite: every unsafe ZIP is refused with a message naming the member, and
``safe_extract`` writes nothing — inside or outside its target — for any of them."""

from __future__ import annotations

import os
import stat
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from aitrace.bundle._zip.extract import safe_extract
from aitrace.bundle._zip.limits import ArchiveLimits
from aitrace.bundle._zip.reader import SafeArchive
from aitrace.errors import InputError, InvalidBundle
from aitrace.record.jsonio import parse_untrusted
from tests.helpers.zip_forge import Entry, Forge, deflate

MiB = 1024 * 1024


def _mode(kind: int) -> int:
    return (kind | 0o644) << 16


# name -> (archive bytes, expected message fragment, limits or None)
HOSTILE: dict[str, tuple[bytes, str, ArchiveLimits | None]] = {
    "traversal": (Forge([Entry("../evil.txt", b"x")]).build(),
                  "member '../evil.txt' has a '..' component (path traversal)", None),
    "traversal-inner": (Forge([Entry("a/../../evil.txt", b"x")]).build(),
                        "member 'a/../../evil.txt' has a '..' component", None),
    "absolute": (Forge([Entry("/tmp/evil.txt", b"x")]).build(),
                 "member '/tmp/evil.txt' is an absolute path", None),
    "backslash": (Forge([Entry("..\\evil.txt", b"x")]).build(),
                  "uses a backslash in its name", None),
    "drive-letter": (Forge([Entry("C:/evil.txt", b"x")]).build(),
                     "member 'C:/evil.txt' starts with a drive letter", None),
    "dot-component": (Forge([Entry("a/./b", b"x")]).build(), "has a '.' component", None),
    "empty-component": (Forge([Entry("a//b", b"x")]).build(), "has an empty path component",
                        None),
    "empty-name": (Forge([Entry("", b"x")]).build(), "has an empty name", None),
    "nul-in-name": (Forge([Entry("a\x00.txt", b"x")]).build(),
                    "has a control character U+0000 in its name", None),
    "newline-in-name": (Forge([Entry("a\n.txt", b"x")]).build(),
                        "has a control character U+000A", None),
    "symlink": (Forge([Entry("link", b"/etc/passwd", external_attr=_mode(stat.S_IFLNK))]).build(),
                "member 'link' is a symbolic link, not a regular file", None),
    "directory-entry": (Forge([Entry("dir/", b"")]).build(), "member 'dir/' is a directory entry",
                        None),
    "dos-directory": (Forge([Entry("dir", b"", create_system=0, external_attr=0x10)]).build(),
                      "member 'dir' is a directory", None),
    "char-device": (Forge([Entry("tty", b"", external_attr=_mode(stat.S_IFCHR))]).build(),
                    "member 'tty' is a character device", None),
    "block-device": (Forge([Entry("sda", b"", external_attr=_mode(stat.S_IFBLK))]).build(),
                     "member 'sda' is a block device", None),
    "fifo": (Forge([Entry("pipe", b"", external_attr=_mode(stat.S_IFIFO))]).build(),
             "member 'pipe' is a FIFO", None),
    "duplicate": (Forge([Entry("manifest.json", b"{}"), Entry("manifest.json", b"[]")]).build(),
                  "member 'manifest.json' appears more than once", None),
    "case-collision": (Forge([Entry("Model.bin", b"a"), Entry("model.bin", b"b")]).build(),
                       "member 'model.bin' collides with 'Model.bin'", None),
    "nfc-collision": (Forge([Entry("caf\u00e9", b"a"), Entry("cafe\u0301", b"b")]).build(),
                      "collides with", None),
    "file-and-directory": (Forge([Entry("a", b"x"), Entry("a/b", b"y")]).build(),
                           "member 'a' is a file but 'a/b' needs it to be a directory", None),
    "encrypted": (Forge([Entry("secret.json", b"x", flags=0x1)]).build(),
                  "member 'secret.json' is encrypted", None),
    "bzip2": (Forge([Entry("a.json", b"x", method=12)]).build(),
              "member 'a.json' uses unsupported compression method 12", None),
    "non-utf8-name": (Forge([Entry(b"caf\x82.txt", b"x", flags=0)]).build(),
                      "has a non-UTF-8 name", None),
    "invalid-utf8-with-flag": (Forge([Entry(b"caf\xff.txt", b"x", flags=0x800)]).build(),
                               "has a name that is not valid UTF-8", None),
    "bomb-by-ratio": (Forge([Entry("zeros.bin", b"\0" * (8 * MiB), method=8)]).build(),
                      "member 'zeros.bin' would inflate", None),
    "bomb-by-declared-size": (Forge([Entry("big.bin", b"x" * 2000)]).build(),
                              "member 'big.bin' declares 2000 bytes, over the per-member limit",
                              ArchiveLimits(max_member_size=1000)),
    "bomb-by-total-size": (Forge([Entry(f"m{i}", b"x" * 400) for i in range(5)]).build(),
                           "members total more than 1000 bytes", ArchiveLimits(
                               max_total_size=1000)),
    "too-many-members": (Forge([Entry(f"e/{i:05d}", b"") for i in range(10_000)]).build(),
                         "has 10000 members, over the limit of 5000", None),
    "stored-size-lie": (Forge([Entry("a", b"abc", usize=10)]).build(),
                        "is stored but declares 3 compressed and 10 uncompressed", None),
    "local-name-mismatch": (Forge([Entry("safe.txt", b"x", local_name=b"../evil")]).build(),
                            "member 'safe.txt' has a different name in its local header", None),
    "local-method-mismatch": (Forge([Entry("a", b"x", local_method=8)]).build(),
                              "has a local header that disagrees", None),
    "overlap": (Forge([Entry("a", b"x" * 100), Entry("b", b"x" * 100, header_of=0)]).build(),
                "has a different name in its local header", None),
    "overlap-span": (Forge([Entry("a", b"x" * 10, csize=10 + 31 + 10, usize=51),
                            Entry("b", b"y" * 10)]).build(),
                     "overlap", None),
    "entry-count-lie": (Forge([Entry("a", b"x"), Entry("b", b"y")], count=1).build(),
                        "holding more than its 1 declared entries", None),
    "not-a-zip": (b"hello, I am not an archive" * 10, "is not a ZIP archive", None),
    "empty-file": (b"", "is not a ZIP archive (too short)", None),
    "truncated": (Forge([Entry("a", b"x" * 1000)]).build()[:700], "is not a ZIP archive", None),
    "trailing-data": (Forge([Entry("a", b"x")], trailing=b"junk").build(),
                      "is not a ZIP archive", None),
    "prepended-data-shifted": (b"MZ" + Forge([Entry("a", b"x")]).build(),
                               "has a central directory that is not where its end record says",
                               None),
    "cd-points-to-junk": (b"XXXX" + Forge([Entry("a", b"x")]).build()[4:],
                          "member 'a' has no local header where the central directory points",
                          None),
    "bad-zip64-extra": (Forge([Entry("a", b"x", extra=b"\x01\x00\x10\x00abc")]).build(),
                        "member 'a' has a damaged extra field", None),
}


@pytest.fixture(params=sorted(HOSTILE))
def hostile(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str, ArchiveLimits]:
    data, message, limits = HOSTILE[request.param]
    path = tmp_path / "box" / f"{request.param}.aitrace"
    path.parent.mkdir()
    path.write_bytes(data)
    return path, message, limits or ArchiveLimits()


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_hostile_archive_is_rejected_with_its_message(
        hostile: tuple[Path, str, ArchiveLimits]) -> None:
    path, message, limits = hostile
    def read_all() -> None:
        with SafeArchive.open(path, limits) as ar:
            for name in ar.names():
                ar.read(name)

    with pytest.raises(InvalidBundle) as err:
        read_all()
    assert message in err.value.message
    assert err.value.message.startswith(str(path))
    assert err.value.hint


def test_safe_extract_writes_nothing_for_a_hostile_archive(
        hostile: tuple[Path, str, ArchiveLimits], tmp_path: Path) -> None:
    path, message, limits = hostile
    before = _snapshot(tmp_path)
    dest = tmp_path / "box" / "out"
    with pytest.raises(InvalidBundle, match="."):
        safe_extract(path, dest, limits)
    after = _snapshot(tmp_path)
    assert after - before <= {"box/out"}
    assert not dest.exists() or not any(dest.iterdir())


# ----------------------------------------------------------------- lies found while reading


def _lying_deflate(tmp_path: Path, actual: bytes, declared: int) -> Path:
    path = tmp_path / "lie.aitrace"
    path.write_bytes(Forge([Entry("steps/1.json", actual, method=8, usize=declared)]).build())
    return path


def test_lying_size_header_cannot_bomb_memory(tmp_path: Path) -> None:
    path = _lying_deflate(tmp_path, b"\0" * (64 * MiB), declared=100)
    with SafeArchive.open(path) as ar:
        tracemalloc.start()
        try:
            with pytest.raises(InvalidBundle, match="inflates beyond its declared size of 100"):
                ar.read("steps/1.json")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 8 * MiB


def test_lying_size_header_leaves_no_partial_file(tmp_path: Path) -> None:
    path = _lying_deflate(tmp_path, b"\0" * MiB, declared=500)
    dest = tmp_path / "out"
    with pytest.raises(InvalidBundle, match="inflates beyond"):
        safe_extract(path, dest)
    assert [p for p in dest.rglob("*") if p.is_file()] == []


def test_short_member_is_detected(tmp_path: Path) -> None:
    path = _lying_deflate(tmp_path, b"abc" * 10, declared=31)
    with SafeArchive.open(path) as ar, pytest.raises(InvalidBundle,
                                                     match="holds 30 bytes but declares 31"):
        ar.read("steps/1.json")


def test_crc_mismatch_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "crc.aitrace"
    path.write_bytes(Forge([Entry("a.json", b"{}", crc=zlib.crc32(b"[]"))]).build())
    with SafeArchive.open(path) as ar, pytest.raises(InvalidBundle, match="fails its CRC-32"):
        ar.sha256("a.json")


def test_corrupt_and_truncated_deflate(tmp_path: Path) -> None:
    good = deflate(b"hello world" * 100)
    path = tmp_path / "c.aitrace"
    path.write_bytes(Forge([
        Entry("corrupt", b"hello world" * 100, method=8, data=b"\xff" * len(good)),
        Entry("truncated", b"hello world" * 100, method=8, data=good[:5]),
        Entry("trailing", b"hi", method=8, data=deflate(b"hi") + b"extra"),
    ]).build())
    with SafeArchive.open(path) as ar:
        with pytest.raises(InvalidBundle, match="member 'corrupt' has corrupt deflate data"):
            ar.read("corrupt")
        with pytest.raises(InvalidBundle, match="member 'truncated' has truncated deflate"):
            ar.read("truncated")
        with pytest.raises(InvalidBundle, match="member 'trailing' has data after the end"):
            ar.read("trailing")


# ----------------------------------------------------------------- JSON members


def _json_archive(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "j.aitrace"
    path.write_bytes(Forge([Entry("manifest.json", data, method=8)]).build())
    return path


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[" * 65 + b"]" * 65, "nests JSON deeper than 64 levels"),
        (b'{"a":' * 100_000, "nests JSON deeper than 64 levels"),
        (b'{"a": 1, "a": 2}', "repeats the key 'a'"),
        (b'{"a": NaN}', "uses NaN, which is not JSON"),
        (b'{"a": Infinity}', "uses Infinity"),
        (b"\xff\xfe{}", "is not UTF-8"),
        (b'{"a": 1', "is not valid JSON"),
        (b"1" * 5000, "is not valid JSON"),  # beyond Python's int digit limit
    ],
)
def test_hostile_json(tmp_path: Path, data: bytes, message: str) -> None:
    with SafeArchive.open(_json_archive(tmp_path, data)) as ar, pytest.raises(
            InvalidBundle, match=message) as err:
        ar.read_json("manifest.json")
    assert "member 'manifest.json'" in err.value.message


def test_json_depth_scan_ignores_brackets_inside_strings() -> None:
    doc = b'{"a": "' + b"[" * 1000 + b'\\"{{{", "b": [[1]]}'
    assert parse_untrusted(doc, "x") == {"a": "[" * 1000 + '"{{{', "b": [[1]]}


def test_json_scan_is_linear_on_unterminated_escaped_strings() -> None:
    doc = b'"' + b'\\"' * 500_000
    with pytest.raises(InvalidBundle, match="is not valid JSON"):
        parse_untrusted(doc, "x")  # quadratic scanning would take minutes


def test_json_over_size_limit(tmp_path: Path) -> None:
    limits = ArchiveLimits(max_json_size=10)
    with SafeArchive.open(_json_archive(tmp_path, b'{"a": "0123456789"}'), limits) as ar, \
            pytest.raises(InvalidBundle, match="over the 10-byte limit"):
        ar.read_json("manifest.json")


# ----------------------------------------------------------------- extraction


def _good_archive(tmp_path: Path) -> Path:
    path = tmp_path / "good.aitrace"
    path.write_bytes(Forge([Entry("a/b/c.txt", b"c"), Entry("top.json", b"{}", method=8)]).build())
    return path


def test_extract_through_a_planted_symlink_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "a").symlink_to(outside)
    with pytest.raises(InputError, match="not a directory .a link or a file."):
        safe_extract(_good_archive(tmp_path), dest)
    assert list(outside.iterdir()) == []


def test_extract_refuses_existing_files_before_writing_anything(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "top.json").write_text("mine")
    with pytest.raises(InputError, match="top.json already exists"):
        safe_extract(_good_archive(tmp_path), dest)
    assert not (dest / "a").exists()
    assert (dest / "top.json").read_text() == "mine"
    written = safe_extract(_good_archive(tmp_path), dest, overwrite=True)
    assert (dest / "top.json").read_text() == "{}"
    assert [p.relative_to(dest.resolve()).as_posix() for p in written] == ["a/b/c.txt",
                                                                           "top.json"]


def test_extracted_files_are_0644_regardless_of_archive_mode(tmp_path: Path) -> None:
    path = tmp_path / "x.aitrace"
    path.write_bytes(Forge([Entry("run.sh", b"#!/bin/sh", external_attr=(0o104777 << 16))]
                           ).build())
    old = os.umask(0o077)
    try:
        [out] = safe_extract(path, tmp_path / "dest")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_reading_a_missing_member_and_a_missing_archive(tmp_path: Path) -> None:
    with SafeArchive.open(_good_archive(tmp_path)) as ar:
        with pytest.raises(InvalidBundle, match="has no member 'nope'"):
            ar.read("nope")
        assert "top.json" in ar
    with pytest.raises(InputError, match="does not exist"):
        SafeArchive.open(tmp_path / "missing.aitrace")
    with pytest.raises(InputError, match="is not a regular file"):
        SafeArchive.open(tmp_path)


def test_python_zipfile_archives_with_directories_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "z.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.mkdir("d")
        zf.writestr("d/f", b"x")
    with pytest.raises(InvalidBundle, match="member 'd/' is a directory entry"):
        SafeArchive.open(path)


def test_a_crc_error_in_the_last_member_leaves_no_file(tmp_path: Path) -> None:
    """All or nothing: 29 good members are not left behind when the 30th is damaged."""
    entries = [Entry(f"objects/{i:02d}.json", b'{"n": %d}' % i, method=8) for i in range(29)]
    entries.append(Entry("z-last.json", b'{"last": true}', method=8, crc=zlib.crc32(b"other")))
    path = tmp_path / "crc-last.aitrace"
    path.write_bytes(Forge(entries).build())
    dest = tmp_path / "out"
    with pytest.raises(InvalidBundle, match="member 'z-last.json' fails its CRC-32 check"):
        safe_extract(path, dest)
    assert list(dest.rglob("*")) == []


def test_a_failed_unpack_keeps_existing_files_and_the_cli_exits_2(tmp_path: Path) -> None:
    from aitrace.cli import main

    entries = [Entry("a/one.json", b"{}"), Entry("b.json", b"[]", crc=0)]
    path = tmp_path / "bad.aitrace"
    path.write_bytes(Forge(entries).build())
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep")
    assert main(["unpack", str(path), "-d", str(dest)]) == 2
    assert sorted(p.name for p in dest.rglob("*")) == ["mine.txt"]
