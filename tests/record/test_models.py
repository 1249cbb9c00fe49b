"""Typed models: to_json / from_json (errors name the field path) / json_schema."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jsonschema
import pytest

from aitrace.errors import InputError
from aitrace.record._model import field, from_json, json_schema, to_json
from aitrace.record.models import (
    Actor,
    Artifact,
    Command,
    EvidenceRef,
    MlflowLink,
    Record,
    Step,
    Subject,
    step_schema,
)

H1, H2 = "a" * 64, "b" * 64


def full_step() -> Step:
    return Step(
        format="aitrace.step/v1", id="s1", record_id="r1", seq=2, stage="training",
        status="failed", started_at="2026-01-01T00:00:00.000000Z",
        ended_at="2026-01-01T00:00:01.000000Z", actor=Actor(user="u", host="h"), prev=H1,
        command=Command(argv=("python", "train.py"), exit_code=3, cwd="."),
        materials=(Artifact(path="data/clean.csv", type="file", sha256=H2, size=10,
                            origin="https://example.org/x", license="CC0-1.0", role="dataset"),),
        products=(Artifact(path="models", type="directory", sha256=H1, size=0),
                  Artifact(path="s3://bucket/m", type="uri")),
        evidence=(EvidenceRef(kind="gx-validation", media_type="application/json", sha256=H2,
                              size=5, summary={"success": False, "n": [1, 2]},
                              subject=Subject(path="data/clean.csv", sha256=H2), bound=True),),
        mlflow=(MlflowLink(tracking_uri="sqlite:///x.db", experiment_id="1", run_id="abc",
                           data_sha256=H1),),
        params={"lr": "0.1"}, metrics={"acc": 0.5}, error="boom",
    )


def test_roundtrip() -> None:
    step = full_step()
    assert Step.from_dict(step.to_dict()) == step
    assert Step.from_dict(copy.deepcopy(step.to_dict())).digest == step.digest


def test_none_fields_omitted_but_prev_always_present() -> None:
    step = full_step().with_(prev=None, command=None, error=None)
    d = step.to_dict()
    assert d["prev"] is None
    assert "command" not in d and "error" not in d and "code" not in d
    assert Step.from_dict(d) == step


def _err(data: Any, cls: type = Step) -> str:
    with pytest.raises(InputError) as info:
        from_json(cls, data, source=".aitrace/steps/000002.json")
    err = info.value
    assert err.hint, "every user-facing error carries a hint"
    assert ".aitrace/steps/000002.json" in err.message
    return err.message


@pytest.mark.parametrize(("mutate", "path", "what"), [
    (lambda d: d.pop("stage"), "'stage'", "is missing"),
    (lambda d: d.update(stage="trainig"), "'stage'", "must be one of"),
    (lambda d: d.update(seq="2"), "'seq'", "must be an integer"),
    (lambda d: d.update(seq=True), "'seq'", "must be an integer"),
    (lambda d: d.update(prev="XYZ"), "'prev'", "does not match"),
    (lambda d: d["actor"].pop("host"), "'actor.host'", "is missing"),
    (lambda d: d["materials"][0].update(sha256="nothex"), "'materials[0].sha256'",
     "does not match"),
    (lambda d: d["materials"][0].update(size=1.5), "'materials[0].size'", "must be an integer"),
    (lambda d: d["products"][1].update(type="folder"), "'products[1].type'", "must be one of"),
    (lambda d: d["evidence"][0]["subject"].update(sha256=1), "'evidence[0].subject.sha256'",
     "must be a string"),
    (lambda d: d["evidence"][0].update(bound="yes"), "'evidence[0].bound'",
     "must be true or false"),
    (lambda d: d["metrics"].update(acc="high"), "'metrics.acc'", "must be a number"),
    (lambda d: d["params"].update(lr=0.1), "'params.lr'", "must be a string"),
    (lambda d: d.update(materials={}), "'materials'", "must be an array"),
    (lambda d: d.update(actor=[]), "'actor'", "must be an object"),
    (lambda d: d["command"].update(argv=["a", 1]), "'command.argv[1]'", "must be a string"),
])
def test_errors_name_the_field_path(mutate: Any, path: str, what: str) -> None:
    d = full_step().to_dict()
    mutate(d)
    msg = _err(d)
    assert f"field {path} {what}" in msg


def test_unknown_field_rejected_with_its_path() -> None:
    d = full_step().to_dict()
    d["evidence"][0]["subject"]["extra"] = 1
    assert "field 'evidence[0].subject.extra' is not a known field" in _err(d)
    d = full_step().to_dict()
    d["zzz"] = 1
    assert "field 'zzz' is not a known field" in _err(d)


def test_top_level_not_an_object() -> None:
    assert "field '$' must be an object" in _err([1, 2])


def test_float_accepts_integers() -> None:
    d = full_step().to_dict()
    d["metrics"]["acc"] = 1
    step = Step.from_dict(d)
    assert step.metrics["acc"] == 1.0 and isinstance(step.metrics["acc"], float)


@dataclass(frozen=True)
class _Inner:
    """Inner thing."""

    n: int


@dataclass(frozen=True)
class _Outer:
    """Outer thing."""

    name: str = field(description="a name", pattern=r"[a-z]+")
    kind: Literal["x", "y"] = "x"
    inner: _Inner | None = None
    items: tuple[_Inner, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


def test_small_model_schema_and_parse() -> None:
    schema = json_schema(_Outer, schema_id="urn:x", title="t")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "urn:x" and schema["title"] == "t"
    assert schema["required"] == ["name"]
    assert schema["additionalProperties"] is False
    assert schema["description"] == "Outer thing."
    assert schema["properties"]["name"] == {"description": "a name", "type": "string",
                                            "pattern": "[a-z]+"}
    assert schema["properties"]["kind"] == {"enum": ["x", "y"]}
    assert schema["properties"]["inner"] == {"anyOf": [{"$ref": "#/$defs/_Inner"},
                                                       {"type": "null"}]}
    assert schema["$defs"]["_Inner"]["required"] == ["n"]
    jsonschema.Draft202012Validator.check_schema(schema)
    obj = from_json(_Outer, {"name": "ab", "items": [{"n": 1}], "extra": {"k": [1, None]}})
    assert obj == _Outer(name="ab", items=(_Inner(1),), extra={"k": [1, None]})
    assert to_json(obj) == {"name": "ab", "kind": "x", "items": [{"n": 1}],
                            "extra": {"k": [1, None]}}
    assert "field 'name' does not match" in _err({"name": "AB"}, _Outer)
    assert from_json(_Outer, {"name": "a", "inner": None}).inner is None


def test_unsupported_type_is_a_bug_not_user_input() -> None:
    @dataclass(frozen=True)
    class Bad:
        x: set[int]

    with pytest.raises(TypeError, match="unsupported model type"):
        from_json(Bad, {"x": [1]})


def test_step_schema_accepts_full_step_and_rejects_what_from_json_rejects() -> None:
    schema = step_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    good = full_step().to_dict()
    v.validate(good)
    for mutate in (lambda d: d.update(zzz=1), lambda d: d.update(status="done"),
                   lambda d: d["materials"][0].update(sha256="x"),
                   lambda d: d.pop("actor")):
        bad = copy.deepcopy(good)
        mutate(bad)
        assert not v.is_valid(bad)
        with pytest.raises(InputError):
            Step.from_dict(bad)


def test_record_model() -> None:
    doc = {"format": "aitrace.record/v1", "id": "r", "name": "n", "created_at": "t"}
    assert Record.from_dict(doc).id == "r"
    with pytest.raises(InputError, match="field 'format' must be one of"):
        Record.from_dict({**doc, "format": "aitrace.record/v9"})
