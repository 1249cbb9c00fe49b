"""How a record names things: by SHA-256 digest, and by workspace path or URI.

One place for the digest pattern, for checking that bytes are what a digest says, and for
telling a URI from a path, so every reader applies the same rule.
"""

from __future__ import annotations

import hashlib

SHA256_HEX = r"[0-9a-f]{64}"
"""A SHA-256 as the record writes it: 64 lowercase hex digits, no prefix."""


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as the record writes it."""
    return hashlib.sha256(data).hexdigest()


def bytes_match(data: bytes, sha256: str) -> bool:
    """Whether ``data`` are exactly the bytes named by ``sha256``."""
    return hashlib.sha256(data).hexdigest() == sha256


def is_uri(text: str) -> bool:
    """Whether a recorded location is a URI (``scheme://...``) rather than a workspace path."""
    return "://" in text
