"""Crash-safe file writes shared by the workspace, the bundle writer and the CLI.

A write goes to a temporary file in the target's directory, is flushed and fsynced, then renamed
over the target and the directory is fsynced: a reader sees the old bytes or the new ones, never
a torn file, whatever moment the process dies at.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from aitrace.errors import InputError

TMP_PREFIX = ".tmp-"


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


@contextlib.contextmanager
def atomic_writer(path: Path, *, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` atomically when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_writer(path, mode=mode) as fh:
        fh.write(data)


def write_output(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write a file the user named (``-o FILE``) atomically.

    A place that cannot be written (a directory, no permission) is bad input — an
    ``InputError`` naming the path, exit 2 — never a traceback.
    """
    try:
        atomic_write(path, data, mode=mode)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}",
                         hint="check the directory exists and is writable") from None


def create_exclusive(path: Path, data: bytes, *, mode: int = 0o644) -> bool:
    """Atomically create ``path`` with ``data`` unless it exists; return whether it was created.

    The bytes are made durable under a temporary name first and then linked into place, so the
    final name never holds a partial file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
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
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
