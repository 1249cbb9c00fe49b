"""Build ZIP files byte by byte, lies included, for the hostile-archive tests."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

REGULAR = 0o100644 << 16


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


@dataclass
class Entry:
    """One member. ``plain`` is the content; ``data`` what is written (default: encoded plain)."""

    name: bytes | str
    plain: bytes = b""
    method: int = 0
    flags: int | None = None
    data: bytes | None = None
    crc: int | None = None
    usize: int | None = None
    csize: int | None = None
    external_attr: int = REGULAR
    create_system: int = 3
    local_name: bytes | None = None
    local_method: int | None = None
    header_of: int | None = None  # reuse another entry's local header (overlap)
    extra: bytes = b""

    def raw_name(self) -> bytes:
        return self.name.encode("utf-8") if isinstance(self.name, str) else self.name

    def encoded(self) -> bytes:
        if self.data is not None:
            return self.data
        return deflate(self.plain) if self.method == 8 else self.plain


@dataclass
class Forge:
    entries: list[Entry] = field(default_factory=list)
    count: int | None = None  # entries declared in the end record
    prefix: bytes = b""
    trailing: bytes = b""
    comment: bytes = b""

    def build(self) -> bytes:
        out = bytearray(self.prefix)
        offsets: list[int] = []
        for e in self.entries:
            name = e.raw_name()
            flags = e.flags if e.flags is not None else (0x800 if not name.isascii() else 0)
            data = e.encoded()
            crc = e.crc if e.crc is not None else zlib.crc32(e.plain)
            usize = e.usize if e.usize is not None else len(e.plain)
            csize = e.csize if e.csize is not None else len(data)
            if e.header_of is not None:
                offsets.append(offsets[e.header_of])
                continue
            offsets.append(len(out))
            lname = e.local_name if e.local_name is not None else name
            method = e.local_method if e.local_method is not None else e.method
            out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21,
                               crc, csize, usize, len(lname), 0)
            out += lname + data
        cd_start = len(out)
        for e, off in zip(self.entries, offsets, strict=True):
            name = e.raw_name()
            flags = e.flags if e.flags is not None else (0x800 if not name.isascii() else 0)
            data = e.encoded()
            crc = e.crc if e.crc is not None else zlib.crc32(e.plain)
            usize = e.usize if e.usize is not None else len(e.plain)
            csize = e.csize if e.csize is not None else len(data)
            out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (e.create_system << 8) | 20,
                               20, flags, e.method, 0, 0x21, crc, csize, usize, len(name),
                               len(e.extra), 0, 0, 0, e.external_attr, off)
            out += name + e.extra
        cd_size = len(out) - cd_start
        n = self.count if self.count is not None else len(self.entries)
        out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n, n, cd_size, cd_start,
                           len(self.comment))
        out += self.comment + self.trailing
        return bytes(out)
