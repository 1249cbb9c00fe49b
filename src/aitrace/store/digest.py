r"""Streaming, parallel, cached SHA-256 of files and directories — the hot path.

*File digest*: SHA-256 of the file's bytes, read in 1 MiB chunks into one reused buffer
(hashlib releases the GIL on large updates, so threads hash different files on both cores).

*Directory digest, format v2* (README "Formats"): in-toto's ``dirHash`` — the SHA-256, in
lowercase hex, of the *listing*: one line ``"<sha256 hex>  <relative path>\n"`` per regular file,
sorted by the UTF-8 bytes of the slash-separated relative path (Go's ``dirhash.Hash1`` without its
``h1:`` and base64; the spec's ``find . -type f | cut -c3- | LC_ALL=C sort | xargs -r sha256sum |
sha256sum``). The listing is returned with the digest, so the record can store it as the
evidence object addressed by that very digest. Where the two published recipes disagree the
tree is refused, so every directory aitrace accepts hashes the same under both:

* a symlink to a regular file inside the tree is hashed as that file under the link's name (Go
  opens links; ``find -L`` follows them); a link that leaves the tree, dangles or points at a
  directory is refused (the folder alone could not be re-hashed);
* a name holding a newline (the listing cannot express it; Go refuses it too), another control
  character or a backslash (GNU ``sha256sum`` escapes such names, so the shell recipe would
  differ) or bytes that are not UTF-8 (the record names files in JSON text) is refused;
* sockets, FIFOs and devices are not files and are skipped (``find -type f``); empty
  directories leave no trace in the listing.

*Directory digest, format v1* (``legacy_dirs=True``, for workspaces not yet migrated): the SHA-256
of the canonical JSON of ``{"format": "aitrace.dir/v1", "entries": [{"path", "sha256", "size"}
...]}`` with entries sorted by path bytes; a symlink that leaves the tree (or points at a
directory) is listed as ``{"path": ..., "symlink": "<target text>"}`` and never followed.

*Cache*: an SQLite table keyed by (absolute path, device, inode, size, mtime_ns, ctime_ns). An
entry is trusted only if the file's mtime is older than the moment hashing started by more than
the filesystem timestamp granularity, so a write racing the hash is never served from cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aitrace.errors import InputError
from aitrace.record.dirhash import listing_bytes
from aitrace.record.jsonio import legacy_canonical_bytes
from aitrace.record.refs import DIR_HASH, SHA256, DigestAlgorithm

CHUNK = 1 << 20
DIR_FORMAT = "aitrace.dir/v1"
"""aitrace's own directory manifest format (format v1 records only)."""
# A cached digest is trusted only if the file was last modified this long before hashing began.
RACY_WINDOW_NS = 50_000_000

Progress = Callable[[int, int], None]
"""Observer called with (bytes done, bytes total); the CLI renders it, the library never does."""


@dataclass(frozen=True)
class Digest:
    """The identity of a file or directory as the record stores it.

    ``sha256`` is always a SHA-256 in hex: of a file's bytes, of a directory's listing (its
    in-toto ``dirHash``; ``algorithm`` says ``dirHash``), or — format v1 — of a directory's
    ``aitrace.dir/v1`` manifest.
    """

    sha256: str
    size: int
    type: Literal["file", "directory"]
    algorithm: DigestAlgorithm = SHA256
    listing: bytes | None = None
    """A v2 directory's listing: the bytes whose SHA-256 is its dirHash."""

    @property
    def ref(self) -> str:
        """``sha256:<hex>`` or ``dirHash:<hex>``, the form printed by ``aitrace digest``."""
        return f"{self.algorithm}:{self.sha256}"


def hash_file(path: Path, buf: bytearray | None = None) -> tuple[str, int]:
    """SHA-256 and size of one file, streamed."""
    h = hashlib.sha256()
    view = memoryview(buf if buf is not None else bytearray(CHUNK))
    size = 0
    with open(path, "rb", buffering=0) as fh:
        while True:
            n = fh.readinto(view)  # type: ignore[attr-defined]
            if not n:
                break
            h.update(view[:n])
            size += n
    return h.hexdigest(), size


class DigestCache:
    """Digests of unchanged files, so re-recording never re-hashes them."""

    # Keys per range query (bounds how many unrelated rows a range can sweep in).
    _BATCH = 2000

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._disabled = False

    def _db(self) -> sqlite3.Connection | None:
        if self._disabled:
            return None
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, dev INTEGER,"
                    " ino INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER,"
                    " sha256 TEXT)")
            except (sqlite3.Error, OSError):
                # A damaged cache is only a lost speed-up: never fail the user's step for it.
                self._disabled = True
                return None
            self._local.db = db
        return db

    def get(self, path: str, st: os.stat_result) -> str | None:
        """The cached digest if the file is provably unchanged since it was hashed."""
        return self.get_many([(path, st)]).get(path)

    def get_many(self, items: Sequence[tuple[str, os.stat_result]]) -> dict[str, str]:
        """Cached digests of the files (by absolute path) that are provably unchanged.

        Keys are looked up in sorted batches, each one range scan of the primary key: a
        directory's files are adjacent in the index, so re-recording costs one stat per file.
        """
        db = self._db()
        if db is None or not items:
            return {}
        want = {path: (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                for path, st in items}
        keys = sorted(want)
        out: dict[str, str] = {}
        query = ("SELECT path, dev, ino, size, mtime_ns, ctime_ns, sha256 FROM digests"
                 " WHERE path >= ? AND path <= ?")
        try:
            for i in range(0, len(keys), self._BATCH):
                batch = keys[i:i + self._BATCH]
                for path, dev, ino, size, mtime, ctime, sha in db.execute(
                        query, (batch[0], batch[-1])):
                    if want.get(path) == (dev, ino, size, mtime, ctime):
                        out[path] = str(sha)
        except sqlite3.Error:
            return {}
        return out

    def put(self, path: str, st: os.stat_result, sha256: str, started_ns: int) -> None:
        """Remember a digest unless the file changed too recently to be sure of it."""
        self.put_many([(path, st, sha256)], started_ns)

    def put_many(self, items: Iterable[tuple[str, os.stat_result, str]],
                 started_ns: int) -> None:
        """Remember digests (one transaction), skipping files changed too recently.

        ``started_ns`` is when the stat results were taken (before hashing); a file modified
        within ``RACY_WINDOW_NS`` of it may have changed again within the same timestamp tick.
        """
        rows = [(path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, sha)
                for path, st, sha in items
                if max(st.st_mtime_ns, st.st_ctime_ns) <= started_ns - RACY_WINDOW_NS]
        db = self._db()
        if db is None or not rows:
            return
        try:
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO digests VALUES (?,?,?,?,?,?,?)", rows)
            db.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")


@dataclass(slots=True)
class _Entry:
    rel: str
    path: str  # the real (symlink-free, absolute) path: what is read and the cache key
    size: int
    st: os.stat_result | None = None
    symlink: str | None = None
    sha256: str | None = None


def _walk(root: Path) -> list[_Entry]:
    """Regular files under ``root`` (symlinks followed only inside it), unsorted."""
    real_root = os.path.realpath(root)
    inside_prefix = real_root.rstrip("/") + "/"
    out: list[_Entry] = []
    # Walking the real root and never descending into linked directories keeps every
    # path below symlink-free, so no per-file realpath() is needed.
    stack: list[tuple[str, str]] = [(real_root, "")]
    while stack:
        current, prefix = stack.pop()
        try:
            it = os.scandir(current)
        except OSError as exc:
            raise InputError(f"cannot read directory {current}: {exc.strerror}",
                             hint="check its permissions") from None
        with it:
            for e in it:
                rel = prefix + e.name
                if e.is_symlink():
                    target = os.readlink(e.path)
                    resolved = os.path.realpath(e.path)
                    st: os.stat_result | None = None
                    if resolved.startswith(inside_prefix):
                        with contextlib.suppress(OSError):
                            st = os.stat(resolved)
                    if st is not None and stat.S_ISREG(st.st_mode):
                        out.append(_Entry(rel, resolved, st.st_size, st))
                    else:
                        out.append(_Entry(rel, e.path, 0, symlink=target))
                elif e.is_dir(follow_symlinks=False):
                    stack.append((e.path, rel + "/"))
                elif e.is_file(follow_symlinks=False):
                    st = e.stat(follow_symlinks=False)
                    out.append(_Entry(rel, e.path, st.st_size, st))
                # sockets, fifos and devices are not data: skipped on purpose
    return out


def _refuse_for_dirhash(root: Path, entries: Sequence[_Entry]) -> None:
    """Refuse what in-toto's dirHash recipes cannot name or would hash differently."""
    for e in entries:
        try:
            e.rel.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(
                f"{root}: the file name {e.rel.encode('utf-8', 'surrogateescape')!r} is not "
                "valid UTF-8", hint="rename it: the record and the dirHash listing name files "
                "in UTF-8") from None
        if "\\" in e.rel or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in e.rel):
            raise InputError(
                f"{root}: the file name {e.rel!r} holds a control character or a backslash, "
                "which a dirHash listing (or sha256sum, which escapes them) cannot show as is",
                hint="rename the file")
        if e.symlink is not None:
            target = os.path.realpath(e.path)
            if not os.path.exists(e.path):
                why = "dangles (its target does not exist)"
            elif os.path.isdir(e.path):
                why = "points at a directory"
            else:
                why = f"leaves the directory (to {target})"
            raise InputError(
                f"{root}: the symbolic link {e.rel} -> {e.symlink} {why}",
                hint="a directory is recorded by its files: replace the link by the file, or "
                     "record the target separately; links to files inside the directory are "
                     "hashed as those files")


def dirhash_listing(entries: Sequence[_Entry]) -> bytes:
    """The in-toto dirHash listing of hashed entries (``aitrace.record.dirhash``)."""
    return listing_bytes((e.rel, e.sha256 or "") for e in entries if e.symlink is None)


def directory_manifest(entries: Sequence[_Entry]) -> dict[str, object]:
    """The documented manifest a directory digest is the canonical-JSON SHA-256 of."""
    rows: list[dict[str, object]] = []
    for e in sorted(entries, key=lambda x: x.rel.encode("utf-8", "surrogateescape")):
        if e.symlink is not None:
            rows.append({"path": e.rel, "symlink": e.symlink})
        else:
            rows.append({"path": e.rel, "sha256": e.sha256, "size": e.size})
    return {"format": DIR_FORMAT, "entries": rows}


class Hasher:
    """Hashes files and directories on all cores, with an optional cache and progress observer."""

    def __init__(self, cache: DigestCache | None = None, workers: int | None = None,
                 progress: Progress | None = None, *, legacy_dirs: bool = False) -> None:
        self.cache = cache
        self.legacy_dirs = legacy_dirs
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.progress = progress
        self._done = 0
        self._total = 0
        self._lock = threading.Lock()
        self._buffers = threading.local()

    def _tick(self, n: int) -> None:
        if self.progress is None:
            return
        with self._lock:
            self._done += n
            done, total = self._done, self._total
        self.progress(done, total)

    def _hash_entry(self, e: _Entry) -> None:
        buf = getattr(self._buffers, "buf", None)
        if buf is None:
            buf = self._buffers.buf = bytearray(CHUNK)
        try:
            e.sha256, e.size = hash_file(Path(e.path), buf)
        except FileNotFoundError:
            raise InputError(f"input not found: {e.path} (removed while hashing)",
                             hint="do not change inputs while a step records them") from None
        except PermissionError:
            raise InputError(f"cannot read {e.path}: permission denied",
                             hint="fix the file's permissions") from None
        except IsADirectoryError:
            raise InputError(f"{e.path} became a directory while hashing") from None
        self._tick(e.size)

    def _run(self, jobs: list[_Entry]) -> None:
        """Hash ``jobs`` (largest first) on ``workers`` threads pulling from one queue."""
        jobs.sort(key=lambda e: -e.size)
        if self.workers == 1 or len(jobs) <= 1:
            for e in jobs:
                self._hash_entry(e)
            return
        it = iter(jobs)  # next() on a list iterator is atomic under the GIL
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for e in it:
                    if errors:
                        return
                    self._hash_entry(e)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                errors.append(exc)

        threads = [threading.Thread(target=work, name=f"aitrace-hash-{i}", daemon=True)
                   for i in range(min(self.workers, len(jobs)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def _fill(self, entries: Sequence[_Entry], started: int) -> None:
        """Set ``sha256`` (and the hashed size) on every regular-file entry."""
        groups: dict[str, list[_Entry]] = {}
        for e in entries:
            if e.symlink is None:
                groups.setdefault(e.path, []).append(e)
        firsts = [g[0] for g in groups.values()]
        with self._lock:
            self._done, self._total = 0, sum(e.size for e in firsts)
        cached: dict[str, str] = {}
        if self.cache is not None:
            cached = self.cache.get_many([(e.path, e.st) for e in firsts if e.st is not None])
        jobs: list[_Entry] = []
        for e in firsts:
            sha = cached.get(e.path)
            if sha is None:
                jobs.append(e)
            else:
                e.sha256 = sha
        if len(jobs) < len(firsts):
            self._tick(sum(e.size for e in firsts) - sum(e.size for e in jobs))
        self._run(jobs)
        if self.cache is not None:
            # A size that moved while hashing means the file changed: do not remember it.
            self.cache.put_many([(e.path, e.st, e.sha256) for e in jobs
                                 if e.st is not None and e.sha256 is not None
                                 and e.st.st_size == e.size], started)
        for group in groups.values():
            for e in group[1:]:
                e.sha256, e.size = group[0].sha256, group[0].size

    def _plan(self, p: Path) -> tuple[bool, list[_Entry]]:
        if p.is_symlink() and not p.exists():
            raise InputError(f"{p} is a dangling symlink", hint="fix or remove the link")
        if p.is_dir():
            return True, _walk(p)
        try:
            st = p.stat()
        except FileNotFoundError:
            raise InputError(f"input not found: {p}",
                             hint="check the path, or produce it in an earlier step") from None
        return False, [_Entry(p.name, os.path.realpath(p), st.st_size, st)]

    def digest_many(self, paths: Iterable[Path]) -> list[Digest]:
        """Digest several paths (files or directories), sharing one pool across all files."""
        started = time.time_ns()  # before any stat: see DigestCache.put_many
        plans = [(p, *self._plan(Path(p))) for p in paths]
        if not self.legacy_dirs:
            for p, is_dir, entries in plans:
                if is_dir:  # refused before anything is read
                    _refuse_for_dirhash(Path(p), entries)
        self._fill([e for _p, _is_dir, entries in plans for e in entries], started)
        out: list[Digest] = []
        for p, is_dir, entries in plans:
            size = sum(e.size for e in entries if e.symlink is None)
            if is_dir and not self.legacy_dirs:
                listing = dirhash_listing(entries)
                out.append(Digest(hashlib.sha256(listing).hexdigest(), size, "directory",
                                  DIR_HASH, listing))
            elif is_dir:
                manifest = directory_manifest(entries)
                try:
                    data = legacy_canonical_bytes(manifest)
                except UnicodeEncodeError:
                    raise InputError(f"{p}: a file name below it is not valid UTF-8",
                                     hint="rename the file; the record stores UTF-8 paths"
                                     ) from None
                out.append(Digest(hashlib.sha256(data).hexdigest(), size, "directory"))
            else:
                e = entries[0]
                out.append(Digest(e.sha256 or "", e.size, "file"))
        return out

    def digest(self, path: Path) -> Digest:
        """Digest one file or directory."""
        return self.digest_many([path])[0]

    def manifest(self, path: Path) -> dict[str, object]:
        """The format v1 directory manifest of ``path`` (what a v1 digest is computed over)."""
        started = time.time_ns()
        entries = _walk(path)
        self._fill(entries, started)
        return directory_manifest(entries)


def link_escape(path: Path, root: Path) -> str | None:
    """Where ``path`` leads when a symbolic link takes a path inside ``root`` outside it.

    The link may be the path itself or any parent directory; None when the path stays inside
    (or is written outside ``root`` in the first place: it is recorded as the absolute path it
    is). The record writes a path as given (``data/raw.csv``), so a link under that name
    pointing to ``/etc/passwd`` would record another file's bytes under a project path.
    """
    cwd = Path.cwd()
    absolute = Path(os.path.normpath(cwd / path))
    real_root = Path(os.path.realpath(root))
    roots = (Path(os.path.normpath(cwd / root)), real_root)
    if not any(absolute == r or r in absolute.parents for r in roots):
        return None
    real = Path(os.path.realpath(absolute))
    if real == real_root or real_root in real.parents:
        return None
    return str(real)


def default_cache_path() -> Path:
    """The per-user digest cache, for digests taken outside any workspace.

    A workspace's own cache is ``Workspace.digest_cache_path``; ``aitrace.store.workspace.
    digest_cache_path`` picks between the two.
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aitrace" / "digests.sqlite"
