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
    """A compiled validator of steps (the shipped schema, else the model's own).

    Use it with ``aitrace.record.validation.first_error``; compiled once per process, it checks
    a step in microseconds, so verifying a record of thousands of steps stays fast.
    """
    from aitrace.record.models import step_schema
    from aitrace.record.validation import compiled_validator

    return compiled_validator(shipped("step.schema.json") or step_schema())
