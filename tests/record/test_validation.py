"""Compiled JSON Schema validation: the first error in document order, path-precise, offline."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from aitrace.record.schemas import step_validator
from aitrace.record.validation import MAX_MESSAGE, compiled_validator, first_error

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": {"type": "integer"}},
        "when": {"type": "string", "format": "date-time"},
        "name": {"type": "string"},
    },
    "required": ["name"],
}


def test_valid_document_has_no_error() -> None:
    assert first_error(compiled_validator(SCHEMA), {"name": "x", "items": [1, 2]}) is None


def test_first_error_is_in_document_order_with_numeric_indexes() -> None:
    doc = {"name": "x", "items": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, "ten", 11, "two"]}
    doc["items"][2] = "two"
    # items/2 comes before items/10 (numeric order, not "10" < "2").
    assert first_error(compiled_validator(SCHEMA), doc) == 'at items/2: "two" is not of type ' \
        '"integer"'


def test_root_errors_are_at_dollar() -> None:
    err = first_error(compiled_validator(SCHEMA), {"items": []})
    assert err is not None and err.startswith("at $: ") and "name" in err


def test_formats_are_checked() -> None:
    """``date-time`` is enforced (the pure-Python validator skips it without extras)."""
    err = first_error(compiled_validator(SCHEMA), {"name": "x", "when": "yesterday"})
    assert err is not None and err.startswith("at when: ") and "date-time" in err
    assert first_error(compiled_validator(SCHEMA), {"name": "x",
                                                    "when": "2026-12-01T10:00:00Z"}) is None


def test_long_messages_are_capped() -> None:
    err = first_error(compiled_validator(SCHEMA), {"name": ["y" * 2000]})
    assert err is not None and len(err) <= len("at name: ") + MAX_MESSAGE and err.endswith("…")


def test_refs_resolve_from_given_resources_only() -> None:
    """A ``$ref`` to a registered URI resolves offline; any other remote one cannot compile."""
    uri = "http://example.invalid/defs.json"
    schema = {"$schema": "http://json-schema.org/draft-07/schema#",
              "properties": {"n": {"$ref": f"{uri}#/definitions/n"}}}
    defs = {"definitions": {"n": {"type": "integer"}}}
    v = compiled_validator(schema, [(uri, defs)])
    assert first_error(v, {"n": "1"}) == 'at n: "1" is not of type "integer"'
    assert first_error(v, {"n": 1}) is None
    with pytest.raises(jsonschema_rs.ValidationError, match="not present in a registry"):
        compiled_validator(schema)


def test_step_validator_names_the_bad_field() -> None:
    from aitrace.record.models import STEP_FORMAT, Actor, Step

    step = Step(format=STEP_FORMAT, id="s1", record_id="r1", seq=1, stage="training",
                status="succeeded", started_at="2026-12-01T10:00:00Z",
                ended_at="2026-12-01T10:00:01Z", actor=Actor(user="u", host="h"), prev=None)
    doc = step.to_dict()
    assert first_error(step_validator(), doc) is None
    doc["seq"] = "one"
    assert first_error(step_validator(), doc) == 'at seq: "one" is not of type "integer"'
    del doc["actor"]
    err = first_error(step_validator(), doc)
    assert err is not None and err.startswith("at $: ") and "actor" in err
