"""Streaming, parallel, cached SHA-256 of files and directories — the hot path.

*File digest*: SHA-256 of the file's bytes, read in 1 MiB chunks into one reused buffer
(hashlib releases the GIL on large updates, so threads hash different files on both cores).

*Directory digest* (documented in README "Formats", recomputable by anyone): walk the tree, keep
regular files (following symlinks only while they stay inside the tree), sort entries by their
POSIX relative path's UTF-8 bytes, and hash the canonical JSON of::

    {"format": "aitrace.dir/v1",
     "entries": [{"path": "a/b.csv", "sha256": "<hex>", "size": 123}, ...]}

A symlink that leaves the tree (or points at a directory) is not followed; it is listed as
``{"path": ..., "symlink": "<target text>"}`` so the digest still changes when it is re-pointed.

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .canonical import canonical_bytes
from .errors import InputError

CHUNK = 1 << 20
DIR_FORMAT = "aitrace.dir/v1"
# A cached digest is trusted only if the file was last modified this long before hashing began.
RACY_WINDOW_NS = 50_000_000

Progress = Callable[[int, int], None]
"""Observer called with (bytes done, bytes total); the CLI renders it, the library never does."""


@dataclass(frozen=True)
class Digest:
    """The identity of a file or directory as the record stores it."""

    sha256: str
    size: int
    type: Literal["file", "directory"]

    @property
    def ref(self) -> str:
        """``sha256:<hex>``, the form printed by ``aitrace digest``."""
        return f"sha256:{self.sha256}"


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
            except sqlite3.Error:
                # A damaged cache is only a lost speed-up: never fail the user's step for it.
                self._disabled = True
                return None
            self._local.db = db
        return db

    def get(self, path: str, st: os.stat_result) -> str | None:
        """The cached digest if the file is provably unchanged since it was hashed."""
        db = self._db()
        if db is None:
            return None
        try:
            row = db.execute(
                "SELECT dev, ino, size, mtime_ns, ctime_ns, sha256 FROM digests WHERE path=?",
                (path,)).fetchone()
        except sqlite3.Error:
            return None
        if row and tuple(row[:5]) == (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                                      st.st_ctime_ns):
            return str(row[5])
        return None

    def put(self, path: str, st: os.stat_result, sha256: str, started_ns: int) -> None:
        """Remember a digest unless the file changed too recently to be sure of it."""
        if max(st.st_mtime_ns, st.st_ctime_ns) > started_ns - RACY_WINDOW_NS:
            return
        db = self._db()
        if db is None:
            return
        with contextlib.suppress(sqlite3.Error):
            db.execute("INSERT OR REPLACE INTO digests VALUES (?,?,?,?,?,?,?)",
                       (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                        st.st_ctime_ns, sha256))


@dataclass
class _Entry:
    rel: str
    path: Path
    size: int
    symlink: str | None = None
    sha256: str | None = None


def _walk(root: Path) -> list[_Entry]:
    """Regular files under ``root`` (symlinks followed only inside it), unsorted."""
    real_root = root.resolve()
    out: list[_Entry] = []
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            it = os.scandir(current)
        except OSError as exc:
            raise InputError(f"cannot read directory {current}: {exc.strerror}",
                             hint="check its permissions") from None
        with it:
            for e in it:
                p = Path(e.path)
                rel = p.relative_to(root).as_posix()
                if e.is_symlink():
                    target = os.readlink(p)
                    resolved = p.resolve()
                    inside = resolved == real_root or real_root in resolved.parents
                    if inside and resolved.is_file():
                        out.append(_Entry(rel, resolved, resolved.stat().st_size))
                    else:
                        out.append(_Entry(rel, p, 0, symlink=target))
                elif e.is_dir(follow_symlinks=False):
                    stack.append(p)
                elif e.is_file(follow_symlinks=False):
                    out.append(_Entry(rel, p, e.stat(follow_symlinks=False).st_size))
                # sockets, fifos and devices are not data: skipped on purpose
    return out


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
                 progress: Progress | None = None) -> None:
        self.cache = cache
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

    def _file_digest(self, path: Path) -> str:
        started = time.time_ns()
        try:
            st = path.stat()
        except FileNotFoundError:
            raise InputError(f"input not found: {path}",
                             hint="check the path, or produce it in an earlier step") from None
        key = str(path.resolve())
        if self.cache is not None:
            cached = self.cache.get(key, st)
            if cached is not None:
                self._tick(st.st_size)
                return cached
        buf = getattr(self._buffers, "buf", None)
        if buf is None:
            buf = self._buffers.buf = bytearray(CHUNK)
        try:
            sha, _size = hash_file(path, buf)
        except PermissionError:
            raise InputError(f"cannot read {path}: permission denied",
                             hint="fix the file's permissions") from None
        except IsADirectoryError:
            raise InputError(f"{path} became a directory while hashing") from None
        self._tick(st.st_size)
        if self.cache is not None:
            self.cache.put(key, st, sha, started)
        return sha

    def digest_many(self, paths: Iterable[Path]) -> list[Digest]:
        """Digest several paths (files or directories), sharing one pool across all files."""
        paths = list(paths)
        plans: list[tuple[Path, list[_Entry] | None]] = []
        jobs: list[_Entry] = []
        for p in paths:
            if p.is_symlink() and not p.exists():
                raise InputError(f"{p} is a dangling symlink", hint="fix or remove the link")
            if p.is_dir():
                entries = _walk(p)
                plans.append((p, entries))
                jobs.extend(e for e in entries if e.symlink is None)
            elif p.exists():
                entry = _Entry(p.name, p, p.stat().st_size)
                plans.append((p, [entry]))
                jobs.append(entry)
            else:
                raise InputError(f"input not found: {p}",
                                 hint="check the path, or produce it in an earlier step")
        self._total = sum(e.size for e in jobs)
        # Largest first keeps both cores busy to the end.
        jobs.sort(key=lambda e: -e.size)
        if self.workers == 1 or len(jobs) <= 1:
            for e in jobs:
                e.sha256 = self._file_digest(e.path)
        else:
            with ThreadPoolExecutor(max_workers=self.workers,
                                    thread_name_prefix="aitrace-hash") as pool:
                for e, sha in zip(jobs, pool.map(lambda e: self._file_digest(e.path), jobs),
                                  strict=True):
                    e.sha256 = sha
        out: list[Digest] = []
        for p, entries in plans:
            assert entries is not None
            if p.is_dir():
                manifest = directory_manifest(entries)
                size = sum(e.size for e in entries if e.symlink is None)
                out.append(Digest(hashlib.sha256(canonical_bytes(manifest)).hexdigest(), size,
                                  "directory"))
            else:
                e = entries[0]
                assert e.sha256 is not None
                out.append(Digest(e.sha256, e.size, "file"))
        return out

    def digest(self, path: Path) -> Digest:
        """Digest one file or directory."""
        return self.digest_many([path])[0]

    def manifest(self, path: Path) -> dict[str, object]:
        """The directory manifest of ``path`` (what its digest is computed over)."""
        entries = _walk(path)
        for e in entries:
            if e.symlink is None:
                e.sha256 = self._file_digest(e.path)
        return directory_manifest(entries)


def default_cache_path() -> Path:
    """Per-user cache for digests taken outside any workspace."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aitrace" / "digests.sqlite"


def is_regular(path: Path) -> bool:
    """Whether ``path`` is a regular file (not a link, device or directory)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False
