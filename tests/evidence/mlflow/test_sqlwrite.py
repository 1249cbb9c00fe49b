"""The step run written into the embedded store without MLflow is the one MLflow's client writes.

Real MLflow reads both back. When the store is not one the direct writer knows, MLflow's client
writes the run as before.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import aitrace
from aitrace.evidence.mlflow.link import (
    check_links,
    direct_store,
    experiment_name,
    log_step_run,
    log_step_run_direct,
    prepare_store,
    step_run_contents,
)
from aitrace.evidence.mlflow.sqlwrite import can_write, write_step_run
from aitrace.record.models import Step
from aitrace.store.workspace import Workspace


def _step(ws: Workspace, **metrics: float) -> Step:
    with aitrace.stage("evaluation", workspace=ws, description="hold-out check") as rec:
        rec.log_params({"threshold": 0.5, "bad(key)": "x", "path/to": "y", "n": 3})
        rec.log_metrics({"accuracy": 0.93, "f1": 1, **metrics})
    return ws.steps()[-1]


def _shown(client: Any, run_id: str) -> dict[str, Any]:
    """Everything MLflow's client shows of a run, its id masked."""
    run = client.get_run(run_id)
    info = run.info
    return {"experiment_id": info.experiment_id, "run_name": info.run_name,
            "status": info.status, "start_time": info.start_time, "end_time": info.end_time,
            "user_id": info.user_id, "lifecycle_stage": info.lifecycle_stage,
            "artifact_uri": info.artifact_uri.replace(run_id, "<id>"),
            "params": dict(run.data.params), "metrics": dict(run.data.metrics),
            "tags": dict(run.data.tags),
            "history": [(m.key, m.value, m.timestamp, m.step) for k in sorted(run.data.metrics)
                        for m in client.get_metric_history(run_id, k)]}


def test_direct_and_client_runs_are_the_same_for_mlflow(ws: Workspace, store: Any) -> None:
    step = _step(ws, **{"loss/val": 0.125})
    direct = log_step_run_direct(step, ws)
    via_client = log_step_run(prepare_store(ws), step, ws)
    assert direct is not None
    assert direct.run_id != via_client.run_id
    assert direct.data_sha256 == via_client.data_sha256
    assert (direct.tracking_uri, direct.experiment_id, direct.run_name, direct.role) == \
        (via_client.tracking_uri, via_client.experiment_id, via_client.run_name, "step")
    client = store.client()
    assert _shown(client, direct.run_id) == _shown(client, via_client.run_id)
    # The step recorded in the workspace got its run the direct way, and it checks out.
    (link,) = step.mlflow
    assert _shown(client, link.run_id) == _shown(client, direct.run_id)
    assert check_links(step, root=ws.root) == []


def test_a_step_with_the_store_ready_never_imports_mlflow(ws: Workspace) -> None:
    assert direct_store(ws) is not None
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "aitrace", "run", "--stage",
                           "design", "--", "true"], cwd=ws.root, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:") and "|" in line}
    assert "aitrace.evidence.mlflow.sqlwrite" in imported
    assert not {m for m in imported if m.split(".")[0] in ("mlflow", "sqlalchemy")}
    step = Workspace(ws.root).steps()[-1]
    assert [link.role for link in step.mlflow] == ["step"]
    assert check_links(step, root=ws.root) == []


def test_a_schema_it_does_not_know_is_left_to_mlflow(ws: Workspace, store: Any,
                                                      tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    shutil.copyfile(ws.dir / "mlflow.db", db)
    name = experiment_name(ws)
    assert can_write(db, name)
    assert not can_write(db, "no/such-experiment")
    con = sqlite3.connect(db)
    con.execute("UPDATE alembic_version SET version_num = 'f00dcafe0001'")
    con.commit()
    con.close()
    assert not can_write(db, name)
    assert write_step_run(db, name, step_run_contents(ws.steps()[-1], str(ws.root))) is None
    assert not can_write(tmp_path / "missing.db", name)


def test_rows_mlflow_would_refuse_are_left_to_mlflow(ws: Workspace, store: Any) -> None:
    from dataclasses import replace

    run = step_run_contents(_step(ws), str(ws.root))
    db = ws.dir / "mlflow.db"
    twice = replace(run, params=(*run.params, ("bad_key_", "other")))  # bad(key) -> bad_key_
    assert write_step_run(db, experiment_name(ws), twice) is None
    nan = replace(run, metrics=(("m", float("nan")),))
    assert write_step_run(db, experiment_name(ws), nan) is None
    assert write_step_run(db, experiment_name(ws), run) is not None


def test_a_deleted_experiment_goes_through_mlflow(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "p"
    root.mkdir()
    ws, _ = Workspace.init(root, name="gone")
    monkeypatch.chdir(root)
    assert direct_store(ws) is None  # no store yet: MLflow creates it
    prepared = prepare_store(ws)
    assert direct_store(ws) is not None
    prepared.client.delete_experiment(prepared.experiment_id)
    assert direct_store(ws) is None
