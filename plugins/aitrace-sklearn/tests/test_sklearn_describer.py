"""The scikit-learn describer on real estimators; it never touches files or non-estimators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aitrace_sklearn import PLUGIN, record
from sklearn.cluster import KMeans
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aitrace.evidence.sbom.validate import model_card_error
from aitrace.plugins import DescribeContext

CTX = DescribeContext(path="models/m.pkl")
X = np.arange(40, dtype=float).reshape(20, 2)


def _describe(obj: object) -> dict[str, Any]:
    got = PLUGIN.describe_model(obj, CTX)
    assert got is not None
    assert model_card_error(got["modelCard"]) is None  # valid CycloneDX 1.6
    return got


def test_pipeline_classifier() -> None:
    y = np.array(["a", "b"] * 10)
    est = make_pipeline(StandardScaler(), LogisticRegression(C=np.float64(0.5))).fit(X, y)
    got = _describe(est)
    mp = got["modelCard"]["modelParameters"]
    assert mp["modelArchitecture"] == "Pipeline(StandardScaler -> LogisticRegression)"
    assert mp["task"] == "classification"
    assert mp["approach"] == {"type": "supervised"}
    assert mp["architectureFamily"] == "linear model"
    assert mp["outputs"] == [{"format": "class label, one of 2: a, b"}]
    props = got["properties"]
    assert json.loads(props["sklearn:params"])["logisticregression__C"] == 0.5
    assert props["sklearn:class"] == "sklearn.pipeline.Pipeline"
    assert props["sklearn:fitted"] == "true"


def test_regressor_and_clusterer() -> None:
    reg = _describe(LinearRegression().fit(X, X[:, 0]))["modelCard"]["modelParameters"]
    assert reg["task"] == "regression"
    assert reg["outputs"] == [{"format": "continuous value"}]
    km = _describe(KMeans(n_clusters=2, n_init=1, random_state=0).fit(X))
    assert km["modelCard"]["modelParameters"]["approach"] == {"type": "unsupervised"}


def test_unfitted_and_foreign_objects() -> None:
    assert _describe(LogisticRegression())["properties"]["sklearn:fitted"] == "false"
    assert PLUGIN.describe_model(object(), CTX) is None
    assert PLUGIN.describe_model(Path("models/m.pkl"), CTX) is None


def test_record_inside_a_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import aitrace
    from aitrace.store.workspace import Workspace

    monkeypatch.chdir(tmp_path)
    Workspace.init(tmp_path, name="t")
    cfg = tmp_path / "aitrace.yaml"
    cfg.write_text(cfg.read_text().replace("  enabled: true", "  enabled: false"))
    est = LinearRegression().fit(X, X[:, 0])
    with aitrace.stage("design", sbom=False) as step:
        ref = record(step, est, path="not-saved-yet.pkl")
    assert ref is not None
    assert ref.subject is None
    assert ref.summary["plugins"] == ["sklearn 0.1.0"]
