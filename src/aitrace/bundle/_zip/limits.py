"""Bounds on untrusted archives, and the rules a member name must follow."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from aitrace.errors import InvalidBundle
from aitrace.record.jsonio import JsonLimits

MiB = 1024 * 1024
GiB = 1024 * MiB
CHUNK = MiB



_MAX_NAME_BYTES = 1024


_DRIVE = re.compile(r"^[A-Za-z]:")
# A JSON string (unrolled loop, no backtracking blow-up); an unterminated one runs to the end,



@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds applied to an untrusted archive before and while reading it.

    The defaults admit a bundle that embeds model weights (``--include``) yet stop zip bombs:
    a member may not inflate more than ``max_ratio`` times once it is over ``ratio_min_size``.
    """

    max_members: int = 5000
    max_member_size: int = 4 * GiB
    max_total_size: int = 8 * GiB
    max_ratio: int = 200
    ratio_min_size: int = MiB
    max_json_size: int = 64 * MiB
    max_json_depth: int = 64
    max_directory_size: int = 64 * MiB

    @property
    def json(self) -> JsonLimits:
        """The bounds on a JSON member, as the one JSON parser takes them."""
        return JsonLimits(max_size=self.max_json_size, max_depth=self.max_json_depth)


@dataclass(frozen=True)
class MemberInfo:
    """One validated member of an archive (sizes as declared, checked while reading)."""

    name: str
    size: int
    compressed_size: int
    crc32: int
    method: int
    header_offset: int
    data_offset: int


def _bad(archive: str, message: str, hint: str | None = None) -> InvalidBundle:
    return InvalidBundle(
        f"{archive}: {message}",
        hint=hint or "the archive is damaged or unsafe; do not use it — ask its producer "
                     "for a fresh copy made by `aitrace bundle`")


# --------------------------------------------------------------------------- names


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a safe member name (None when it is): shared by reader and writer."""
    if not name:
        return "has an empty name"
    if len(name.encode("utf-8", "surrogatepass")) > _MAX_NAME_BYTES:
        return f"has a name longer than {_MAX_NAME_BYTES} bytes"
    for ch in name:
        if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
            return f"has a control character U+{ord(ch):04X} in its name"
        if 0xD800 <= ord(ch) < 0xE000:
            return "has an unpaired surrogate in its name"
    if "\\" in name:
        return "uses a backslash in its name (only '/' separates directories)"
    if name.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    if name.endswith("/"):
        return "is a directory entry (archives hold regular files only)"
    for part in name.split("/"):
        if part == "..":
            return "has a '..' component (path traversal)"
        if part == ".":
            return "has a '.' component"
        if part == "":
            return "has an empty path component ('//')"
    return None


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def _check_collisions(names: Sequence[str], archive: str) -> None:
    """Refuse duplicates, names equal after NFC+casefold, and file/directory clashes."""
    seen: dict[str, str] = {}
    for name in names:
        key = _fold(name)
        if key in seen:
            other = seen[key]
            if other == name:
                raise _bad(archive, f"member '{name}' appears more than once")
            raise _bad(archive, f"member '{name}' collides with '{other}' on case-insensitive "
                                "or Unicode-normalising file systems")
        seen[key] = name
    for name in names:
        parts = _fold(name).split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in seen:
                raise _bad(archive, f"member '{seen[prefix]}' is a file but '{name}' needs it "
                                    "to be a directory")




