"""Steps linked to runs on a real `mlflow server` (remote tracking is how a team shares records)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aitrace
from aitrace.evidence.mlflow.link import check_links, tracking_uri
from aitrace.store.workspace import Workspace
from tests.helpers.servers import MlflowServer, free_port, mlflow_server

SECRET = "s3cr3t-planted-value"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """`mlflow server` on a free local port, healthy, stopped with SIGTERM afterwards."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as running:
        yield running


@pytest.mark.slow
def test_step_linked_on_remote_server_without_leaking_secrets(
        server: MlflowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        grep_tree: Any, capfd: pytest.CaptureFixture[str]) -> None:
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("AITRACE_TEST_API_TOKEN", SECRET)
    # The user's code and aitrace's step runs both go to the team's server, each by its own
    # variable (aitrace never reads the user's MLFLOW_TRACKING_URI for its own runs).
    monkeypatch.setenv("MLFLOW_TRACKING_URI",
                       f"http://aitrace:{SECRET}@127.0.0.1:{server.port}")
    monkeypatch.setenv("AITRACE_MLFLOW_TRACKING_URI",
                       f"http://aitrace:{SECRET}@127.0.0.1:{server.port}")
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    ws, _ = Workspace.init(root, name="test-model")

    with aitrace.stage("evaluation", workspace=ws) as rec:
        with mlflow.start_run(run_name="user-remote") as user:
            mlflow.log_param("alpha", 0.1)
        rec.log_params({"lr": 0.01, "registry": f"https://ci:{SECRET}@registry.example.org"})
        rec.log_metrics({"accuracy": 0.91})
    step = ws.steps()[-1]

    assert sorted(link.role for link in step.mlflow) == ["step", "user"]
    for link in step.mlflow:
        assert link.tracking_uri == server.url  # credentials stripped
    step_link = next(link for link in step.mlflow if link.role == "step")
    user_link = next(link for link in step.mlflow if link.role == "user")
    assert user_link.run_id == user.info.run_id and user_link.linked_by == "tag"
    assert step.params["mlflow.alpha"] == "0.1"  # read back through the REST API

    remote = MlflowClient(server.url)
    exp = remote.get_experiment(step_link.experiment_id)
    assert exp.name == "aitrace/test-model"
    assert exp.artifact_location.startswith((server.data / "artifacts").as_uri())
    run = remote.get_run(step_link.run_id)
    assert run.data.tags["aitrace.step_id"] == step.id
    assert run.data.tags["aitrace.stage"] == "evaluation"
    assert run.data.params == {"lr": "0.01", "registry": "https://registry.example.org",
                               "mlflow.alpha": "0.1"}  # the step's values, the user's too
    assert run.data.metrics == {"accuracy": 0.91}
    assert remote.get_run(user.info.run_id).data.tags["aitrace.step_id"] == step.id
    assert check_links(step) == []

    remote.log_param(user.info.run_id, "late", "edit")
    assert [p.link.run_id for p in check_links(step)] == [user.info.run_id]

    assert tracking_uri(ws).endswith(f"@127.0.0.1:{server.port}")  # the env var, as given
    assert grep_tree(ws.root, SECRET.encode()) == []
    assert grep_tree(server.data, SECRET.encode()) == []  # server DB, artifacts and log
    out, err = capfd.readouterr()
    # MLflow prints the user's own run URL (the user's code, the user's credentials); aitrace
    # keeps its step run's URL off the terminal.
    assert f"evaluation-{step.id[:12]}" not in out + err


def test_unreachable_server_keeps_the_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AITRACE_MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    root = tmp_path / "project"
    root.mkdir()
    ws, _ = Workspace.init(root, name="offline")
    with aitrace.stage("problem", workspace=ws):
        pass
    step = ws.steps()[-1]
    assert step.status == "succeeded"
    assert step.mlflow == ()
    assert "MLflow run not linked" in capsys.readouterr().err
