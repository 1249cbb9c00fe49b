"""The one CycloneDX 1.6 validator: compiled, offline, formats checked, path-precise errors."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from aitrace.evidence.sbom.validate import (
    check_bom,
    component_error,
    model_card_error,
    validate_bom,
)
from tests.helpers.bundle import small_sbom


def _bom(**extra: Any) -> dict[str, Any]:
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, **extra}


def test_library_bom_is_valid() -> None:
    assert validate_bom(json.loads(small_sbom("models/m.pkl", "ab" * 32))) is None


@pytest.mark.parametrize(("doc", "where", "words"), [
    (_bom(components=[{"type": "not-a-type", "name": "x"}]), "components/0/type",
     "is not one of"),
    (_bom(metadata={"timestamp": "yesterday"}), "metadata/timestamp", "date-time"),
    (_bom(components=[{"type": "library", "name": "x", "externalReferences": [
        {"type": "website", "url": "not a uri with spaces"}]}]),
     "components/0/externalReferences/0/url", "anyOf"),
    (_bom(components=[{"type": "library", "name": "x", "colour": "red"}]), "components/0",
     "'colour' was unexpected"),
    (_bom(specVersion=1.6), "specVersion", "is not of type"),
])
def test_errors_name_the_json_path(doc: dict[str, Any], where: str, words: str) -> None:
    err = validate_bom(doc)
    assert err is not None and err.startswith(f"at {where}: "), err
    assert words in err


def test_formats_are_enforced_not_skipped() -> None:
    """``date-time`` and ``iri-reference`` are checked whatever extras are installed."""
    assert validate_bom(_bom(metadata={"timestamp": "2026-12-01T10:00:00Z"})) is None
    assert validate_bom(_bom(metadata={"timestamp": "2026-13-01T10:00:00Z"})) is not None


def test_fragment_errors_are_relative_to_the_fragment() -> None:
    assert model_card_error({"userz": 1}) == \
        "at modelCard: Additional properties are not allowed ('userz' was unexpected)"
    assert model_card_error({"modelParameters": {"task": "classification"}}) is None
    err = component_error({"type": "data", "name": "x", "data": [{"type": "nope"}]})
    assert err is not None and err.startswith("at data/0/type: ")


def test_python_values_are_checked_as_the_json_they_become() -> None:
    """A plug-in's fragment may hold tuples or non-string keys; JSON would hold lists/strings."""
    assert model_card_error({"modelParameters": {"task": "classification",
                                                 "datasets": ({"ref": "d"},)}}) is None
    err = model_card_error({"properties": {1: "x"}})
    assert err is not None and err.startswith("at modelCard/properties: ")
    assert model_card_error({"userz": {1, 2}}) == \
        "at $: not JSON (Object of type set is not JSON serializable)"


def test_an_invalid_generated_bom_is_a_bug() -> None:
    with pytest.raises(RuntimeError, match=r"internal error: .*\(at components/0/type: "):
        check_bom(_bom(components=[{"type": "not-a-type", "name": "x"}]))


def test_validation_imports_no_pure_python_jsonschema() -> None:
    """No ``jsonschema`` (whose format checkers may import ``rfc3987-syntax``, seconds)."""
    code = ("import sys, json; from aitrace.evidence.sbom.validate import validate_bom;"
            "from aitrace.record.schemas import step_validator; step_validator();"
            "assert validate_bom(json.loads(sys.argv[1])) is None;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('jsonschema', 'rfc3987_syntax', 'lark')))")
    out = subprocess.run([sys.executable, "-c", code, small_sbom("m.pkl", "ab" * 32).decode()],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert out.strip() == "[]"
