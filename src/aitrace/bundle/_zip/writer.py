"""Deterministic ZIP writing: the same members always give the same bytes."""

from __future__ import annotations

import stat
import zlib
from collections.abc import Sequence
from pathlib import Path

from aitrace.bundle._zip.limits import CHUNK, ArchiveLimits, _check_collisions, name_problem
from aitrace.bundle._zip.reader import _SYSTEM_UNIX
from aitrace.errors import InputError, InvalidBundle
from aitrace.store.files import atomic_writer

# Deterministic writing settings: documented, never configurable per call.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_MODE = 0o100644
DEFLATE_LEVEL = 9



# --------------------------------------------------------------------------- writing


def write_deterministic_zip(out_path: Path, members: Sequence[tuple[str, bytes | Path]]) -> Path:
    """Write a ZIP that is byte-identical for identical members, atomically.

    Members are sorted by name; every entry has the timestamp 1980-01-01 00:00:00, Unix mode
    0644, no extra fields or comments. ``bytes`` members are deflated at level 9 (or stored
    when deflating would exceed the reader's default compression-ratio limit); ``Path``
    members (large ``--include`` files, often already compressed) are *stored* and streamed in
    1 MiB chunks, so a 2 GiB file never sits in memory. The archive is written to a temporary
    file and renamed into place; temporary files an earlier, killed write of the same output
    left are removed first.

    Raises:
        InputError: a member name is unsafe or repeated, or a ``Path`` member is unreadable.
        WriteError: the archive cannot be written (a full disk, ``ulimit -f``): nothing is left.
    """
    import zipfile

    ordered = sorted(members, key=lambda m: m[0])
    names = [n for n, _ in ordered]
    for name in names:
        problem = name_problem(name)
        if problem:
            raise InputError(f"cannot write member '{name}' to {out_path}: it {problem}",
                             hint="this is a bug in the caller; member names are POSIX paths")
    try:
        _check_collisions(names, str(out_path))
    except InvalidBundle as exc:
        raise InputError(exc.message, hint="give each member a distinct name") from None
    sizes: dict[str, int] = {}
    for name, content in ordered:
        if isinstance(content, Path):
            try:
                st = content.stat()
            except OSError as exc:
                raise InputError(f"cannot read {content} for member '{name}': "
                                 f"{exc.strerror or exc}", hint="check the path") from None
            if not stat.S_ISREG(st.st_mode):
                raise InputError(f"{content} (member '{name}') is not a regular file",
                                 hint="include files, not directories or devices")
            sizes[name] = st.st_size

    out_path = Path(out_path)
    # reclaim: a bundle killed mid-write left its temporary file beside out_path; remove it.
    with atomic_writer(out_path, reclaim=True) as raw, \
            zipfile.ZipFile(raw, "w", allowZip64=True) as zf:
        for name, content in ordered:
            zinfo = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            zinfo.create_system = _SYSTEM_UNIX
            zinfo.external_attr = FIXED_MODE << 16
            if isinstance(content, Path):
                zinfo.compress_type = zipfile.ZIP_STORED
                zinfo.file_size = sizes[name]
                written = 0
                try:
                    with content.open("rb") as src, zf.open(zinfo, "w") as dst:
                        while chunk := src.read(CHUNK):
                            dst.write(chunk)
                            written += len(chunk)
                except OSError as exc:
                    raise InputError(f"cannot read {content} for member '{name}': "
                                     f"{exc.strerror or exc}", hint="check the path") from None
                if written != sizes[name]:
                    raise InputError(f"{content} changed size while it was being archived",
                                     hint="do not modify included files while bundling")
            else:
                data = bytes(content)
                zinfo.compress_type = (zipfile.ZIP_STORED if _too_compressible(data)
                                       else zipfile.ZIP_DEFLATED)
                zf.writestr(zinfo, data, compresslevel=DEFLATE_LEVEL)
    return out_path


def _too_compressible(data: bytes) -> bool:
    """Whether deflating ``data`` would exceed the reader's default ratio limit.

    Such members (very repetitive JSON, say) are stored instead, so every archive this module
    writes is readable under the default ``ArchiveLimits`` — the writer never produces what the
    reader would call a zip bomb.
    """
    limits = ArchiveLimits()
    if len(data) <= limits.ratio_min_size:
        return False
    c = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15)
    size = len(c.compress(data)) + len(c.flush())
    return len(data) > size * limits.max_ratio




