"""Crash-safe file writes shared by the workspace, the bundle writer and the CLI.

A write goes to a temporary file in the target's directory, is flushed and fsynced, then renamed
over the target and the directory is fsynced: a reader sees the old bytes or the new ones, never
a torn file, whatever moment the process dies at.

A temporary file is named after its target (``.tmp-<name>.<random>``) and locked (``flock``)
while it is written, so a later write of the same target (``reclaim=True``: bundles, ``-o``
outputs) can remove the ones a killed writer left, and never one still being written.

A write that fails — a full disk (ENOSPC), a quota (EDQUOT), ``ulimit -f`` (EFBIG), a
permission — raises ``WriteError`` naming the file, with the temporary file already removed:
one clear line, nothing half-written.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from aitrace.errors import InputError, WriteError

TMP_PREFIX = ".tmp-"
# What a write to a file can fail with when the file system, not the program, is at fault.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_MAX_NAME_IN_TMP = 120


def fsync_dir(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_error(path: Path, exc: OSError) -> WriteError:
    """The one-line error for a failed write of ``path`` (what failed and how to fix it)."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "the disk (or your quota) is full: free some space and run the command again"
    elif exc.errno == errno.EFBIG:
        hint = ("the file is larger than this process may write (ulimit -f): raise the limit "
                "and run the command again")
    else:
        hint = "check that the directory exists and is writable"
    return WriteError(f"cannot write {path}: {reason}", hint=f"{hint}; nothing was changed")


def _tmp_prefix(path: Path) -> str:
    name = path.name.encode("utf-8", "surrogateescape")[:_MAX_NAME_IN_TMP]
    return f"{TMP_PREFIX}{name.decode('utf-8', 'ignore')}."


def _locked_temp(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path``, locked; never one a reclaimer just removed."""
    while True:
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), dir=path.parent)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.path.samestat(os.fstat(fd), os.lstat(tmp)):
                return fd, tmp
        except FileNotFoundError:
            pass
        os.close(fd)  # reclaimed between mkstemp and flock: take another name


def reclaim_temps(path: Path) -> list[str]:
    """Remove the temporary files of ``path`` that killed writers left (unlocked ones).

    Returns:
        The names removed.
    """
    pattern = re.compile(re.escape(_tmp_prefix(path)) + r"[a-z0-9_]{8}")
    removed: list[str] = []
    try:
        names = os.listdir(path.parent)
    except OSError:
        return removed
    for name in names:
        if not pattern.fullmatch(name):
            continue
        stale = path.parent / name
        try:
            fd = os.open(stale, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.path.samestat(os.fstat(fd), os.lstat(stale)):
                os.unlink(stale)
                removed.append(name)
        except OSError:
            pass  # locked: a writer is at work on it
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def atomic_writer(path: Path, *, mode: int = 0o644, reclaim: bool = False) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` atomically when the block succeeds.

    ``reclaim`` first removes temporary files of ``path`` left by killed writers. An
    ``OSError`` the block raises is passed on as it is, unless it is a full disk or a size
    limit hit while writing ``fh`` (then ``WriteError``).

    Raises:
        WriteError: the file could not be written (nothing was changed).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if reclaim:
            reclaim_temps(path)
        fd, tmp = _locked_temp(path)
    except OSError as exc:
        raise write_error(path, exc) from None
    ours = False  # whether an OSError now comes from our own flush, fsync, chmod or rename
    try:
        with os.fdopen(fd, "wb") as fh:
            try:
                yield fh
            except OSError as exc:
                if exc.errno in DISK_ERRNOS and not isinstance(exc, WriteError):
                    raise write_error(path, exc) from None
                raise
            ours = True
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError) and (
                ours or exc.errno in DISK_ERRNOS):  # (closing fh can fail again, later)
            raise write_error(path, exc) from None
        raise
    fsync_dir(path.parent)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644, reclaim: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (``WriteError`` when it cannot be written)."""
    with atomic_writer(path, mode=mode, reclaim=reclaim) as fh:
        fh.write(data)


def write_output(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write a file the user named (``-o FILE``) atomically.

    A place that cannot be written (a directory, no permission) is bad input — an
    ``InputError`` naming the path, exit 2 — never a traceback.
    """
    try:
        atomic_write(path, data, mode=mode, reclaim=True)
    except WriteError:
        raise
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}",
                         hint="check the directory exists and is writable") from None


def create_exclusive(path: Path, data: bytes, *, mode: int = 0o644) -> bool:
    """Atomically create ``path`` with ``data`` unless it exists; return whether it was created.

    The bytes are made durable under a temporary name first and then linked into place, so the
    final name never holds a partial file.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        fsync_dir(path.parent)
        return True
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
