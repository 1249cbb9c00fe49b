"""The ``aitrace.plugins`` entry points: the scikit-learn plug-in is discovered and used; broken
plug-ins are warnings, never failures."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import Any

import pytest

import aitrace
from aitrace import plugins
from aitrace.plugins import DescribeContext, PluginWarning, describe, discover
from aitrace.record.stages import EVIDENCE_SBOM
from tests.helpers.sbom import check_bom


@pytest.fixture(autouse=True)
def _fresh_discovery() -> Any:
    discover.cache_clear()
    yield
    discover.cache_clear()


def test_sklearn_plugin_is_discovered_via_entry_points() -> None:
    found = {p.name: p for p in discover()}
    assert "sklearn" in found, ("aitrace-sklearn is not installed: "
                                "run `.venv/bin/pip install -e plugins/aitrace-sklearn`")
    assert found["sklearn"].version == "0.1.0"
    assert type(found["sklearn"].plugin).__module__ == "aitrace_sklearn"


def test_fitted_estimator_lands_in_the_step_model_card(workspace: Any) -> None:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    features, y = load_iris(return_X_y=True, as_frame=True)
    est = RandomForestClassifier(n_estimators=3, random_state=0).fit(features, y)
    Path("model.pkl").write_bytes(pickle.dumps(est))
    with aitrace.stage("training") as step:
        step.output("model.pkl", role="model")
        ref = describe(step, est, "model.pkl")  # through the discovered entry point
        assert ref is not None and ref.kind == plugins.EVIDENCE_MODEL_DESCRIPTION
        assert ref.summary["path"] == "model.pkl" and ref.subject is not None
    saved = workspace.steps()[-1]
    bom_ref = next(e for e in saved.evidence if e.kind == EVIDENCE_SBOM)
    doc = json.loads(workspace.read_object(bom_ref.sha256))
    check_bom(doc)
    model = doc["metadata"]["component"]
    mp = model["modelCard"]["modelParameters"]
    assert mp["modelArchitecture"] == "RandomForestClassifier"
    assert mp["task"] == "classification" and mp["approach"] == {"type": "supervised"}
    assert "sepal length (cm)" in mp["inputs"][0]["format"]
    props = {p["name"]: p["value"] for p in model["properties"]}
    assert json.loads(props["sklearn:params"])["n_estimators"] == 3
    assert props["sklearn:n_features_in"] == "4"
    assert props["aitrace:plugins"].startswith("sklearn")


class _Raises:
    name = "raises"

    def describe_model(self, subject: object, context: DescribeContext) -> Any:
        raise RuntimeError("boom")


class _Misspells:
    name = "misspells"

    def describe_model(self, subject: object, context: DescribeContext) -> Any:
        return {"modelCard": {"modelParameters": {"archtecture": "x"}}}


def test_failing_plugins_are_warnings(workspace: Any) -> None:
    with aitrace.stage("training") as step:
        with pytest.warns(PluginWarning, match="'raises' failed to describe"):
            assert describe(step, object(), None, plugins=[_Raises()]) is None
        with pytest.warns(PluginWarning, match="invalid description"):
            assert describe(step, object(), None, plugins=[_Misspells()]) is None
    assert workspace.steps()[-1].status == "succeeded"


def test_broken_entry_point_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "site" / "broken_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[aitrace.plugins]\nbroken = no_such_module:PLUGIN\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.warns(PluginWarning, match="'broken' .* failed to load"):
        names = [p.name for p in discover()]
    assert "broken" not in names
    assert "no_such_module" not in sys.modules
