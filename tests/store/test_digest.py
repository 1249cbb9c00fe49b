"""File and directory digests, recomputed independently, and the digest cache's guarantees."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

import aitrace.store.digest as digest_mod
from aitrace.errors import InputError
from aitrace.store.digest import CHUNK, DigestCache, Hasher


class CountingHash:
    """Wraps ``aitrace.digest.hash_file`` to count which files were really read."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        real = digest_mod.hash_file

        def counting(path: Path, buf: bytearray | None = None) -> tuple[str, int]:
            self.calls.append(Path(path).name)
            return real(path, buf)

        monkeypatch.setattr(digest_mod, "hash_file", counting)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> CountingHash:
    return CountingHash(monkeypatch)


@pytest.fixture
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let files written a moment ago be cached (tests never sleep out the real window)."""
    monkeypatch.setattr(digest_mod, "RACY_WINDOW_NS", 0)


def _settle(path: Path) -> None:
    """Spin (no sleep) until the clock has passed the file's timestamps."""
    st = path.stat()
    while time.time_ns() <= max(st.st_mtime_ns, st.st_ctime_ns):
        pass


# ----------------------------------------------------------------------------- files

@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 7])
def test_file_digest_matches_hashlib_and_sha256sum(tmp_path: Path, size: int) -> None:
    path = tmp_path / "f.bin"
    data = os.urandom(size)
    path.write_bytes(data)
    d = Hasher().digest(path)
    assert d.type == "file" and d.size == size
    assert d.sha256 == hashlib.sha256(data).hexdigest()
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    assert d.ref == "sha256:" + out.stdout.split()[0]


def test_missing_and_dangling_inputs_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"input not found: .*nope\.csv") as info:
        Hasher().digest(tmp_path / "nope.csv")
    assert info.value.hint
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    with pytest.raises(InputError, match="dangling symlink"):
        Hasher().digest(tmp_path / "dangling")


# ----------------------------------------------------------------------------- directories

def _independent_dir_digest(root: Path) -> tuple[str, int, dict[str, object]]:
    """The README's recipe, with nothing from aitrace: os.walk + hashlib + json."""
    real_root = os.path.realpath(root)
    entries: list[dict[str, object]] = []
    size = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if os.path.islink(full):
                target = os.path.realpath(full)
                if target.startswith(real_root + "/") and os.path.isfile(target):
                    data = Path(target).read_bytes()
                    entries.append({"path": rel, "sha256": hashlib.sha256(data).hexdigest(),
                                    "size": len(data)})
                    size += len(data)
                else:
                    entries.append({"path": rel, "symlink": os.readlink(full)})
            elif os.path.isfile(full):
                data = Path(full).read_bytes()
                entries.append({"path": rel, "sha256": hashlib.sha256(data).hexdigest(),
                                "size": len(data)})
                size += len(data)
    entries.sort(key=lambda e: str(e["path"]).encode("utf-8"))
    manifest = {"format": "aitrace.dir/v1", "entries": entries}
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           allow_nan=False).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest(), size, manifest


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "a" / "deep").mkdir(parents=True)
    (root / "a" / "deep" / "x.csv").write_bytes(b"1,2\n")
    (root / "a-b.txt").write_text("dash sorts before slash")
    (root / "a" / "b.txt").write_text("b")
    (root / "B.txt").write_text("upper case first")
    (root / "é.txt").write_text("utf-8 name")
    (root / "empty").write_bytes(b"")
    (root / "big.bin").write_bytes(os.urandom(2 * CHUNK + 3))
    (root / "emptydir").mkdir()
    (tmp_path / "outside.txt").write_text("secret-ish data outside the tree")
    (root / "link-in").symlink_to("a/b.txt")                 # followed: inside, a file
    (root / "link-dir").symlink_to("a")                     # a directory: not followed
    (root / "link-out").symlink_to(tmp_path / "outside.txt")  # leaves the tree: not followed
    (root / "link-up").symlink_to("../outside.txt")          # relative escape: not followed
    (root / "dangling").symlink_to("nowhere")
    os.mkfifo(root / "fifo")                                  # not data: skipped
    return root


def test_directory_digest_recomputable_independently(tree: Path) -> None:
    sha, size, manifest = _independent_dir_digest(tree)
    d = Hasher().digest(tree)
    assert (d.sha256, d.size, d.type) == (sha, size, "directory")
    assert Hasher().manifest(tree) == manifest
    paths = [e["path"] for e in manifest["entries"]]  # type: ignore[index]
    assert paths == ["B.txt", "a-b.txt", "a/b.txt", "a/deep/x.csv", "big.bin", "dangling",
                     "empty", "link-dir", "link-in", "link-out", "link-up", "é.txt"]
    by_path = {e["path"]: e for e in manifest["entries"]}  # type: ignore[index]
    assert by_path["link-in"]["sha256"] == hashlib.sha256(b"b").hexdigest()
    assert by_path["link-out"] == {"path": "link-out", "symlink": str(tree.parent / "outside.txt")}
    assert by_path["link-up"] == {"path": "link-up", "symlink": "../outside.txt"}
    assert by_path["link-dir"] == {"path": "link-dir", "symlink": "a"}


def test_same_digest_with_any_worker_count_and_through_a_symlinked_root(tree: Path) -> None:
    expected = Hasher(workers=1).digest(tree)
    assert Hasher(workers=4).digest(tree) == expected
    alias = tree.parent / "alias"
    alias.symlink_to(tree)
    assert Hasher().digest(alias) == expected


def test_directory_digest_changes_with_content_name_and_link_target(tree: Path) -> None:
    base = Hasher().digest(tree).sha256
    (tree / "link-out").unlink()
    (tree / "link-out").symlink_to("/etc/hostname")
    repointed = Hasher().digest(tree).sha256
    assert repointed != base
    (tree / "a" / "b.txt").write_text("c")
    changed = Hasher().digest(tree).sha256
    assert changed not in (base, repointed)
    (tree / "a" / "b.txt").rename(tree / "a" / "c.txt")
    assert Hasher().digest(tree).sha256 != changed


def test_digest_many_mixes_files_and_directories(tree: Path) -> None:
    f = tree / "big.bin"
    out = Hasher().digest_many([f, tree, f])
    assert [d.type for d in out] == ["file", "directory", "file"]
    assert out[0] == out[2] == Hasher().digest(f)
    assert out[1] == Hasher().digest(tree)


def test_progress_observer_reaches_the_total(tree: Path) -> None:
    seen: list[tuple[int, int]] = []
    d = Hasher(progress=lambda done, total: seen.append((done, total))).digest(tree)
    done, total = seen[-1]
    # Every file's bytes counted once (the in-tree link's target is read once, listed twice).
    assert done == total == d.size - len("b")
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)


def test_non_utf8_file_name_is_an_input_error(tmp_path: Path) -> None:
    root = tmp_path / "d"
    root.mkdir()
    (root / os.fsdecode(b"bad-\xff")).write_text("x")
    with pytest.raises(InputError, match="not valid UTF-8"):
        Hasher().digest(root)


# ----------------------------------------------------------------------------- cache

def test_unchanged_file_served_from_cache(tmp_path: Path, counting: CountingHash,
                                          no_racy_window: None) -> None:
    f = tmp_path / "data.csv"
    f.write_bytes(b"x" * 5000)
    _settle(f)
    db = tmp_path / "cache.sqlite"
    first = Hasher(cache=DigestCache(db)).digest(f)
    assert counting.calls == ["data.csv"]
    # A new process would open a new cache object on the same file.
    second = Hasher(cache=DigestCache(db)).digest(f)
    assert second == first
    assert counting.calls == ["data.csv"]


def test_unchanged_directory_served_from_cache_and_one_change_rehashes_one(
        tree: Path, counting: CountingHash, no_racy_window: None) -> None:
    db = tree.parent / "cache.sqlite"
    _settle(tree / "big.bin")
    first = Hasher(cache=DigestCache(db)).digest(tree)
    n_files = len(counting.calls)
    assert n_files == 7  # regular files + the in-tree link's target, each read once
    assert Hasher(cache=DigestCache(db)).digest(tree) == first
    assert len(counting.calls) == n_files
    (tree / "a" / "deep" / "x.csv").write_bytes(b"3,4\n")
    _settle(tree / "a" / "deep" / "x.csv")
    changed = Hasher(cache=DigestCache(db)).digest(tree)
    assert changed.sha256 != first.sha256
    assert counting.calls[n_files:] == ["x.csv"]
    assert changed == Hasher().digest(tree)  # the cached result equals a fresh one


def test_same_size_rewrite_with_restored_mtime_is_not_served_stale(
        tmp_path: Path, counting: CountingHash, no_racy_window: None) -> None:
    f = tmp_path / "model.bin"
    f.write_bytes(b"A" * 4096)
    _settle(f)
    cache = DigestCache(tmp_path / "cache.sqlite")
    old = Hasher(cache=cache).digest(f)
    st = f.stat()
    # Rewrite in place (same inode, same size) and put the old mtime back, until the
    # filesystem clock has ticked so that only ctime can tell (no sleep: ~1 jiffy).
    while True:
        with open(f, "r+b") as fh:
            fh.write(b"B" * 4096)
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
        new_st = f.stat()
        if new_st.st_ctime_ns != st.st_ctime_ns:
            break
    assert (new_st.st_ino, new_st.st_size, new_st.st_mtime_ns) == \
        (st.st_ino, st.st_size, st.st_mtime_ns)
    new = Hasher(cache=cache).digest(f)
    assert new.sha256 == hashlib.sha256(b"B" * 4096).hexdigest() != old.sha256
    assert counting.calls == ["model.bin", "model.bin"]


def test_replaced_file_with_same_size_and_mtime_is_not_served_stale(
        tmp_path: Path, counting: CountingHash, no_racy_window: None) -> None:
    f = tmp_path / "w.bin"
    f.write_bytes(b"1" * 100)
    _settle(f)
    cache = DigestCache(tmp_path / "cache.sqlite")
    Hasher(cache=cache).digest(f)
    st = f.stat()
    tmp = tmp_path / "w.tmp"
    tmp.write_bytes(b"2" * 100)
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, f)  # a new inode under the old name
    assert Hasher(cache=cache).digest(f).sha256 == hashlib.sha256(b"2" * 100).hexdigest()
    assert len(counting.calls) == 2


def test_racy_window_respected(tmp_path: Path, counting: CountingHash) -> None:
    """A file modified within the window before hashing started is never remembered."""
    f = tmp_path / "fresh.csv"
    f.write_bytes(b"just written")
    cache = DigestCache(tmp_path / "cache.sqlite")
    Hasher(cache=cache).digest(f)
    Hasher(cache=cache).digest(f)
    assert counting.calls == ["fresh.csv", "fresh.csv"]
    rows = sqlite3.connect(tmp_path / "cache.sqlite").execute(
        "SELECT count(*) FROM digests").fetchone()
    assert rows == (0,)


def test_racy_window_boundary(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    st = f.stat()
    newest = max(st.st_mtime_ns, st.st_ctime_ns)
    cache = DigestCache(tmp_path / "c.sqlite")
    cache.put(str(f), st, "0" * 64, newest + digest_mod.RACY_WINDOW_NS - 1)
    assert cache.get(str(f), st) is None
    cache.put(str(f), st, "0" * 64, newest + digest_mod.RACY_WINDOW_NS)
    assert cache.get(str(f), st) == "0" * 64


@pytest.mark.parametrize("garbage", [b"this is not a database" * 100, b""])
def test_corrupt_cache_is_ignored_not_fatal(tmp_path: Path, counting: CountingHash,
                                            no_racy_window: None, garbage: bytes) -> None:
    f = tmp_path / "d.csv"
    f.write_bytes(b"abc")
    db = tmp_path / "cache.sqlite"
    db.write_bytes(garbage)
    d = Hasher(cache=DigestCache(db)).digest(f)
    assert d.sha256 == hashlib.sha256(b"abc").hexdigest()
    if garbage:
        Hasher(cache=DigestCache(db)).digest(f)
        assert len(counting.calls) == 2  # no cache, but no failure either


def test_cache_in_unwritable_place_is_ignored(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    f = tmp_path / "d.csv"
    f.write_bytes(b"abc")
    d = Hasher(cache=DigestCache(blocker / "sub" / "cache.sqlite")).digest(f)
    assert d.sha256 == hashlib.sha256(b"abc").hexdigest()


def test_cache_key_is_the_real_path(tmp_path: Path, counting: CountingHash,
                                    no_racy_window: None) -> None:
    f = tmp_path / "real.csv"
    f.write_bytes(b"abc")
    _settle(f)
    (tmp_path / "alias.csv").symlink_to(f)
    cache = DigestCache(tmp_path / "cache.sqlite")
    Hasher(cache=cache).digest(f)
    Hasher(cache=cache).digest(tmp_path / "alias.csv")
    assert counting.calls == ["real.csv"]


def test_error_in_a_worker_thread_reaches_the_caller(tree: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real = digest_mod.hash_file

    def vanishing(path: Path, buf: bytearray | None = None) -> tuple[str, int]:
        if Path(path).name == "x.csv":
            raise FileNotFoundError(path)
        return real(path, buf)

    monkeypatch.setattr(digest_mod, "hash_file", vanishing)
    with pytest.raises(InputError, match=r"x\.csv \(removed while hashing\)"):
        Hasher(workers=2).digest(tree)
