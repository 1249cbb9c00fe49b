"""The JSON Schemas aitrace publishes, generated from the code's models.

``schemas/`` in the repository holds the checked-in output of ``python -m aitrace.schemas``; a
test regenerates them and fails on any drift, so the published schemas are always the ones the
code validates against. Installed copies live in the package as ``aitrace/_schemas``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from aitrace.errors import AitraceError
from aitrace.record.jsonio import pretty_bytes
from aitrace.record.schemas import shipped

# file name under schemas/ -> "module:function" producing the schema
REGISTRY: dict[str, str] = {
    "record.schema.json": "aitrace.record.models:record_schema",
    "step.schema.json": "aitrace.record.models:step_schema",
    "manifest.schema.json": "aitrace.bundle.format:manifest_schema",
    "predicate.schema.json": "aitrace.bundle.format:predicate_schema",
    "policy.schema.json": "aitrace.verify.policy:policy_schema",
    "approval.schema.json": "aitrace.signing.approvals:approval_predicate_schema",
    "risk-register.schema.json": "aitrace.evidence.governance.models:risk_register_schema",
    "self-check.schema.json": "aitrace.evidence.governance.models:checklist_schema",
    "trace-sample.schema.json": "aitrace.evidence.monitoring.models:trace_sample_schema",
    "output-review.schema.json": "aitrace.evidence.monitoring.models:output_review_schema",
    "user-feedback.schema.json": "aitrace.evidence.monitoring.models:user_feedback_schema",
}


def generate(name: str) -> dict[str, Any]:
    """Build one schema from its model.

    Raises:
        AitraceError: the registry entry names a module or function that does not exist. That
            is a bug in aitrace, never something to skip: a schema silently missing from
            ``generate_all`` would let the published copy drift unnoticed.
    """
    entry = REGISTRY[name]
    module, sep, func = entry.partition(":")
    hint = f"fix the entry for {name!r} in REGISTRY (aitrace/schemas.py): \"module:function\""
    if not sep or not module or not func:
        raise AitraceError(f"schema registry entry {name!r} -> {entry!r} is not "
                           "\"module:function\"", hint=hint)
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise AitraceError(f"schema {name!r}: cannot import {module} ({exc})", hint=hint) from exc
    fn: Callable[[], dict[str, Any]] | None = getattr(mod, func, None)
    if fn is None or not callable(fn):
        raise AitraceError(f"schema {name!r}: {module} has no function {func}", hint=hint)
    return fn()


def generate_all() -> dict[str, dict[str, Any]]:
    """Every registered schema; a registry entry that cannot be built is an error."""
    return {name: generate(name) for name in REGISTRY}


def repo_schema_dir() -> Path:
    """``schemas/`` of a source checkout."""
    return Path(__file__).resolve().parents[2] / "schemas"


@cache
def load(name: str) -> dict[str, Any]:
    """A schema as shipped (installed copy, else the checkout's, else generated)."""
    return shipped(name) or generate(name)


def validator(name: str) -> Any:
    """A jsonschema validator for one of our schemas (imports jsonschema lazily)."""
    import jsonschema

    schema = load(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def main(argv: list[str] | None = None) -> int:
    """Write every schema into ``schemas/`` (or the directory given)."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else repo_schema_dir()
    target.mkdir(parents=True, exist_ok=True)
    for name, schema in generate_all().items():
        (target / name).write_bytes(pretty_bytes(schema))
        print(f"wrote {target / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
