"""Steps linked to MLflow runs in the embedded SQLite store (real MLflow, no mocks)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rfc8785

import aitrace
from aitrace.evidence.mlflow.link import (
    DIGESTED_SYSTEM_TAGS,
    artifact_location,
    check_links,
    default_tracking_uri,
    experiment_name,
    mlflow_key,
    run_data_digest,
    run_env,
    tracking_uri,
)
from aitrace.hooks import env as hooks_env
from aitrace.hooks import tracker as tracker
from aitrace.record.models import MlflowLink
from aitrace.store.workspace import Workspace

SECRET = "s3cr3t-planted-value"


def _recompute(run: Any) -> str:
    """data_sha256 as documented, computed independently of aitrace's helpers."""
    doc = {
        "format": "aitrace.mlflow-run-data/v1",
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": {k: v for k, v in run.data.tags.items()
                 if not k.startswith("mlflow.") or k in DIGESTED_SYSTEM_TAGS},
    }
    return hashlib.sha256(rfc8785.dumps(doc)).hexdigest()  # RFC 8785, as a v2 step has it


def _links(step: Any, role: str) -> list[MlflowLink]:
    return [link for link in step.mlflow if link.role == role]


# ---------------------------------------------------------------- the context provider


# ---------------------------------------------------------------- resolution (no MLflow)


def test_tracking_uri_resolution(workspace: Workspace,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = workspace.root
    assert tracking_uri(workspace) == f"sqlite:///{root}/.aitrace/mlflow.db"
    assert default_tracking_uri(workspace) == tracking_uri(workspace)
    assert experiment_name(workspace) == "aitrace/test-model"
    assert artifact_location(workspace, tracking_uri(workspace)) == \
        (root / ".aitrace" / "mlruns").as_uri()
    assert artifact_location(workspace, "http://mlflow.example:5000") is None

    cfg = root / "aitrace.yaml"
    cfg.write_text(cfg.read_text()
                   .replace("  tracking_uri:\n", "  tracking_uri: sqlite:///runs/m.db\n")
                   .replace("  experiment:\n", "  experiment: team/churn\n"))
    ws = Workspace(root)
    assert tracking_uri(ws) == f"sqlite:///{root}/runs/m.db"  # the project's, not the cwd's
    assert experiment_name(ws) == "team/churn"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri(ws) == "http://127.0.0.1:5000"


@pytest.mark.parametrize(("name", "key"), [
    ("lr", "lr"), ("model/depth", "model/depth"), ("bad(key)", "bad_key_"),
    ("/abs", "_abs"), ("a//b", "a__b"), ("..", "_.."), ("ünï", "ünï"), ("", "_"),
])
def test_mlflow_key(name: str, key: str) -> None:
    assert mlflow_key(name) == key


# ---------------------------------------------------------------- the step run


def test_step_run_in_embedded_store(ws: Workspace, store: Any, grep_tree: Any,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AITRACE_TEST_API_TOKEN", SECRET)
    with aitrace.stage("evaluation", workspace=ws, description="hold-out check") as rec:
        rec.log_params({"threshold": 0.5, "bad(key)": "x",
                        "endpoint": f"https://bob:{SECRET}@models.example.org/v1",
                        "token_echo": SECRET})
        rec.log_metrics({"accuracy": 0.93, "f1": 1})
    step = ws.steps()[-1]

    (link,) = step.mlflow
    assert link.role == "step"
    assert link.tracking_uri == f"sqlite:///{ws.root}/.aitrace/mlflow.db"
    assert link.run_name == f"evaluation-{step.id[:12]}"

    client = store.client()
    exp = client.get_experiment(link.experiment_id)
    assert exp.name == "aitrace/test-model"
    assert exp.artifact_location == (ws.dir / "mlruns").as_uri()
    run = client.get_run(link.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == link.run_name
    assert run.data.tags["aitrace.step_id"] == step.id
    assert run.data.tags["aitrace.record_id"] == step.record_id == ws.record.id
    assert run.data.tags["aitrace.stage"] == "evaluation"
    assert run.data.tags["aitrace.status"] == "succeeded"
    assert run.data.tags["aitrace.workspace"] == str(ws.root)
    assert run.data.tags["mlflow.user"] == step.actor.user
    assert run.data.tags["mlflow.note.content"] == "hold-out check"
    assert run.data.params["threshold"] == "0.5"
    assert run.data.params["bad_key_"] == "x"  # MLflow's key rules; the step keeps the name
    assert step.params["bad(key)"] == "x"
    assert run.data.params["endpoint"] == "https://models.example.org/v1"
    assert run.data.metrics == {"accuracy": 0.93, "f1": 1.0}
    assert run.info.start_time < run.info.end_time

    assert link.data_sha256 == _recompute(run) == run_data_digest(client, link.run_id)
    assert check_links(step) == []
    assert grep_tree(ws.root, SECRET.encode()) == []  # .aitrace/ and the MLflow DB


def test_failed_step_gives_failed_run(ws: Workspace, store: Any) -> None:
    def fail() -> None:
        with aitrace.stage("evaluation", workspace=ws) as rec:
            rec.log_metric("partial", 1.0)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail()
    step = ws.steps()[-1]
    assert step.status == "failed"
    run = store.client().get_run(_links(step, "step")[0].run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["aitrace.status"] == "failed"
    assert run.data.metrics == {"partial": 1.0}


# ---------------------------------------------------------------- user runs


def test_user_run_in_process_is_tagged_and_linked(ws: Workspace, store: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri(ws))
    with mlflow.start_run(run_name="outside") as outside:
        pass
    with aitrace.stage("evaluation", workspace=ws) as rec:
        with mlflow.start_run(run_name="user-fit") as user:
            mlflow.log_param("alpha", 0.1)
            mlflow.log_metric("loss", 0.25)
            mlflow.set_tag("team", "risk")
        rec.log_metric("accuracy", 0.9)
    step = ws.steps()[-1]

    client = store.client()
    assert not [k for k in client.get_run(outside.info.run_id).data.tags
                if k.startswith("aitrace.")]
    run = client.get_run(user.info.run_id)
    assert run.data.tags["aitrace.step_id"] == step.id
    assert run.data.tags["aitrace.record_id"] == ws.record.id
    assert run.data.tags["aitrace.stage"] == "evaluation"
    assert run.data.tags["aitrace.workspace"] == str(ws.root)

    (link,) = _links(step, "user")
    assert link.run_id == user.info.run_id
    assert link.run_name == "user-fit"
    assert link.experiment_id == run.info.experiment_id
    assert link.tracking_uri == tracking_uri(ws)
    assert link.data_sha256 == _recompute(run)
    assert [x.run_id for x in step.mlflow].count(user.info.run_id) == 1
    assert outside.info.run_id not in {x.run_id for x in step.mlflow}


def test_user_run_without_a_tracking_uri_lands_in_the_record_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
        store: Any) -> None:
    """No tracking URI set: the stage routes the user's own run to .aitrace/, then restores env."""
    import os

    import mlflow

    root = tmp_path / "fresh"
    root.mkdir()
    monkeypatch.chdir(root)
    fresh, _ = Workspace.init(root, name="fresh-model")
    with aitrace.stage("evaluation", workspace=fresh):
        with mlflow.start_run(run_name="mine") as user:
            mlflow.log_param("k", "v")
        capfd.readouterr()  # MLflow's own output while creating the store is not ours
    _, err = capfd.readouterr()
    assert err == "", "aitrace let MLflow noise reach the terminal"
    step = fresh.steps()[-1]
    (link,) = _links(step, "user")
    assert link.run_id == user.info.run_id
    assert link.tracking_uri == default_tracking_uri(fresh)
    assert _links(step, "step")[0].experiment_id == link.experiment_id
    assert not (root / "mlflow.db").exists() and not (root / "mlruns").exists()
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert "MLFLOW_EXPERIMENT_NAME" not in os.environ


def test_child_process_runs_are_tagged_and_linked(ws: Workspace, store: Any,
                                                  tmp_path: Path) -> None:
    """What `aitrace run` does: run_env() plus AITRACE_* for a child that uses MLflow itself."""
    import os

    script = ("import mlflow\n"
              "with mlflow.start_run(run_name='child') as r:\n"
              "    mlflow.log_param('depth', 3)\n"
              "    mlflow.log_text('hello', 'notes.txt')\n"
              "    print(r.info.run_id)\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with aitrace.stage("evaluation", workspace=ws) as rec:
        env = {**os.environ, **run_env(ws), hooks_env.ENV_STEP_ID: rec.id,
               hooks_env.ENV_RECORD_ID: rec.record_id, hooks_env.ENV_STAGE: rec.stage,
               "AITRACE_WORKSPACE": str(ws.root)}
        assert env["MLFLOW_TRACKING_URI"] == tracking_uri(ws)
        assert env["MLFLOW_EXPERIMENT_NAME"] == "aitrace/test-model"
        assert env["MLFLOW_DISABLE_TELEMETRY"] == "true"
        done = subprocess.run([sys.executable, "-c", script], env=env, cwd=elsewhere,
                              capture_output=True, text=True, check=True, timeout=120)
    run_id = done.stdout.strip().splitlines()[-1]
    step = ws.steps()[-1]
    (link,) = _links(step, "user")
    assert link.run_id == run_id

    client = store.client()
    run = client.get_run(run_id)
    assert run.data.tags["aitrace.step_id"] == step.id
    assert run.data.tags["aitrace.stage"] == "evaluation"
    assert run.data.tags["aitrace.workspace"] == str(ws.root)
    assert client.get_experiment(run.info.experiment_id).name == "aitrace/test-model"
    # The artifact-location trap: nothing lands in the child's working directory.
    assert run.info.artifact_uri.startswith((ws.dir / "mlruns").as_uri())
    assert list(elsewhere.iterdir()) == []
    assert link.data_sha256 == _recompute(run)


# ---------------------------------------------------------------- later edits


def test_check_links_detects_later_edits(ws: Workspace, store: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri(ws))
    with aitrace.stage("evaluation", workspace=ws) as rec:
        with mlflow.start_run(run_name="user") as user:
            mlflow.log_param("alpha", 0.1)
        rec.log_metric("accuracy", 0.9)
    step = ws.steps()[-1]
    step_run = _links(step, "step")[0].run_id
    client = store.client()
    assert check_links(step) == []

    client.set_tag(user.info.run_id, "mlflow.runName", "renamed in the UI")
    client.set_tag(user.info.run_id, "mlflow.note.content", "a note")
    assert check_links(step) == [], "cosmetic system tags are not covered"

    client.log_param(user.info.run_id, "beta", "sneaked in")
    (problem,) = check_links(step)
    assert problem.link.run_id == user.info.run_id
    assert "changed since the step ended" in str(problem)

    client.set_tag(step_run, "aitrace.status", "succeeded-really")
    client.log_metric(step_run, "accuracy", 0.99)
    assert {p.link.run_id for p in check_links(step)} == {user.info.run_id, step_run}

    client.delete_run(user.info.run_id)
    reasons = {p.link.run_id: p.reason for p in check_links(step)}
    assert reasons[user.info.run_id] == "the run was deleted"

    ghost = step.with_(mlflow=(MlflowLink(tracking_uri=tracking_uri(ws), experiment_id="1",
                                          run_id="0" * 32, data_sha256="0" * 64),))
    (missing,) = check_links(ghost)
    assert missing.reason == "the run no longer exists"

    # The stored URI can be overridden (a moved store): the same runs are found there.
    moved = Path(str(store.ws.dir / "mlflow.db"))
    assert {p.link.run_id for p in check_links(step, tracking_uri=f"sqlite:///{moved}")} == \
        {user.info.run_id, step_run}


# ---------------------------------------------------------------- failure paths


def _shared_store_workspace(tmp_path: Path, store: Any, experiment: str) -> Workspace:
    root = tmp_path / "other"
    root.mkdir()
    ws, _ = Workspace.init(root, name="other")
    cfg = root / "aitrace.yaml"
    cfg.write_text(cfg.read_text()
                   .replace("  tracking_uri:\n", f"  tracking_uri: {tracking_uri(store.ws)}\n")
                   .replace("  experiment:\n", f"  experiment: {experiment}\n"))
    return Workspace(root)


def test_deleted_experiment_is_reported_and_the_step_kept(
        tmp_path: Path, store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ws = _shared_store_workspace(tmp_path, store, "gone")
    client = store.client()
    client.delete_experiment(client.create_experiment("gone"))
    with aitrace.stage("problem", workspace=ws):
        pass
    err = capsys.readouterr().err
    assert "MLflow run not linked" in err
    assert "experiment 'gone'" in err and "is deleted" in err
    step = ws.steps()[-1]
    assert step.status == "succeeded"
    assert step.mlflow == ()


def test_run_env(tmp_path: Path, store: Any, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:
    ws = _shared_store_workspace(tmp_path, store, "env/exp")
    env = run_env(ws)
    assert env == {"MLFLOW_TRACKING_URI": tracking_uri(store.ws),
                   "MLFLOW_EXPERIMENT_NAME": "env/exp", "MLFLOW_DISABLE_TELEMETRY": "true"}
    exp = store.client().get_experiment_by_name("env/exp")
    assert exp.artifact_location == (ws.dir / "mlruns").as_uri()

    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "0")
    assert "MLFLOW_EXPERIMENT_NAME" not in run_env(ws)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri(store.ws))
    assert run_env(ws) == {"MLFLOW_DISABLE_TELEMETRY": "true"}

    # A deleted experiment does not stop the user's command: a warning, no experiment name.
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID")
    client = store.client()
    client.delete_experiment(client.create_experiment("doomed"))
    (tmp_path / "d").mkdir()
    doomed = _shared_store_workspace(tmp_path / "d", store, "doomed")
    assert "MLFLOW_EXPERIMENT_NAME" not in run_env(doomed)
    assert "experiment 'doomed' not prepared" in capsys.readouterr().err
