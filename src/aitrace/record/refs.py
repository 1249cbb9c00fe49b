"""How a record names things: by SHA-256 digest, and by workspace path or URI.

One place for the digest pattern, for checking that bytes are what a digest says, and for
telling a URI from a path, so every reader applies the same rule.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from aitrace.errors import InputError

SHA256_HEX = r"[0-9a-f]{64}"
"""A SHA-256 as the record writes it: 64 lowercase hex digits, no prefix."""


_SHA256_GIVEN = re.compile(r"(?i:sha256[:=])?([0-9a-fA-F]{64})")


def normalize_sha256(value: str, *, what: str = "sha256") -> str:
    """A SHA-256 given by a person, in the form the record writes it (64 lowercase hex digits).

    Only unambiguous spellings are accepted: upper- or mixed-case hex, and the ``sha256:`` prefix
    that ``aitrace digest`` prints. Anything else (a short or long value, other characters, a
    different algorithm) is refused, because a record that stores a malformed digest can never
    be verified — better an error now than an append-only history that cannot be read.

    Raises:
        InputError: ``value`` is not a SHA-256, naming ``what`` (the option or field).
    """
    text = value.strip() if isinstance(value, str) else ""
    m = _SHA256_GIVEN.fullmatch(text)
    if m is None:
        shown = value if isinstance(value, str) else type(value).__name__
        detail = ""
        if isinstance(value, str):
            hexpart = text.split(":", 1)[-1]
            if re.fullmatch(r"[0-9a-fA-F]+", hexpart):
                detail = f" ({len(hexpart)} hex digits; a SHA-256 has 64)"
        raise InputError(f"{what}: {shown!r} is not a SHA-256 digest{detail}",
                         hint="give the 64 hex digits `aitrace digest FILE` or `sha256sum FILE` "
                              "prints (a 'sha256:' prefix is fine)")
    return m.group(1).lower()


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as the record writes it."""
    return hashlib.sha256(data).hexdigest()


def bytes_match(data: bytes, sha256: str) -> bool:
    """Whether ``data`` are exactly the bytes named by ``sha256``."""
    return hashlib.sha256(data).hexdigest() == sha256


def is_uri(text: str) -> bool:
    """Whether a recorded location is a URI (``scheme://...``) rather than a workspace path."""
    return "://" in text


DigestAlgorithm = Literal["sha256", "dirHash"]
"""The in-toto digest-set keys the record uses.

``sha256``: the SHA-256 of a file's bytes. ``dirHash``: in-toto's directory digest — the SHA-256
of the sorted ``"<sha256 hex>  <relative path>\\n"`` listing of a directory's files (README
"Formats"; ``aitrace.store.digest``).
"""

SHA256: DigestAlgorithm = "sha256"
DIR_HASH: DigestAlgorithm = "dirHash"


def digest_label(algorithm: str, value: str | None, width: int = 12) -> str:
    """A digest as messages show it: ``sha256:ab12…`` or ``dirHash:cd34…``."""
    return f"{algorithm}:{value[:width]}…" if value else "no digest"


def file_uri_path(text: str) -> str | None:
    """The local path a ``file:`` URI names (``file:///x``, ``file://localhost/x``), else ``None``.

    The record writes a local file outside the workspace as a ``file:`` URI (never as a bare
    host path); it is still a local file, hashed like any other.
    """
    if not text.startswith("file:"):
        return None
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(text)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        return None
    return unquote(parts.path)


def is_remote(text: str) -> bool:
    """Whether a recorded location is a URI that names no local file (not ``file:``)."""
    return is_uri(text) and file_uri_path(text) is None
