"""The published JSON Schemas of the record's documents, as shipped with aitrace.

Installed copies live in the package as ``aitrace/_schemas`` (a source checkout reads
``schemas/``); they are generated from the models by ``python -m aitrace.schemas`` and a test
fails on drift, so a shipped schema is always the one the models define.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from aitrace.errors import WorkspaceError
from aitrace.record.jsonio import read_json_file


def schema_dirs() -> tuple[Path, ...]:
    """Where shipped schemas are looked for: the installed copy, then a checkout's ``schemas/``."""
    package = Path(__file__).resolve().parents[1]
    return (package / "_schemas", package.parents[1] / "schemas")


@cache
def shipped(name: str) -> dict[str, Any] | None:
    """The shipped schema ``name`` (e.g. ``step.schema.json``), or ``None`` when not shipped."""
    for base in schema_dirs():
        path = base / name
        if path.is_file():
            doc = read_json_file(path, error=WorkspaceError,
                                 hint="reinstall aitrace: its schema files are damaged")
            return doc if isinstance(doc, dict) else None
    return None


@cache
def step_validator() -> Any:
    """A JSON Schema validator of steps (the shipped schema, else the model's own)."""
    import jsonschema

    from aitrace.record.models import step_schema

    schema = shipped("step.schema.json") or step_schema()
    return jsonschema.validators.validator_for(schema)(schema)
