"""The step's MLflow run carries the GX summary as metrics and params (real MLflow, SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest

import aitrace
from aitrace.store.workspace import Workspace
from tests.helpers.gx import CLEAN_CSV, failing_suite


@pytest.mark.slow
def test_gx_metrics_reach_the_step_run(mlflow_workspace: Workspace) -> None:
    from mlflow.tracking import MlflowClient

    Path("clean.csv").write_text(CLEAN_CSV)
    with aitrace.stage("cleaning", inputs=["clean.csv"]) as rec:
        rec.check("clean.csv", suite=failing_suite())
        rec.check("clean.csv", pack="labels")
    step = Workspace.find().steps()[-1]
    (link,) = [m for m in step.mlflow if m.role == "step"]
    run = MlflowClient(link.tracking_uri).get_run(link.run_id)
    m = run.data.metrics
    assert m["gx.success"] == 0.0 and m["gx.checks"] == 2.0
    assert m["gx.failed_expectations"] == 1.0
    assert m["gx.clean-strict.success"] == 0.0 and m["gx.aitrace.labels.success"] == 1.0
    assert run.data.params["gx.version"].startswith("1.")
    assert len(run.data.params["gx.clean-strict.suite_sha256"]) == 64
