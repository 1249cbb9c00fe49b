"""How a record names things: by SHA-256 digest, and by workspace path or URI.

One place for the digest pattern, for checking that bytes are what a digest says, and for
telling a URI from a path, so every reader applies the same rule.
"""

from __future__ import annotations

import hashlib
from typing import Literal

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
