"""Canonical JSON: the one byte form every digest over JSON is computed from.

Canonical form (documented in README "Formats"): UTF-8, object keys sorted by code point, no
insignificant whitespace, no NaN/Infinity, non-ASCII characters written as themselves. Anyone can
recompute a digest with ``json.dumps(obj, sort_keys=True, separators=(",", ":"),
ensure_ascii=False, allow_nan=False).encode("utf-8")``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_bytes(obj: Any) -> bytes:
    """Serialise ``obj`` to canonical JSON bytes (raises ``ValueError`` on NaN/Infinity)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_digest(obj: Any) -> str:
    """Hex SHA-256 of the canonical JSON of ``obj``."""
    return hashlib.sha256(canonical_bytes(obj)).hexdigest()


def pretty_bytes(obj: Any) -> bytes:
    """Stable human-readable JSON (sorted keys, 2-space indent, trailing newline)."""
    return (
        json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    ).encode("utf-8")
