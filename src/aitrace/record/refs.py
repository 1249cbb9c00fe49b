"""How a record names things: by SHA-256 digest, and by workspace path or URI.

One place for the digest pattern, for checking that bytes are what a digest says, and for
telling a URI from a path, so every reader applies the same rule.
"""

from __future__ import annotations

import hashlib
import re

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
