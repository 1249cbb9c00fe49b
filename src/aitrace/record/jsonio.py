"""The one home of JSON in aitrace: canonical bytes for digests, and hardened parsing of input.

* **Canonical form, format v2** (README "Formats"): RFC 8785, the JSON Canonicalization Scheme
  (JCS), through the ``rfc8785`` library — UTF-8, no insignificant whitespace, object keys
  sorted by their UTF-16 code units, numbers as ECMAScript prints them (``1.0`` → ``1``,
  ``1e-05`` → ``0.00001``), strings with the minimal escapes. Any RFC 8785 implementation (Node's
  ``JSON.stringify`` over key-sorted objects is one for aitrace's data) gives the same bytes, so
  every digest over JSON can be recomputed without Python. ``canonical_bytes`` refuses what
  JCS cannot express exactly — an integer beyond ±(2**53 − 1), NaN or infinity, a lone surrogate,
  a key that is not a string — with an ``InputError`` naming the field: nothing that cannot be
  canonicalised is ever written.
* **Canonical form, format v1** (``legacy_canonical_bytes``): Python's ``json.dumps`` with sorted
  keys and compact separators. Only for the digests of v1 steps, which stay as they were.
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
import math
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitrace.errors import AitraceError, InputError, InvalidBundle

MiB = 1024 * 1024


def canonical_bytes(obj: Any, *, what: str = "the document") -> bytes:
    """RFC 8785 canonical bytes of ``obj`` (format v2: what is written and what is hashed).

    Args:
        obj: plain JSON data (dicts with string keys, lists or tuples, str, int, float, bool,
            None).
        what: how the document is named in the error (``"step 3"``, ``"evidence summary"``).

    Raises:
        InputError: ``obj`` holds a value RFC 8785 cannot write exactly; the message names the
            field (e.g. ``metrics.n`` holds the integer 9007199254740993) and the hint says
            how to record it instead.
    """
    import rfc8785

    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, RecursionError):
        raise _not_canonical(obj, what) from None


def canonical_digest(obj: Any, *, what: str = "the document") -> str:
    """Hex SHA-256 of the RFC 8785 canonical bytes of ``obj``."""
    return hashlib.sha256(canonical_bytes(obj, what=what)).hexdigest()


def is_canonical(data: bytes) -> bool:
    """Whether ``data`` are exactly the RFC 8785 form of the JSON they hold.

    Numbers are read as RFC 8785 defines them, as IEEE 754 doubles (``jcs_number``): JCS writes
    the double ``1.5e18`` as ``1500000000000000000``, which Python's ``json.loads`` would read
    as an integer too large for ``rfc8785.dumps``. Duplicate keys, invalid UTF-8, or a number
    no double holds exactly as written make this false.
    """
    import rfc8785

    try:
        doc = parse_untrusted(data, "document", parse_int=jcs_number)
    except AitraceError:
        return False
    if _python_form_is_jcs(doc) and legacy_canonical_bytes(doc) == data:
        return True  # the fast path: C-speed json.dumps writes exactly JCS for this document
    try:
        return rfc8785.dumps(doc) == data
    except (rfc8785.CanonicalizationError, RecursionError):
        return False


def _python_form_is_jcs(doc: Any) -> bool:
    """Whether Python's sorted, compact ``json.dumps`` of ``doc`` is its RFC 8785 form too.

    The two agree on strings (the same minimal escapes, UTF-8 as is) and integers; they differ
    only on floats Python prints with an exponent or a trailing ``.0`` and on keys outside the
    Basic Multilingual Plane (sorted by code point versus UTF-16 unit). A document without
    either is written identically, so ``is_canonical`` can compare at C speed.
    """
    stack = [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if any(not isinstance(k, str) or any(ord(c) > 0xFFFF for c in k) for k in value):
                return False
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, float):
            text = repr(value)
            if "e" in text or "n" in text or text.endswith(".0"):  # exponent, inf/nan, 1.0
                return False
    return True


def jcs_number(text: str) -> int | float:
    """A JSON integer literal as RFC 8785 reads it (``json.loads(..., parse_int=jcs_number)``).

    An ``int`` where a double holds it exactly (|n| ≤ 2**53 − 1), else the double.
    """
    n = int(text)
    return n if -_SAFE_INT <= n <= _SAFE_INT else float(text)


def legacy_canonical_bytes(obj: Any) -> bytes:
    """Format v1's canonical JSON: Python's sorted, compact ``json.dumps`` (v1 step digests)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def legacy_canonical_digest(obj: Any) -> str:
    """Hex SHA-256 of format v1's canonical JSON of ``obj``: a v1 step's digest."""
    return hashlib.sha256(legacy_canonical_bytes(obj)).hexdigest()


def document_bytes(obj: Any) -> bytes:
    """The bytes of a JSON evidence document aitrace stores (GX results, ML-BOMs, captures).

    RFC 8785 whenever it can express the document, so every JSON member of a bundle is in
    canonical form. A document produced by another tool may hold a number JCS cannot write
    exactly (an integer column's sum beyond 2**53): rather than lose or alter that evidence it
    is kept compact with sorted keys (format v1's form, exact for big integers). Either way
    the document is addressed by the SHA-256 of exactly these bytes.
    """
    import rfc8785

    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, RecursionError):
        return legacy_canonical_bytes(obj)


def document_digest(obj: Any) -> str:
    """Hex SHA-256 of ``document_bytes(obj)``: the address such a document is stored under."""
    return hashlib.sha256(document_bytes(obj)).hexdigest()


_SAFE_INT = 2**53 - 1


def _not_canonical(obj: Any, what: str) -> InputError:
    """The ``InputError`` naming the first value of ``obj`` that RFC 8785 cannot write."""
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:
        path, value = stack.pop()
        where = f"field '{path or '$'}'"
        problem = _scalar_problem(value)
        if problem:
            return InputError(f"cannot write {what}: {where} {problem}",
                              hint=_CANONICAL_HINT)
        if isinstance(value, dict):
            for key in reversed(list(value)):
                if not isinstance(key, str):
                    return InputError(f"cannot write {what}: {where} has the key {key!r}, "
                                      "which is not a string", hint=_CANONICAL_HINT)
                if _scalar_problem(key):
                    return InputError(f"cannot write {what}: {where} has a key holding a lone "
                                      "surrogate (not UTF-8)", hint=_CANONICAL_HINT)
                stack.append((f"{path}.{key}" if path else key, value[key]))
        elif isinstance(value, (list, tuple)):
            for i in reversed(range(len(value))):
                stack.append((f"{path}[{i}]", value[i]))
        elif not isinstance(value, (str, int, float, bool)) and value is not None:
            return InputError(f"cannot write {what}: {where} holds a {type(value).__name__}, "
                              "which is not JSON", hint=_CANONICAL_HINT)
    return InputError(f"cannot write {what}: it nests too deeply for RFC 8785 canonical JSON",
                      hint=_CANONICAL_HINT)


_CANONICAL_HINT = ("record integers beyond ±(2**53 − 1) as strings, and leave NaN and infinity "
                   "out: RFC 8785 canonical JSON, which every digest is computed over, cannot "
                   "write them exactly")


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if -_SAFE_INT <= value <= _SAFE_INT:
            return None
        text = str(value) if value.bit_length() <= 128 else f"of {value.bit_length()} bits"
        return (f"holds the integer {text}, outside the range RFC 8785 writes exactly "
                "(±(2**53 − 1))")
    if isinstance(value, float):
        return None if math.isfinite(value) else f"holds {value}, which JSON cannot hold"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "holds a lone surrogate (text that is not valid Unicode, e.g. a file name " \
                   "that is not UTF-8)"
    return None


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
                    hint: str = UNTRUSTED_HINT,
                    parse_int: Callable[[str], Any] | None = None) -> Any:
    """Parse untrusted JSON bytes: UTF-8, bounded size and depth, no duplicate keys, no NaN.

    Args:
        data: the document's bytes.
        source: how the document is named in errors (a file, or ``bundle: member 'x'``).
        limits: size and depth bounds.
        error: the ``AitraceError`` subclass raised (``InvalidBundle`` for archives,
            ``InputError`` for a user's file, ``IntegrityError`` for stored history).
        hint: the fix shown with the error.
        parse_int: how integer literals are read (``jcs_number``: as RFC 8785 does).

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
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant,
                          parse_int=parse_int)
    except _Refused as exc:
        raise error(f"{source} {exc.args[0]}", hint=hint) from None
    except json.JSONDecodeError as exc:
        # json's messages name the position last ("Unterminated string starting at"): put the
        # position first so the sentence is whole.
        reason = exc.msg[:-3] + " here" if exc.msg.endswith(" at") else exc.msg
        raise error(f"{source} is not valid JSON at line {exc.lineno}, column {exc.colno}: "
                    f"{reason}", hint=hint) from None
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
