"""The one home of JSON in aitrace: canonical bytes for digests, and hardened parsing of input.

* **Canonical form** (documented in README "Formats"): UTF-8, object keys sorted by code point,
  no insignificant whitespace, no NaN/Infinity, non-ASCII characters written as themselves.
  Every digest over JSON is computed from ``canonical_bytes``.
* **Untrusted parsing** (``parse_untrusted``): a document from a bundle, a workspace file that may
  have been edited, or a user's file. UTF-8 only, bounded size and nesting depth (found without
  recursion), no duplicate keys (a parser differential is how attestations get smuggled past one
  verifier and shown by another), no NaN/Infinity. Failures raise the caller's error class with
  the source named, never ``ValueError``.
* ``read_json_file`` reads and parses a file with the same rules.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitrace.errors import AitraceError, InvalidBundle

MiB = 1024 * 1024


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


@dataclass(frozen=True)
class JsonLimits:
    """Bounds on an untrusted JSON document."""

    max_size: int = 64 * MiB
    max_depth: int = 64


DEFAULT_LIMITS = JsonLimits()
UNTRUSTED_HINT = "the document is damaged or hostile; do not use it"

# A JSON string (unrolled loop, no backtracking blow-up); an unterminated one runs to the end,
# so stripping strings stays linear on hostile input.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_BRACKETS = bytes.maketrans(b"[]{}", b"()()")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class _Refused(Exception):
    pass


def parse_untrusted(data: bytes, source: str, *, limits: JsonLimits = DEFAULT_LIMITS,
                    error: type[AitraceError] = InvalidBundle,
                    hint: str = UNTRUSTED_HINT) -> Any:
    """Parse untrusted JSON bytes: UTF-8, bounded size and depth, no duplicate keys, no NaN.

    Args:
        data: the document's bytes.
        source: how the document is named in errors (a file, or ``bundle: member 'x'``).
        limits: size and depth bounds.
        error: the ``AitraceError`` subclass raised (``InvalidBundle`` for archives,
            ``InputError`` for a user's file, ``IntegrityError`` for stored history).
        hint: the fix shown with the error.

    Raises:
        AitraceError: of class ``error``, naming ``source`` and what is wrong.
    """
    if len(data) > limits.max_size:
        raise error(f"{source} is {len(data)} bytes of JSON, over the {limits.max_size}-byte "
                    "limit", hint=hint)
    if _too_deep(data, limits.max_depth):
        raise error(f"{source} nests JSON deeper than {limits.max_depth} levels", hint=hint)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{source} is not UTF-8 ({exc.reason} at byte {exc.start})",
                    hint=hint) from None

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                raise _Refused(f"repeats the key '{k}' in one object")
            # Every step, manifest entry, … repeats the same keys: keep one copy of each.
            out[sys.intern(k)] = v
        return out

    def constant(name: str) -> Any:
        raise _Refused(f"uses {name}, which is not JSON")

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except _Refused as exc:
        raise error(f"{source} {exc.args[0]}", hint=hint) from None
    except json.JSONDecodeError as exc:
        raise error(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column "
                    f"{exc.colno}", hint=hint) from None
    except (ValueError, RecursionError) as exc:
        raise error(f"{source} is not valid JSON ({exc})", hint=hint) from None


def read_json_file(path: Path, *, error: type[AitraceError], hint: str,
                   limits: JsonLimits = DEFAULT_LIMITS, source: str | None = None) -> Any:
    """Read and parse a JSON file with ``parse_untrusted``'s rules; errors name the file."""
    name = source or str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limits.max_size + 1)
    except FileNotFoundError:
        raise error(f"{name}: no such file", hint=hint) from None
    except IsADirectoryError:
        raise error(f"{name} is a directory, not a JSON file", hint=hint) from None
    except OSError as exc:
        raise error(f"{name}: cannot read ({exc.strerror or exc})", hint=hint) from None
    return parse_untrusted(data, name, limits=limits, error=error, hint=hint)


def _too_deep(data: bytes, limit: int) -> bool:
    """Whether JSON nests deeper than ``limit``, found without recursion and at C speed.

    Strings are removed, the rest reduced to its brackets, and innermost ``()`` pairs deleted
    ``limit`` times: a pair left over sits deeper than ``limit``. Unbalanced opening brackets
    (invalid JSON) count as depth too, so the parser is never handed a deep unclosed prefix.
    """
    # Without an escaped quote every '"' delimits a string, so splitting strips them at C speed.
    outside = (_JSON_STRING.sub(b"", data) if b'\\"' in data
               else b"".join(data.split(b'"')[0::2]))
    skeleton = outside.translate(_BRACKETS, _NOT_BRACKETS)
    run = b"(" * (limit + 1)
    for _ in range(limit):
        if not skeleton:
            return False
        if run in skeleton:
            return True
        shorter = skeleton.replace(b"()", b"")
        if len(shorter) == len(skeleton):
            break
        skeleton = shorter
    return b"()" in skeleton or skeleton.count(b"(") > limit


# ---------------------------------------------------------------- reading parsed untrusted JSON
# Views read documents from untrusted bundles: these accessors never raise on a wrong type.


def as_map(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def as_number(value: Any) -> float | None:
    """``value`` as a float if it is a JSON number (not a boolean), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def brief(value: Any, limit: int = 80) -> str:
    """A one-line text of a JSON value for display, cut to ``limit`` characters."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
        except (TypeError, ValueError):
            text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain_json(value: Any, *, default: Any = None) -> Any:
    """A detached copy of ``value`` as plain JSON data (lists, dicts, str, finite numbers).

    Used where a value from a plug-in, a config file or a library must become part of a
    document: ``default`` (e.g. ``str``) converts what JSON cannot hold; without it such a value
    raises ``ValueError``, as NaN and infinity always do.
    """
    try:
        return json.loads(json.dumps(value, allow_nan=False, default=default))
    except TypeError as exc:
        raise ValueError(str(exc)) from None
