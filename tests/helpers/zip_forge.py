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
    comment: bytes = b""
    # local-header fields that lie (default: the same as the central directory)
    local_flags: int | None = None
    local_time: int | None = None
    local_crc: int | None = None
    local_csize: int | None = None
    local_usize: int | None = None
    local_extra: bytes = b""

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
    order: list[int] | None = None  # the order local entries are written in (default: as listed)

    def build(self) -> bytes:
        out = bytearray(self.prefix)
        offsets: dict[int, int] = {}
        order = self.order if self.order is not None else range(len(self.entries))
        for i in order:
            e = self.entries[i]
            name = e.raw_name()
            flags = e.flags if e.flags is not None else (0x800 if not name.isascii() else 0)
            data = e.encoded()
            crc = e.crc if e.crc is not None else zlib.crc32(e.plain)
            usize = e.usize if e.usize is not None else len(e.plain)
            csize = e.csize if e.csize is not None else len(data)
            if e.header_of is not None:
                offsets[i] = offsets[e.header_of]
                continue
            offsets[i] = len(out)
            lname = e.local_name if e.local_name is not None else name
            method = e.local_method if e.local_method is not None else e.method
            out += struct.pack(
                "<IHHHHHIIIHH", 0x04034B50, 20,
                flags if e.local_flags is None else e.local_flags, method,
                0 if e.local_time is None else e.local_time, 0x21,
                crc if e.local_crc is None else e.local_crc,
                csize if e.local_csize is None else e.local_csize,
                usize if e.local_usize is None else e.local_usize, len(lname),
                len(e.local_extra))
            out += lname + e.local_extra + data
        cd_start = len(out)
        for i, e in enumerate(self.entries):
            off = offsets[i]
            name = e.raw_name()
            flags = e.flags if e.flags is not None else (0x800 if not name.isascii() else 0)
            data = e.encoded()
            crc = e.crc if e.crc is not None else zlib.crc32(e.plain)
            usize = e.usize if e.usize is not None else len(e.plain)
            csize = e.csize if e.csize is not None else len(data)
            out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (e.create_system << 8) | 20,
                               20, flags, e.method, 0, 0x21, crc, csize, usize, len(name),
                               len(e.extra), len(e.comment), 0, 0, e.external_attr, off)
            out += name + e.extra + e.comment
        cd_size = len(out) - cd_start
        n = self.count if self.count is not None else len(self.entries)
        out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n, n, cd_size, cd_start,
                           len(self.comment))
        out += self.comment + self.trailing
        return bytes(out)


# ----------------------------------------------------------------------------- real archives
# The differential attacks start from a genuine archive's bytes and rearrange them.

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")


@dataclass
class ZipParts:
    """A classic (non-ZIP64) archive cut into its records, in central-directory order.

    ``local`` holds each member's local header, name, extra field and data; ``central`` each
    central-directory entry. ``build`` lays them out again with offsets recomputed.
    """

    local: list[bytes]
    central: list[bytes]

    @classmethod
    def split(cls, data: bytes) -> ZipParts:
        eocd = data[-22:]
        assert eocd[:4] == b"PK\x05\x06", "the archive has a comment or is ZIP64"
        _sig, _d, _cd, _nd, n, cd_size, cd_offset, _c = struct.unpack("<4sHHHHIIH", eocd)
        central, local = [], []
        pos = cd_offset
        offsets = []
        for _ in range(n):
            fields = _CENTRAL.unpack_from(data, pos)
            length = _CENTRAL.size + fields[10] + fields[11] + fields[12]
            central.append(data[pos:pos + length])
            offsets.append(fields[16])
            pos += length
        assert pos == cd_offset + cd_size
        for off, entry in zip(offsets, central, strict=True):
            csize = _CENTRAL.unpack_from(entry)[8]
            lf = _LOCAL.unpack_from(data, off)
            local.append(data[off:off + _LOCAL.size + lf[9] + lf[10] + csize])
        return cls(local, central)

    def index(self, name: str) -> int:
        for i, entry in enumerate(self.central):
            nlen = _CENTRAL.unpack_from(entry)[10]
            if entry[_CENTRAL.size:_CENTRAL.size + nlen] == name.encode():
                return i
        raise KeyError(name)

    def directory(self, base: int) -> tuple[bytes, list[int]]:
        """The central directory with offsets for locals laid out from ``base``."""
        out, offsets, pos = bytearray(), [], base
        for loc, entry in zip(self.local, self.central, strict=True):
            offsets.append(pos)
            out += entry[:42] + struct.pack("<I", pos) + entry[46:]
            pos += len(loc)
        return bytes(out), offsets

    def build(self, *, prefix: bytes = b"", adjust_offsets: bool = True,
              before_directory: bytes = b"", comment: bytes = b"") -> bytes:
        base = len(prefix) if adjust_offsets else 0
        body = b"".join(self.local)
        cd, _ = self.directory(base)
        cd_offset = len(prefix) + len(body) + len(before_directory)
        eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(self.central),
                           len(self.central), len(cd), cd_offset if adjust_offsets
                           else cd_offset - len(prefix), len(comment))
        return prefix + body + before_directory + cd + eocd + comment


def local_record(name: str, content: bytes, *, method: int = 8) -> bytes:
    """A complete local entry (header, name, data) for ``content``, as zipfile would write it."""
    data = deflate(content) if method == 8 else content
    raw = name.encode()
    return _LOCAL.pack(0x04034B50, 20, 0, method, 0, 0x21, zlib.crc32(content), len(data),
                       len(content), len(raw), 0) + raw + data


def with_local_fields(record: bytes, **fields: int) -> bytes:
    """A local entry with header fields replaced: ``crc``, ``csize``, ``usize``, ``flags``."""
    at = {"flags": (6, "<H"), "crc": (14, "<I"), "csize": (18, "<I"), "usize": (22, "<I")}
    out = bytearray(record)
    for key, value in fields.items():
        pos, fmt = at[key]
        struct.pack_into(fmt, out, pos, value)
    return bytes(out)


def differentials(genuine: bytes, victim: str, evil: bytes) -> dict[str, bytes]:
    """The five ZIP parser differentials, each applied to a genuine archive.

    * ``smuggled-local-header``: a second local entry for ``victim`` (holding ``evil``) before
      the central directory, listed nowhere — a streaming reader extracts it last, over the
      genuine one;
    * ``prepended-polyglot``: an HTML page before the archive, offsets adjusted to match;
    * ``end-record-comment``: data in the end record's comment;
    * ``decoy-directory``: a second central directory and end record (listing one member less)
      before the real ones;
    * ``local-header-lies``: ``victim``'s local header gives a CRC and sizes that contradict
      the central directory (what a streaming reader trusts).
    """
    parts = ZipParts.split(genuine)
    i = parts.index(victim)
    decoy_cd, _ = parts.directory(0)
    decoy_cd = decoy_cd[:-len(parts.central[-1])]  # the same directory, one member fewer
    decoy_eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(parts.central) - 1,
                             len(parts.central) - 1, len(decoy_cd),
                             sum(len(x) for x in parts.local), 0)
    lying = ZipParts(parts.local[:], parts.central[:])
    lying.local[i] = with_local_fields(parts.local[i], crc=zlib.crc32(evil), usize=len(evil))
    return {
        "smuggled-local-header": parts.build(before_directory=local_record(victim, evil)),
        "prepended-polyglot": parts.build(
            prefix=b"<!doctype html><html><body><h1>model card</h1></body></html>\n"),
        "end-record-comment": parts.build(comment=b"<script>alert('hidden')</script>"),
        "decoy-directory": parts.build(before_directory=decoy_cd + decoy_eocd),
        "local-header-lies": lying.build(),
    }


def stream_members(data: bytes) -> list[tuple[str, bytes]] | None:
    """What a streaming reader (``ZipInputStream``, ``jar x``) sees: local headers from byte 0.

    Walks local entries back to back, trusting their own sizes, until something that is not a
    local header; None when an entry cannot be decoded (such a reader would fail too).
    """
    out: list[tuple[str, bytes]] = []
    pos = 0
    while data[pos:pos + 4] == b"PK\x03\x04":
        if pos + _LOCAL.size > len(data):
            return None
        (_s, _v, _f, method, _t, _d, _crc, csize, _usize, nlen,
         xlen) = _LOCAL.unpack_from(data, pos)
        start = pos + _LOCAL.size + nlen + xlen
        name = data[pos + _LOCAL.size:pos + _LOCAL.size + nlen].decode("utf-8", "replace")
        raw = data[start:start + csize]
        try:
            plain = zlib.decompress(raw, -15) if method == 8 else raw
        except zlib.error:
            return None
        out.append((name, plain))
        pos = start + csize
    return out
