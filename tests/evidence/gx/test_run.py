"""``evidence.gx.run.check_data``: what ``aitrace check`` calls, usable without the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aitrace.errors import InputError
from aitrace.evidence.gx.run import CheckOptions, CheckRun, check_data
from aitrace.record.stages import EVIDENCE_GX
from aitrace.store.workspace import Workspace

CSV = "id,age,label\n" + "".join(f"{i},{20 + i % 40},{'cat' if i % 2 else 'dog'}\n"
                                 for i in range(40))
SUITE = {"name": "ages", "expectations": [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "age"}},
    {"type": "expect_column_max_to_be_between",
     "kwargs": {"column": "age", "min_value": 0, "max_value": 30}},  # ages reach 59: fails
]}


@pytest.fixture
def project(workspace: Workspace) -> Workspace:
    (workspace.root / "data.csv").write_text(CSV)
    (workspace.root / "ages.json").write_text(json.dumps(SUITE))
    return workspace


def _stored(ws: Workspace) -> list[Path]:
    return sorted(p for p in ws.dir.rglob("*") if p.is_file() and "cache" not in p.parts)


def test_one_step_one_evidence_per_check(project: Workspace) -> None:
    run = check_data(project, "data.csv", stage="labeling", suites=[Path("ages.json")],
                     packs=["labels"], options=CheckOptions(label_column="label",
                                                            labels=("cat", "dog")))
    assert isinstance(run, CheckRun)
    (step,) = project.steps()
    assert run.step == step and step.stage == "labeling" and step.status == "succeeded"
    assert [m.path for m in step.materials] == ["data.csv"]
    assert [c.summary["suite_name"] for c in run.checks] == ["ages", "aitrace.labels"]
    assert [c.success for c in run.checks] == [False, True] and not run.success
    gx = [e for e in step.evidence if e.kind == EVIDENCE_GX]
    assert [c.evidence for c in run.checks] == gx
    assert all(c.evidence.bound for c in run.checks)  # the data is the step's input
    doc = run.to_dict()
    assert doc["step"] == {"seq": 1, "id": step.id, "stage": "labeling"}
    assert doc["success"] is False
    assert doc["checks"][1]["pack"] == "labels" and doc["checks"][0]["pack"] is None
    assert doc["checks"][0]["evidence_sha256"] == gx[0].sha256


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"stage": "baking", "suites": [Path("ages.json")]}, "unknown stage 'baking'"),
    ({"stage": "cleaning"}, "nothing to check"),
    ({"stage": "cleaning", "suites": [Path("ages.json")], "engine": "dask"},
     "unknown engine 'dask'"),
    ({"stage": "cleaning", "packs": ["labels"],
      "options": CheckOptions(label_column="nope")}, "label column 'nope' is not a column"),
])
def test_bad_input_raises_before_anything_is_stored(project: Workspace, kwargs: dict[str, object],
                                                    message: str) -> None:
    before = _stored(project)
    with pytest.raises(InputError, match=message):
        check_data(project, "data.csv", **kwargs)  # type: ignore[arg-type]
    assert _stored(project) == before and project.pending() == []


def test_options_as_prepare_checks_takes_them() -> None:
    assert CheckOptions().as_kwargs() == {"min_class_share": 0.05, "redact": False}
    opts = CheckOptions(label_column="y", labels=("a",), privacy_columns=("c",), redact=True,
                        min_class_share=0.1)
    assert opts.as_kwargs() == {"label_column": "y", "labels": ["a"], "columns": ["c"],
                                "redact": True, "min_class_share": 0.1}
