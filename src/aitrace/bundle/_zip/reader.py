"""ZIP archives as a security boundary: strict reading of untrusted input.

An ``.aitrace`` bundle is a ZIP file and may come from anyone, so the reader here does not trust
``zipfile``'s leniency: it parses the end record and the whole central directory itself and
checks every member *before reading any data* (names, kinds, encoding, sizes, ratios, layout),
then enforces declared sizes and CRCs while streaming.

The layout is exact, because ZIP readers disagree about everything else (a streaming reader
such as Java's ``ZipInputStream`` walks local headers, ``unzip`` and ``zipfile`` trust the
central directory and tolerate prepended data): the bytes of an accepted archive are its local
entries in central-directory order, back to back from offset 0, then the central directory,
then (for ZIP64) the ZIP64 end record and locator, then the end record with no comment —
nothing before, between or after. Each local header agrees with its central entry field by
field (flags, method, time, date, CRC-32, sizes, name), and data descriptors are refused, so
every reader sees the same members with the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitrace.bundle._zip.limits import (
    CHUNK,
    ArchiveLimits,
    MemberInfo,
    _bad,
    _check_collisions,
    name_problem,
)
from aitrace.errors import InputError, InvalidBundle
from aitrace.record.jsonio import parse_untrusted

# ZIP record signatures and layouts (APPNOTE.TXT 6.3.x).
_EOCD_SIG = b"PK\x05\x06"
_EOCD64_LOC_SIG = b"PK\x06\x07"
_EOCD64_SIG = b"PK\x06\x06"
_CDIR_SIG = 0x02014B50
_LOCAL_SIG = 0x04034B50
_EOCD = struct.Struct("<4sHHHHIIH")            # 22 bytes
_EOCD64_LOC = struct.Struct("<4sIQI")          # 20 bytes
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")        # 56 bytes
_CDIR = struct.Struct("<IHHHHHHIIIHHHHHII")    # 46 bytes
_LOCAL = struct.Struct("<IHHHHHIIIHH")         # 30 bytes

_STORED = 0
_DEFLATED = 8
_FLAG_ENCRYPTED = 0x0001
_FLAG_DATA_DESCRIPTOR = 0x0008
_FLAG_STRONG_ENCRYPTION = 0x0040
_FLAG_UTF8 = 0x0800
_FLAG_MASKED_HEADERS = 0x2000
_SYSTEM_UNIX = 3


# --------------------------------------------------------------------------- reading


class _MemberStream(io.RawIOBase):
    """Decompresses one member, enforcing declared size, CRC and exact compressed length."""

    def __init__(self, fd: int, info: MemberInfo, archive: str) -> None:
        super().__init__()
        self._fd = fd
        self._info = info
        self._archive = archive
        self._pos = info.data_offset
        self._left_in = info.compressed_size
        self._out = 0
        self._crc = 0
        self._pending = b""
        self._done = False
        self._inflate = zlib.decompressobj(-15) if info.method == _DEFLATED else None

    def readable(self) -> bool:
        return True

    def _fail(self, what: str) -> InvalidBundle:
        return _bad(self._archive, f"member '{self._info.name}' {what}")

    def _read_raw(self, n: int) -> bytes:
        n = min(n, self._left_in)
        if n <= 0:
            return b""
        try:
            data = os.pread(self._fd, n, self._pos)
        except OSError as exc:
            raise self._fail(f"cannot be read ({exc.strerror or exc})") from None
        if len(data) != n:
            raise self._fail("is truncated: the archive ends inside its data")
        self._pos += n
        self._left_in -= n
        return data

    def _produce(self, want: int) -> bytes:
        """Up to ``want`` decompressed bytes (b"" at the end of the member)."""
        inflate = self._inflate
        if inflate is None:
            return self._read_raw(want)
        while True:
            if inflate.eof:
                if self._pending or inflate.unused_data or self._left_in:
                    raise self._fail("has data after the end of its deflate stream")
                return b""
            chunk = self._pending or self._read_raw(CHUNK)
            if not chunk:
                raise self._fail("has truncated deflate data")
            try:
                out = inflate.decompress(chunk, want)
            except zlib.error as exc:
                raise self._fail(f"has corrupt deflate data ({exc})") from None
            self._pending = inflate.unconsumed_tail
            if out:
                return out
            if self._pending == chunk and not inflate.eof:
                raise self._fail("has deflate data that makes no progress")

    def readinto(self, buffer: Any) -> int:
        if self._done:
            return 0
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._info.size - self._out + 1)  # +1 to catch overflow
        data = self._produce(max(want, 1))
        if data:
            self._out += len(data)
            if self._out > self._info.size:
                raise self._fail(f"inflates beyond its declared size of {self._info.size} bytes")
            self._crc = zlib.crc32(data, self._crc)
            view[: len(data)] = data
            return len(data)
        self._done = True
        if self._out != self._info.size:
            raise self._fail(f"holds {self._out} bytes but declares {self._info.size}")
        if self._left_in:
            raise self._fail("ends before its declared compressed size")
        if self._crc != self._info.crc32:
            raise self._fail("fails its CRC-32 check (the data was altered)")
        return 0


class SafeArchive:
    """A validated, read-only view of an untrusted ZIP archive.

    Use as ``with SafeArchive.open(path) as ar: ...``. Opening validates the central directory
    and every local header; nothing is decompressed until a member is read.
    """

    def __init__(self, path: Path, fd: int, members: dict[str, MemberInfo],
                 limits: ArchiveLimits) -> None:
        self.path = path
        self.limits = limits
        self._fd: int | None = fd
        self._members = members

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: Path, limits: ArchiveLimits | None = None) -> SafeArchive:
        """Open and fully validate ``path``.

        Raises:
            InputError: the file cannot be opened.
            InvalidBundle: not a ZIP, truncated, or any member is unsafe (naming it).
        """
        limits = limits or ArchiveLimits()
        path = Path(path)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise InputError(f"{path} does not exist", hint="check the archive path") from None
        except OSError as exc:
            raise InputError(f"cannot open {path}: {exc.strerror or exc}",
                             hint="check the archive path and its permissions") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise InputError(f"{path} is not a regular file", hint="give the .aitrace file")
            members = _read_directory(fd, str(path), limits)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, members, limits)

    def close(self) -> None:
        """Release the file handle."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def names(self) -> list[str]:
        """Member names in archive order."""
        return list(self._members)

    def info(self, name: str) -> MemberInfo:
        """The validated entry of ``name``.

        Raises:
            InvalidBundle: no such member.
        """
        try:
            return self._members[name]
        except KeyError:
            raise _bad(str(self.path), f"has no member '{name}'",
                       hint="the archive is incomplete; ask its producer for a complete copy"
                       ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def open_stream(self, name: str) -> io.BufferedReader:
        """A streaming reader of one member's bytes (size and CRC enforced as it reads)."""
        if self._fd is None:
            raise ValueError("archive is closed")
        return io.BufferedReader(_MemberStream(self._fd, self.info(name), str(self.path)),
                                 buffer_size=CHUNK)

    def read(self, name: str, *, max_size: int | None = None) -> bytes:
        """The whole member in memory (refused beyond ``max_size`` before reading)."""
        info = self.info(name)
        if max_size is not None and info.size > max_size:
            raise _bad(str(self.path), f"member '{name}' is {info.size} bytes, over the "
                                       f"{max_size}-byte limit for this kind of member")
        out = bytearray()
        with self.open_stream(name) as fh:
            while chunk := fh.read(CHUNK):
                out += chunk
        return bytes(out)

    def sha256(self, name: str) -> tuple[str, int]:
        """Streaming SHA-256 hex and size of a member."""
        h = hashlib.sha256()
        size = 0
        with self.open_stream(name) as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
                size += len(chunk)
        return h.hexdigest(), size

    def read_json(self, name: str) -> Any:
        """Parse a JSON member with the size and depth limits; duplicate keys are refused."""
        data = self.read(name, max_size=self.limits.max_json_size)
        return parse_untrusted(data, f"{self.path}: member '{name}'", limits=self.limits.json)




def _pread_exact(fd: int, n: int, offset: int, archive: str, what: str) -> bytes:
    try:
        data = os.pread(fd, n, offset)
    except (OSError, OverflowError) as exc:
        raise _bad(archive, f"cannot read {what} ({exc})") from None
    if len(data) != n:
        raise _bad(archive, f"is truncated: {what} lies beyond the end of the file")
    return data


def _find_eocd(fd: int, size: int, archive: str) -> tuple[int, tuple[Any, ...]]:
    if size < _EOCD.size:
        raise _bad(archive, "is not a ZIP archive (too short)",
                   hint="give a .aitrace file written by `aitrace bundle`")
    tail_len = min(size, _EOCD.size + 0xFFFF)
    tail = _pread_exact(fd, tail_len, size - tail_len, archive, "the end record")
    pos = tail.rfind(_EOCD_SIG)
    while pos >= 0:
        if pos + _EOCD.size <= len(tail):
            rec = _EOCD.unpack_from(tail, pos)
            if pos + _EOCD.size + rec[7] == len(tail):
                if rec[7]:
                    raise _bad(archive, f"has a {rec[7]}-byte comment after its end record "
                                        "(hidden data; bundles have none)")
                return size - tail_len + pos, rec
        pos = tail.rfind(_EOCD_SIG, 0, pos)
    raise _bad(archive, "is not a ZIP archive (no end-of-central-directory record, or data "
                        "after it)", hint="give a .aitrace file written by `aitrace bundle`")


def _read_directory(fd: int, archive: str, limits: ArchiveLimits) -> dict[str, MemberInfo]:
    size = os.fstat(fd).st_size
    eocd_pos, rec = _find_eocd(fd, size, archive)
    _sig, disk, cd_disk, n_disk, n_total, cd_size, cd_offset, _clen = rec
    dir_end = eocd_pos
    # Writers (Python's zipfile among them) add a ZIP64 end record and locator once the central
    # directory starts past 2 GiB, even when the classic record still holds real values.
    has_locator = eocd_pos >= _EOCD64_LOC.size and _pread_exact(
        fd, 4, eocd_pos - _EOCD64_LOC.size, archive, "the ZIP64 locator") == _EOCD64_LOC_SIG
    if has_locator or 0xFFFF in (disk, cd_disk, n_disk, n_total) or \
            0xFFFFFFFF in (cd_size, cd_offset):
        if eocd_pos < _EOCD64_LOC.size:
            raise _bad(archive, "declares ZIP64 but has no ZIP64 locator")
        loc = _EOCD64_LOC.unpack(_pread_exact(fd, _EOCD64_LOC.size, eocd_pos - _EOCD64_LOC.size,
                                              archive, "the ZIP64 locator"))
        if loc[0] != _EOCD64_LOC_SIG:
            raise _bad(archive, "declares ZIP64 but has no ZIP64 locator")
        if loc[1] != 0 or loc[3] != 1:
            raise _bad(archive, "spans several disks (multi-part archives are not supported)")
        rec64_pos = loc[2]
        if rec64_pos + _EOCD64.size > eocd_pos - _EOCD64_LOC.size:
            raise _bad(archive, "has a ZIP64 end record outside the file")
        r64 = _EOCD64.unpack(_pread_exact(fd, _EOCD64.size, rec64_pos, archive,
                                          "the ZIP64 end record"))
        if r64[0] != _EOCD64_SIG:
            raise _bad(archive, "has a damaged ZIP64 end record")
        disk, cd_disk, n_disk, n_total, cd_size, cd_offset = r64[4], r64[5], r64[6], r64[7], \
            r64[8], r64[9]
        if rec64_pos + 12 + r64[1] != eocd_pos - _EOCD64_LOC.size:
            raise _bad(archive, "has data between its ZIP64 end record and its locator")
        dir_end = rec64_pos
    if disk != 0 or cd_disk != 0 or n_disk != n_total:
        raise _bad(archive, "spans several disks (multi-part archives are not supported)")
    if n_total > limits.max_members:
        raise _bad(archive, f"has {n_total} members, over the limit of {limits.max_members}")
    if cd_size > limits.max_directory_size:
        raise _bad(archive, f"has a {cd_size}-byte central directory, over the limit of "
                            f"{limits.max_directory_size}")
    if cd_offset + cd_size != dir_end:
        raise _bad(archive, "has a central directory that is not where its end record says "
                            "(prepended or hidden data)")
    cd = _pread_exact(fd, cd_size, cd_offset, archive, "the central directory")

    names: list[str] = []
    entries: list[MemberInfo] = []
    central: list[_Central] = []
    total = 0
    pos = 0
    for index in range(n_total):
        if pos + _CDIR.size > len(cd):
            raise _bad(archive, f"has a central directory shorter than its {n_total} entries")
        (sig, made_by, _needed, flags, method, mtime, mdate, crc, csize, usize, nlen, xlen,
         clen, disk_start, _iattr, eattr, offset) = _CDIR.unpack_from(cd, pos)
        if sig != _CDIR_SIG:
            raise _bad(archive, f"has a damaged central directory at entry {index + 1}")
        raw_name = cd[pos + _CDIR.size: pos + _CDIR.size + nlen]
        extra = cd[pos + _CDIR.size + nlen: pos + _CDIR.size + nlen + xlen]
        pos += _CDIR.size + nlen + xlen + clen
        if pos > len(cd) or len(raw_name) != nlen:
            raise _bad(archive, f"has a central directory entry {index + 1} running past its end")
        label = raw_name.decode("utf-8", "backslashreplace")
        if flags & _FLAG_UTF8:
            try:
                name = raw_name.decode("utf-8")
            except UnicodeDecodeError:
                raise _bad(archive, f"member '{label}' has a name that is not valid UTF-8"
                           ) from None
        elif raw_name.isascii():
            name = raw_name.decode("ascii")
        else:
            raise _bad(archive, f"member '{label}' has a non-UTF-8 name (legacy code page "
                                "bytes without the UTF-8 flag)")
        problem = name_problem(name)
        if problem:
            raise _bad(archive, f"member '{label}' {problem}")
        if flags & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION | _FLAG_MASKED_HEADERS):
            raise _bad(archive, f"member '{name}' is encrypted")
        if flags & _FLAG_DATA_DESCRIPTOR:
            raise _bad(archive, f"member '{name}' puts its sizes and CRC in a data descriptor "
                                "after its data (streaming and central-directory readers can "
                                "disagree about such members)")
        if clen:
            raise _bad(archive, f"member '{name}' has a comment in the central directory "
                                "(hidden data; bundles have none)")
        if method not in (_STORED, _DEFLATED):
            raise _bad(archive, f"member '{name}' uses unsupported compression method {method} "
                                "(only stored and deflate are accepted)")
        system = made_by >> 8
        kind = _non_regular_kind(system, eattr)
        if kind:
            raise _bad(archive, f"member '{name}' is {kind}, not a regular file")
        usize, csize, offset, disk_start = _apply_zip64(
            extra, usize, csize, offset, disk_start, archive, name)
        if disk_start != 0:
            raise _bad(archive, f"member '{name}' lives on another disk")
        if usize > limits.max_member_size:
            raise _bad(archive, f"member '{name}' declares {usize} bytes, over the per-member "
                                f"limit of {limits.max_member_size}")
        total += usize
        if total > limits.max_total_size:
            raise _bad(archive, f"members total more than {limits.max_total_size} bytes "
                                f"uncompressed (at '{name}'): possible zip bomb")
        if method == _STORED and csize != usize:
            raise _bad(archive, f"member '{name}' is stored but declares {csize} compressed "
                                f"and {usize} uncompressed bytes")
        if usize > limits.ratio_min_size and usize > csize * limits.max_ratio:
            raise _bad(archive, f"member '{name}' would inflate {csize} bytes to {usize} "
                                f"(ratio over {limits.max_ratio}): possible zip bomb")
        names.append(name)
        entries.append(MemberInfo(name, usize, csize, crc, method, offset, -1))
        central.append(_Central(flags, mtime, mdate))
    if pos != len(cd):
        raise _bad(archive, f"has a central directory holding more than its {n_total} "
                            "declared entries")
    _check_collisions(names, archive)
    located = _check_local_headers(fd, archive, entries, central, cd_offset)
    return {info.name: info for info in located}


@dataclass(frozen=True)
class _Central:
    """The central-directory fields a local header must repeat (besides name, sizes, CRC)."""

    flags: int
    time: int
    date: int


def _check_local_headers(fd: int, archive: str, entries: list[MemberInfo],
                         central: list[_Central], cd_offset: int) -> list[MemberInfo]:
    """Check every local header against its central entry, and the exact layout.

    Local entries must follow each other in central-directory order from offset 0 and end
    where the central directory starts: a byte no entry accounts for is where a second local
    header, prepended data or a decoy directory would hide.

    Returns:
        The entries with their data offsets.
    """
    located = []
    for info, cen in zip(entries, central, strict=True):
        hdr = _pread_exact(fd, _LOCAL.size, info.header_offset, archive,
                           f"the local header of member '{info.name}'")
        (sig, _needed, lflags, lmethod, ltime, ldate, lcrc, lcsize, lusize, lnlen,
         lxlen) = _LOCAL.unpack(hdr)
        if sig != _LOCAL_SIG:
            raise _bad(archive, f"member '{info.name}' has no local header where the central "
                                "directory points")
        lname = _pread_exact(fd, lnlen, info.header_offset + _LOCAL.size, archive,
                             f"the local name of member '{info.name}'")
        if lname != info.name.encode("utf-8"):
            raise _bad(archive, f"member '{info.name}' has a different name in its local header "
                                f"('{lname.decode('utf-8', 'backslashreplace')}')")
        lextra = _pread_exact(fd, lxlen, info.header_offset + _LOCAL.size + lnlen, archive,
                              f"the local extra field of member '{info.name}'")
        lusize, lcsize, _o, _d = _apply_zip64(lextra, lusize, lcsize, 0, 0, archive, info.name)
        disagree = [what for what, local, cent in (
            ("compression method", lmethod, info.method), ("flags", lflags, cen.flags),
            ("time", ltime, cen.time), ("date", ldate, cen.date),
            ("CRC-32", lcrc, info.crc32), ("compressed size", lcsize, info.compressed_size),
            ("size", lusize, info.size)) if local != cent]
        if disagree:
            raise _bad(archive, f"member '{info.name}' has a local header that disagrees with "
                                f"the central directory ({', '.join(disagree)}): readers "
                                "would not agree on its content")
        data_offset = info.header_offset + _LOCAL.size + lnlen + lxlen
        end = data_offset + info.compressed_size
        if end > cd_offset:
            raise _bad(archive, f"member '{info.name}' has data running into the central "
                                "directory")
        located.append(MemberInfo(info.name, info.size, info.compressed_size, info.crc32,
                                  info.method, info.header_offset, data_offset))
    by_offset = sorted(located, key=lambda m: m.header_offset)
    for a, b in zip(by_offset, by_offset[1:], strict=False):
        if a.data_offset + a.compressed_size > b.header_offset:
            raise _bad(archive, f"members '{a.name}' and '{b.name}' overlap: possible zip bomb")
    expected = 0
    previous: MemberInfo | None = None
    for info in located:
        if info.header_offset != expected:
            if previous is None and by_offset[0].header_offset:
                raise _bad(archive, f"has {by_offset[0].header_offset} bytes before its first "
                                    "member (prepended data, e.g. a polyglot file)")
            after = f"right after '{previous.name}'" if previous else "at the start"
            raise _bad(archive, f"is not laid out in central-directory order: member "
                                f"'{info.name}' should start {after} (at byte {expected}) but "
                                f"starts at byte {info.header_offset} (reordered members, or a "
                                "hidden local header or data)")
        expected = info.data_offset + info.compressed_size
        previous = info
    if expected != cd_offset:
        after = f"its last member '{previous.name}'" if previous else "its start"
        raise _bad(archive, f"has {cd_offset - expected} bytes between {after} and the central "
                            "directory that no entry accounts for (a hidden local header, "
                            "member or decoy directory)")
    return located


def _apply_zip64(extra: bytes, usize: int, csize: int, offset: int, disk: int,
                 archive: str, name: str) -> tuple[int, int, int, int]:
    """Replace saturated 32-bit fields with the ZIP64 extra field's values."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4: pos + 4 + length]
        if len(body) != length:
            raise _bad(archive, f"member '{name}' has a damaged extra field")
        if tag == 0x0001:
            vals = body
            try:
                if usize == 0xFFFFFFFF:
                    usize, vals = struct.unpack_from("<Q", vals)[0], vals[8:]
                if csize == 0xFFFFFFFF:
                    csize, vals = struct.unpack_from("<Q", vals)[0], vals[8:]
                if offset == 0xFFFFFFFF:
                    offset, vals = struct.unpack_from("<Q", vals)[0], vals[8:]
                if disk == 0xFFFF:
                    disk = struct.unpack_from("<I", vals)[0]
            except struct.error:
                raise _bad(archive, f"member '{name}' has a damaged ZIP64 extra field") from None
        pos += 4 + length
    if pos != len(extra):
        raise _bad(archive, f"member '{name}' has a damaged extra field")
    if 0xFFFFFFFF in (usize, csize, offset):
        raise _bad(archive, f"member '{name}' needs a ZIP64 extra field but has none")
    return usize, csize, offset, disk


def _non_regular_kind(system: int, eattr: int) -> str | None:
    """What a member is when it is not a regular file, from its external attributes."""
    if system == _SYSTEM_UNIX:
        mode = eattr >> 16
        if mode:
            fmt = stat.S_IFMT(mode)
            kinds = {stat.S_IFLNK: "a symbolic link", stat.S_IFDIR: "a directory",
                     stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
                     stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket"}
            if fmt != stat.S_IFREG:
                return kinds.get(fmt, f"of unknown file type {fmt:o}")
    if eattr & 0x10:  # MS-DOS directory attribute, whatever the host system
        return "a directory"
    return None




