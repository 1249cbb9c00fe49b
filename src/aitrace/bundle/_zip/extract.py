"""Safe extraction: a validated archive is written under one directory and nowhere else."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aitrace.bundle._zip.limits import CHUNK, ArchiveLimits
from aitrace.bundle._zip.reader import SafeArchive
from aitrace.errors import InputError
from aitrace.store.files import TMP_PREFIX, fsync_dir

# --------------------------------------------------------------------------- extracting


def safe_extract(path: Path, dest_dir: Path, limits: ArchiveLimits | None = None, *,
                 overwrite: bool = False) -> list[Path]:
    """Extract a validated archive into ``dest_dir``; nothing is ever written outside it.

    All or nothing: the central directory and every local header are validated first, then
    every member is streamed (sizes and CRCs enforced) into a staging directory inside
    ``dest_dir``; only when all of them are complete are they moved into place, so a damaged
    member — the last one included — leaves no file behind. Each target's parent is resolved
    and checked to lie inside ``dest_dir`` (a pre-existing symlink cannot redirect a write);
    files are created ``0644``. Existing files are refused (checked before anything is written)
    unless ``overwrite``.

    Returns:
        The extracted files, in archive order.

    Raises:
        InvalidBundle: the archive is unsafe or damaged.
        InputError: the destination cannot be written, or a file exists and ``overwrite`` is off.
    """
    with SafeArchive.open(path, limits) as ar:
        dest_dir = Path(dest_dir)
        try:
            dest_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create {dest_dir}: {exc.strerror or exc}",
                             hint="choose a writable directory") from None
        root = dest_dir.resolve()
        targets = []
        for name in ar.names():
            target = root.joinpath(*name.split("/"))
            if not overwrite and (target.exists() or target.is_symlink()):
                raise InputError(f"{target} already exists; refusing to overwrite",
                                 hint="extract into an empty directory, or pass --force")
            targets.append((name, target))
        try:
            staging = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}unpack-", dir=root))
        except OSError as exc:
            raise InputError(f"cannot write in {root}: {exc.strerror or exc}",
                             hint="choose a writable directory") from None
        try:
            staged = [_stage(ar, name, staging / str(i)) for i, (name, _t) in enumerate(targets)]
            written = _place_all(root, targets, staged, overwrite)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        fsync_dir(root)
        return written


def _stage(ar: SafeArchive, name: str, tmp: Path) -> Path:
    """Stream one member into ``tmp`` (0644, fsynced); size and CRC are enforced on the way."""
    try:
        with open(tmp, "xb") as out, ar.open_stream(name) as src:
            while chunk := src.read(CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
    except OSError as exc:
        raise InputError(f"cannot extract member '{name}' into {tmp.parent.parent}: "
                         f"{exc.strerror or exc}",
                         hint="free some space or choose another directory") from None
    return tmp


def _place_all(root: Path, targets: Sequence[tuple[str, Path]], staged: Sequence[Path],
               overwrite: bool) -> list[Path]:
    """Move every staged file to its target; on failure, remove what was placed."""
    placed: list[Path] = []
    made: list[Path] = []
    try:
        for (name, target), tmp in zip(targets, staged, strict=True):
            parent = _make_dirs(root, name.split("/")[:-1], made)
            real_parent = parent.resolve()
            if real_parent != root and root not in real_parent.parents:
                raise InputError(f"member '{name}' would be written outside {root} (through "
                                 f"{parent}, a link)", hint="extract into an empty directory")
            final = real_parent / target.name
            _place(tmp, final, overwrite)
            placed.append(target)
    except BaseException:
        if not overwrite:
            for p in placed:
                with contextlib.suppress(OSError):
                    os.unlink(p)
            for d in reversed(made):
                with contextlib.suppress(OSError):
                    os.rmdir(d)
        raise
    return placed


def _make_dirs(root: Path, parts: Sequence[str], made: list[Path]) -> Path:
    """Create ``root/parts...`` one level at a time, refusing to pass through links."""
    cur = root
    for part in parts:
        cur = cur / part
        try:
            os.mkdir(cur, 0o755)
            made.append(cur)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(cur).st_mode):
                raise InputError(f"{cur} exists and is not a directory (a link or a file); "
                                 "refusing to extract through it",
                                 hint="extract into an empty directory") from None
        except OSError as exc:
            raise InputError(f"cannot create {cur}: {exc.strerror or exc}",
                             hint="extract into an empty, writable directory") from None
    return cur


def _place(tmp: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        if target.is_symlink() or target.is_dir():
            raise InputError(f"{target} is a link or directory; refusing to replace it",
                             hint="extract into an empty directory")
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target, follow_symlinks=False)
    except FileExistsError:
        raise InputError(f"{target} already exists; refusing to overwrite",
                         hint="extract into an empty directory, or pass --force") from None
