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

def _independent_dirhash(root: Path) -> tuple[str, int, bytes]:
    """in-toto's dirHash with nothing from aitrace: os.walk + hashlib (links to files opened)."""
    lines: list[tuple[bytes, str]] = []
    size = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            full = os.path.join(dirpath, name)
            if not os.path.isfile(full):  # fifos, sockets, devices
                continue
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            data = Path(full).read_bytes()
            lines.append((rel.encode("utf-8"), hashlib.sha256(data).hexdigest()))
            size += len(data)
    listing = b"".join(f"{sha}  ".encode() + rel + b"\n" for rel, sha in sorted(lines))
    return hashlib.sha256(listing).hexdigest(), size, listing


def _spec_pipeline(root: Path, *, follow: bool = False) -> str:
    """in-toto digest_set.md's shell recipe (``find -L`` where links are to be followed)."""
    find = "find -L" if follow else "find"
    cmd = (f"{find} . -type f | cut -c3- | LC_ALL=C sort | xargs -r sha256sum | sha256sum")
    out = subprocess.run(["sh", "-c", cmd], cwd=root, capture_output=True, text=True,
                         check=True, env={**os.environ, "LC_ALL": "C"})
    return out.stdout.split()[0]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A directory every dirHash recipe agrees on: no link leaves it, no name needs escaping."""
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
    (root / "link-in").symlink_to("a/b.txt")  # followed: inside, a file
    os.mkfifo(root / "fifo")                  # not data: skipped
    return root


def test_dirhash_recomputable_independently_and_by_the_spec_pipeline(tree: Path) -> None:
    sha, size, listing = _independent_dirhash(tree)
    d = Hasher().digest(tree)
    assert (d.sha256, d.size, d.type, d.algorithm) == (sha, size, "directory", "dirHash")
    assert d.ref == f"dirHash:{sha}"
    assert d.listing == listing and hashlib.sha256(listing).hexdigest() == sha
    assert _spec_pipeline(tree, follow=True) == sha
    paths = [line.split(b"  ", 1)[1] for line in listing.splitlines()]
    assert paths == [b"B.txt", b"a-b.txt", b"a/b.txt", b"a/deep/x.csv", b"big.bin", b"empty",
                     b"link-in", "é.txt".encode()]
    # Without links, the spec's own pipeline (find -type f, links skipped) agrees as it is.
    (tree / "link-in").unlink()
    assert Hasher().digest(tree).sha256 == _spec_pipeline(tree) == _independent_dirhash(tree)[0]


def test_dirhash_of_an_empty_directory_is_sha256_of_nothing(tmp_path: Path) -> None:
    (tmp_path / "e" / "sub").mkdir(parents=True)
    d = Hasher().digest(tmp_path / "e")
    assert d.sha256 == hashlib.sha256(b"").hexdigest() == _spec_pipeline(tmp_path / "e")
    assert d.listing == b""


def test_names_with_spaces_are_listed_as_they_are(tmp_path: Path) -> None:
    root = tmp_path / "model dir"
    root.mkdir()
    (root / "weights part 1.bin").write_bytes(b"w")
    (root / "config.json").write_bytes(b"{}")
    d = Hasher().digest(root)
    assert d.listing == (f"{hashlib.sha256(b'{}').hexdigest()}  config.json\n"
                         f"{hashlib.sha256(b'w').hexdigest()}  weights part 1.bin\n").encode()
    # The NUL-separated form of the pipeline copes with spaces (the spec's xargs does not).
    out = subprocess.run(
        ["sh", "-c", "find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum"
                     " | sha256sum"], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == d.sha256


@pytest.mark.parametrize(("make", "message"), [
    (lambda r, t: (r / "out").symlink_to(t / "outside.txt"), "leaves the directory"),
    (lambda r, t: (r / "up").symlink_to("../outside.txt"), "leaves the directory"),
    (lambda r, t: (r / "dir").symlink_to("sub"), "points at a directory"),
    (lambda r, t: (r / "gone").symlink_to("nowhere"), "dangles"),
    (lambda r, t: (r / "two\nlines").write_text("x"), "control character"),
    (lambda r, t: (r / "tab\there").write_text("x"), "control character"),
    (lambda r, t: (r / "back\\slash").write_text("x"), "backslash"),
    (lambda r, t: (r / os.fsdecode(b"bad-\xff")).write_text("x"), "not valid UTF-8"),
])
def test_trees_the_recipes_would_hash_differently_are_refused(
        tmp_path: Path, make: object, message: str) -> None:
    root = tmp_path / "d"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ok.txt").write_text("ok")
    (tmp_path / "outside.txt").write_text("data outside the tree")
    make(root, tmp_path)  # type: ignore[operator]
    with pytest.raises(InputError, match=message) as info:
        Hasher().digest(root)
    assert str(root) in info.value.message and info.value.hint


def test_same_digest_with_any_worker_count_and_through_a_symlinked_root(tree: Path) -> None:
    expected = Hasher(workers=1).digest(tree)
    assert Hasher(workers=4).digest(tree) == expected
    alias = tree.parent / "alias"
    alias.symlink_to(tree)
    assert Hasher().digest(alias) == expected


def test_directory_digest_changes_with_content_and_name(tree: Path) -> None:
    base = Hasher().digest(tree).sha256
    (tree / "a" / "b.txt").write_text("c")
    changed = Hasher().digest(tree).sha256
    assert changed != base
    (tree / "a" / "deep" / "x.csv").rename(tree / "a" / "deep" / "y.csv")
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


# ----------------------------------------------------------------------------- format v1 dirs

def _independent_v1_digest(root: Path) -> tuple[str, int, dict[str, object]]:
    """Format v1's recipe, with nothing from aitrace: os.walk + hashlib + json."""
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
def v1_tree(tree: Path) -> Path:
    """``tree`` plus the links format v1 lists without following (v2 refuses them)."""
    outside = tree.parent / "outside.txt"
    outside.write_text("secret-ish data outside the tree")
    (tree / "link-dir").symlink_to("a")                # a directory: not followed
    (tree / "link-out").symlink_to(outside)            # leaves the tree: not followed
    (tree / "link-up").symlink_to("../outside.txt")    # relative escape: not followed
    (tree / "dangling").symlink_to("nowhere")
    return tree


def test_v1_directory_digest_recomputable_independently(v1_tree: Path) -> None:
    sha, size, manifest = _independent_v1_digest(v1_tree)
    legacy = Hasher(legacy_dirs=True)
    d = legacy.digest(v1_tree)
    assert (d.sha256, d.size, d.type, d.algorithm, d.listing) == (
        sha, size, "directory", "sha256", None)
    assert legacy.manifest(v1_tree) == manifest
    paths = [e["path"] for e in manifest["entries"]]  # type: ignore[index]
    assert paths == ["B.txt", "a-b.txt", "a/b.txt", "a/deep/x.csv", "big.bin", "dangling",
                     "empty", "link-dir", "link-in", "link-out", "link-up", "é.txt"]
    by_path = {e["path"]: e for e in manifest["entries"]}  # type: ignore[index]
    assert by_path["link-in"]["sha256"] == hashlib.sha256(b"b").hexdigest()
    assert by_path["link-out"] == {"path": "link-out",
                                   "symlink": str(v1_tree.parent / "outside.txt")}
    assert by_path["link-up"] == {"path": "link-up", "symlink": "../outside.txt"}
    assert by_path["link-dir"] == {"path": "link-dir", "symlink": "a"}


def test_v1_directory_digest_changes_with_a_link_target(v1_tree: Path) -> None:
    legacy = Hasher(legacy_dirs=True)
    base = legacy.digest(v1_tree).sha256
    (v1_tree / "link-out").unlink()
    (v1_tree / "link-out").symlink_to("/etc/hostname")
    assert legacy.digest(v1_tree).sha256 != base


def test_non_utf8_file_name_is_an_input_error_in_v1_too(tmp_path: Path) -> None:
    root = tmp_path / "d"
    root.mkdir()
    (root / os.fsdecode(b"bad-\xff")).write_text("x")
    with pytest.raises(InputError, match="not valid UTF-8"):
        Hasher(legacy_dirs=True).digest(root)


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
