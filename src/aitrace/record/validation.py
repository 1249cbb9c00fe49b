"""Compiled JSON Schema validation (jsonschema-rs): the first error as a value, with its path.

Verification validates every step and every SBOM of a bundle, and recording validates every
BOM before it is written, so validation must cost microseconds, not the tens of milliseconds
(or seconds, once ``rfc3987-syntax`` is installed) the pure-Python ``jsonschema`` takes on a
CycloneDX document. jsonschema-rs compiles a schema once, resolves ``$ref``s from the
resources it is given (never from the network) and checks ``format`` keywords itself, so
``jsonschema``'s format checkers are never imported on these paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aitrace.errors import MissingDependencyError

MAX_MESSAGE = 300
"""Longest error message kept: jsonschema-rs quotes the failing instance, which may be large."""


def _jsonschema_rs() -> Any:
    try:
        import jsonschema_rs
    except ImportError as exc:  # a broken install: it is a declared dependency
        raise MissingDependencyError(
            f"JSON Schema validation needs the jsonschema-rs package ({exc})",
            hint="reinstall aitrace: pip install --force-reinstall aitrace") from None
    return jsonschema_rs


def compiled_validator(schema: Mapping[str, Any],
                       resources: Iterable[tuple[str, Mapping[str, Any]]] = ()) -> Any:
    """A compiled validator for ``schema`` (its ``$schema`` draft), formats checked.

    Args:
        schema: the JSON Schema.
        resources: ``(uri, schema)`` pairs its ``$ref``s point to; any other remote ``$ref``
            fails to compile (retrieval is off: validation never touches the network).

    Raises:
        MissingDependencyError: jsonschema-rs is not installed.
    """
    rs = _jsonschema_rs()
    local = [(uri, dict(doc)) for uri, doc in resources]
    registry = rs.Registry(local) if local else None
    return rs.validator_for(dict(schema), validate_formats=True, registry=registry,
                            offline=True)


def _path_key(path: Iterable[str | int]) -> list[tuple[int, str | int]]:
    # Array indexes sort numerically and before keys, so "items/2" comes before "items/10".
    return [(0, p) if isinstance(p, int) else (1, str(p)) for p in path]


def first_error(validator: Any, doc: Any) -> str | None:
    """``"at <path>: <message>"`` for the first error in document order, or ``None`` if valid.

    The path is the failing value's JSON path (``components/0/type``; ``$`` for the root), so
    a message names the exact place to fix.
    """
    if validator.is_valid(doc):
        return None
    errors = sorted(validator.iter_errors(doc), key=lambda e: _path_key(e.instance_path))
    if not errors:  # pragma: no cover - is_valid and iter_errors always agree
        return None
    err = errors[0]
    where = "/".join(str(p) for p in err.instance_path) or "$"
    message = str(err.message)
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE - 1] + "…"
    return f"at {where}: {message}"
