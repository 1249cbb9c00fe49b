r"""in-toto ``dirHash`` listings: the text a directory's digest is the SHA-256 of.

A listing has one line per regular file, ``"<sha256 hex>  <relative path>\n"`` (two spaces),
sorted by the UTF-8 bytes of the slash-separated path; ``dirHash`` is the lowercase-hex
SHA-256 of the whole text (in-toto's digest-set spec; Go's
``golang.org/x/mod/sumdb/dirhash.Hash1`` without its ``h1:`` prefix and base64). The record
stores each directory's listing as the evidence object addressed by its dirHash, so anyone
holding a bundle can see which files — by path and sha256 — a recorded folder held, e.g. to
account for a file inside a produced folder.

``listing_bytes`` writes a listing (``aitrace.store.digest`` hashes the files);
``parse_listing`` reads an untrusted one and refuses anything aitrace would never write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from aitrace.errors import InvalidBundle

_LINE = re.compile(r"([0-9a-f]{64})  (.+)")


def listing_bytes(files: Iterable[tuple[str, str]]) -> bytes:
    """The listing of ``(relative path, sha256 hex)`` pairs, sorted by path bytes.

    Raises:
        ValueError: a path holds a newline (no listing line can express it) — the hasher
            refuses such names before they get here.
    """
    rows = sorted((path.encode("utf-8"), sha) for path, sha in files)
    if any(b"\n" in path for path, _ in rows):
        raise ValueError("a file name in a dirHash listing holds a newline")
    return b"".join(sha.encode("ascii") + b"  " + path + b"\n" for path, sha in rows)


def parse_listing(data: bytes, source: str) -> list[tuple[str, str]]:
    """The ``(relative path, sha256 hex)`` entries of an untrusted listing, in order.

    Refused (``InvalidBundle`` naming ``source`` and the line): not UTF-8, a line that is not
    ``<64 hex>  <path>``, a missing final newline, paths out of byte order or repeated, and
    paths that are absolute, empty, hold ``.``/``..`` components, backslashes or control
    characters.
    """
    hint = "the directory listing is damaged or was not written by aitrace"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidBundle(f"{source} is not UTF-8", hint=hint) from None
    if text and not text.endswith("\n"):
        raise InvalidBundle(f"{source} does not end with a newline", hint=hint)
    out: list[tuple[str, str]] = []
    previous: bytes | None = None
    for n, line in enumerate(text.split("\n")[:-1], start=1):
        m = _LINE.fullmatch(line)
        if m is None:
            raise InvalidBundle(f"{source} line {n} is not '<sha256>  <path>'", hint=hint)
        sha, path = m.group(1), m.group(2)
        parts = path.split("/")
        if path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in path \
                or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path):
            raise InvalidBundle(f"{source} line {n} names an unsafe path {path!r}", hint=hint)
        key = path.encode("utf-8")
        if previous is not None and key <= previous:
            raise InvalidBundle(f"{source} line {n} ({path!r}) is out of order or repeated",
                                hint=hint)
        previous = key
        out.append((path, sha))
    return out
