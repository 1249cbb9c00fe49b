"""diff between two bundles of one pipeline run twice: the changed metric and digests show."""

from __future__ import annotations

import json

import pytest

from aitrace.cli import main
from tests.helpers.pipeline import Pipeline


def test_diff_shows_changed_metric_digests_and_steps(
        pipeline: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(pipeline.bundle_a), str(pipeline.bundle_b), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["format"] == "aitrace.diff/v1"
    assert d["steps"]["same_record"] is True
    assert [s["stage"] for s in d["steps"]["added"]] == ["training", "evaluation", "deployment"]
    reruns = {s["stage"]: s for s in d["steps"]["stages"]}
    assert reruns["training"]["rerun"] and reruns["training"]["b_steps"] == 2
    acc = next(m for m in d["metrics"] if m["stage"] == "evaluation" and m["name"] == "accuracy")
    assert acc["old"] == pytest.approx(0.93) and acc["new"] == pytest.approx(0.89)
    assert acc["delta"] == pytest.approx(-0.04)
    model = next(a for a in d["artifacts"] if a["stage"] == "training"
                 and a["path"] == "models/model.pkl")
    assert model["change"] == "changed" and model["kind"] == "model"
    assert model["old"] != model["new"] and len(model["new"]) == 64
    assert any(a["path"] == "dist/model.pkl" for a in d["artifacts"])
    assert not any(a["path"] == "data/clean.csv" for a in d["artifacts"])  # unchanged data
    params = {(p["stage"], p["name"]): p for p in d["params"]}
    assert params[("training", "n_estimators")]["new"] == "200"
    assert d["licences"] == []


def test_diff_text(pipeline: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(pipeline.bundle_a), str(pipeline.bundle_b)]) == 0
    out = capsys.readouterr().out
    assert "accuracy: 0.93 → 0.89  (Δ -0.04)" in out
    assert "models/model.pkl" in out and "not verified" in out
    assert main(["diff", str(pipeline.bundle_a), str(pipeline.bundle_b),
                 "--key", str(pipeline.release_pub)]) == 0
    assert "not verified" not in capsys.readouterr().out.split("Steps:")[0]


def test_diff_unit_libraries_and_approvals() -> None:
    from aitrace.report.diff import _compare_versions

    assert _compare_versions("1.2.0", "1.10.0") == "upgraded"
    assert _compare_versions("2.0", "1.9") == "downgraded"
    assert _compare_versions("abc", "abd") == "changed"
