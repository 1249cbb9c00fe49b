"""Steps linked to MLflow runs: aitrace's own step run, and the user's runs observed read-only.

Real MLflow, no mocks. The user's runs are written by the user's code (in-process or in the
child of ``aitrace run``) to the user's store; aitrace only reads that store.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import rfc8785

import aitrace
from aitrace.cli import main
from aitrace.evidence.mlflow.link import (
    DIGESTED_SYSTEM_TAGS,
    artifact_location,
    check_links,
    default_tracking_uri,
    experiment_name,
    mlflow_key,
    tracking_uri,
)
from aitrace.record.models import MlflowLink
from aitrace.store.workspace import Workspace

SECRET = "s3cr3t-planted-value"
PY = sys.executable


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


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
    # MLFLOW_TRACKING_URI is the user's code's store, not aitrace's.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri(ws) == f"sqlite:///{root}/runs/m.db"
    monkeypatch.setenv("AITRACE_MLFLOW_TRACKING_URI", "http://127.0.0.1:5001")
    assert tracking_uri(ws) == "http://127.0.0.1:5001"


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
    assert link.role == "step" and link.linked_by is None
    assert link.tracking_uri == "sqlite:///.aitrace/mlflow.db"  # relative to the workspace
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

    assert link.data_sha256 == _recompute(run)
    assert check_links(step, root=ws.root) == []
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


# ---------------------------------------------------------------- user runs, in-process


def test_user_run_in_process_is_linked_where_the_user_put_it(
        ws: Workspace, store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow
    from mlflow import MlflowClient

    user_uri = f"sqlite:///{tmp_path}/user.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", user_uri)
    with mlflow.start_run(run_name="outside") as outside:
        pass
    with aitrace.stage("evaluation", workspace=ws) as rec:
        assert os.environ["MLFLOW_TRACKING_URI"] == user_uri  # nothing redirected
        with mlflow.start_run(run_name="user-fit") as user:
            mlflow.log_param("alpha", 0.1)
            mlflow.log_metric("loss", 0.25)
            mlflow.set_tag("team", "risk")
        rec.log_metric("accuracy", 0.9)
    step = ws.steps()[-1]

    client = MlflowClient(user_uri)
    run = client.get_run(user.info.run_id)
    assert run.data.tags["aitrace.step_id"] == step.id
    assert run.data.tags["aitrace.stage"] == "evaluation"
    (link,) = _links(step, "user")
    assert (link.run_id, link.run_name, link.linked_by) == (user.info.run_id, "user-fit", "tag")
    assert link.experiment_id == run.info.experiment_id
    assert link.tracking_uri == user_uri  # outside the workspace: the URI as given
    assert link.data_sha256 == _recompute(run)
    assert outside.info.run_id not in {x.run_id for x in step.mlflow}
    # The user's values reach the step, namespaced; the step's own stay as they are.
    assert step.metrics == {"accuracy": 0.9, "mlflow.loss": 0.25}
    assert step.params == {"mlflow.alpha": "0.1"}
    # The step run (aitrace's store) holds no user run.
    assert {r.info.run_id for r in store.client().search_runs(
        [_links(step, "step")[0].experiment_id])} >= {_links(step, "step")[0].run_id}
    assert user.info.run_id not in {r.info.run_id for r in store.client().search_runs(
        [_links(step, "step")[0].experiment_id])}


def test_default_store_of_the_users_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           store: Any) -> None:
    """No tracking URI: the run lands in MLflow's own default (./mlflow.db), where it is found."""
    import mlflow

    root = tmp_path / "fresh"
    root.mkdir()
    monkeypatch.chdir(root)
    fresh, _ = Workspace.init(root, name="fresh-model")
    with aitrace.stage("evaluation", workspace=fresh):
        assert not [k for k in os.environ if k.startswith("MLFLOW_") and
                    k != "MLFLOW_DISABLE_TELEMETRY"]
        with mlflow.start_run(run_name="mine") as user:
            mlflow.log_param("k", "v")
    step = fresh.steps()[-1]
    (link,) = _links(step, "user")
    assert link.run_id == user.info.run_id
    assert link.tracking_uri == "sqlite:///mlflow.db"  # MLflow's default, inside the project
    assert _links(step, "step")[0].tracking_uri == "sqlite:///.aitrace/mlflow.db"
    assert check_links(step, root=root) == []


# ---------------------------------------------------------------- user runs, aitrace run

CHILD = textwrap.dedent("""
    import json, os, sys
    if os.environ.get("NO_AITRACE"):
        # An interpreter without aitrace: MLflow cannot load aitrace's context provider.
        for name in ("aitrace", "aitrace.integrations", "aitrace.integrations.mlflow_context"):
            sys.modules[name] = None
    import mlflow
    json.dump(sorted(k for k in os.environ if k.startswith("MLFLOW_")), open("env.json", "w"))
    with mlflow.start_run(run_name="fit") as run:
        mlflow.log_param("depth", 3)
        mlflow.log_metric("test_mae", 1.25)
        mlflow.log_text("hello", "notes/readme.txt")
    print(run.info.run_id)
""")


@pytest.mark.parametrize("aitrace_in_child", [True, False])
def test_runs_of_an_aitrace_run_child_are_linked(
        ws: Workspace, store: Any, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str], aitrace_in_child: bool) -> None:
    from mlflow import MlflowClient

    user_uri = f"sqlite:///{ws.root}/user.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", user_uri)
    if not aitrace_in_child:
        monkeypatch.setenv("NO_AITRACE", "1")
    Path("child.py").write_text(CHILD)
    users = sorted(k for k in os.environ if k.startswith("MLFLOW_"))  # the test's own
    assert main(["run", "--stage", "training", "--", PY, "child.py"]) == 0
    run_id = capfd.readouterr().out.strip().splitlines()[-1]
    step = ws.steps()[-1]

    assert json.loads(Path("env.json").read_text()) == users, \
        "aitrace put MLFLOW_* variables into the command's environment"
    (link,) = _links(step, "user")
    assert link.run_id == run_id
    assert link.linked_by == ("tag" if aitrace_in_child else "time-window")
    assert link.tracking_uri == "sqlite:///user.db"
    run = MlflowClient(user_uri).get_run(run_id)
    assert link.data_sha256 == _recompute(run)
    assert ("aitrace.step_id" in run.data.tags) is aitrace_in_child
    assert step.metrics["mlflow.test_mae"] == 1.25 and step.params["mlflow.depth"] == "3"
    # The run's artifact folder is a product of the step.
    artifacts = Path(run.info.artifact_uri.removeprefix("file://"))
    product = next(p for p in step.products if p.role == "mlflow-artifacts")
    assert ws.resolve(product.path) == artifacts and product.type == "directory"


def test_resumed_run_is_linked(ws: Workspace, store: Any, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """MLFLOW_RUN_ID: the command resumes a run created before the step (as `mlflow run` does)."""
    from mlflow import MlflowClient

    user_uri = f"sqlite:///{tmp_path}/resume.db"
    client = MlflowClient(user_uri)
    created = client.create_run(client.create_experiment("resume"), run_name="earlier")
    client.set_terminated(created.info.run_id)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", user_uri)
    monkeypatch.setenv("MLFLOW_RUN_ID", created.info.run_id)
    monkeypatch.setenv("NO_AITRACE", "1")
    script = ("import sys\n"
              "for n in ('aitrace', 'aitrace.integrations',\n"
              "          'aitrace.integrations.mlflow_context'):\n"
              "    sys.modules[n] = None\n"
              "import mlflow\n"
              "with mlflow.start_run():\n"
              "    mlflow.log_metric('rmse', 2.5)\n")
    assert main(["run", "--stage", "evaluation", "--", PY, "-c", script]) == 0
    step = ws.steps()[-1]
    (link,) = _links(step, "user")
    assert link.run_id == created.info.run_id
    assert link.linked_by in ("resumed", "time-window")  # it also ended within the step
    assert step.metrics["mlflow.rmse"] == 2.5


def test_runs_of_other_steps_and_outside_the_window_are_not_linked(
        ws: Workspace, store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient

    user_uri = f"sqlite:///{tmp_path}/busy.db"
    client = MlflowClient(user_uri)
    exp = client.create_experiment("busy")
    before = client.create_run(exp, run_name="before")
    client.set_terminated(before.info.run_id)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", user_uri)
    script = ("import mlflow\n"
              "with mlflow.start_run(run_name='mine'):\n    pass\n"
              "with mlflow.start_run(run_name='theirs', tags={'aitrace.step_id': 'ffff'}):\n"
              "    pass\n")
    assert main(["run", "--stage", "evaluation", "--", PY, "-c", script]) == 0
    step = ws.steps()[-1]
    assert [link.run_name for link in _links(step, "user")] == ["mine"]


# ---------------------------------------------------------------- later edits


def test_check_links_detects_later_edits(ws: Workspace, store: Any, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow
    from mlflow import MlflowClient

    user_uri = f"sqlite:///{tmp_path}/edits.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", user_uri)
    with aitrace.stage("evaluation", workspace=ws) as rec:
        with mlflow.start_run(run_name="user") as user:
            mlflow.log_param("alpha", 0.1)
        rec.log_metric("accuracy", 0.9)
    step = ws.steps()[-1]
    step_run = _links(step, "step")[0].run_id
    client = MlflowClient(user_uri)
    assert check_links(step, root=ws.root) == []

    client.set_tag(user.info.run_id, "mlflow.runName", "renamed in the UI")
    client.set_tag(user.info.run_id, "mlflow.note.content", "a note")
    assert check_links(step, root=ws.root) == [], "cosmetic system tags are not covered"

    client.log_param(user.info.run_id, "beta", "sneaked in")
    (problem,) = check_links(step, root=ws.root)
    assert problem.link.run_id == user.info.run_id
    assert "changed since the step ended" in str(problem)

    own = store.client()
    own.set_tag(step_run, "aitrace.status", "succeeded-really")
    own.log_metric(step_run, "accuracy", 0.99)
    assert {p.link.run_id for p in check_links(step, root=ws.root)} == \
        {user.info.run_id, step_run}

    client.delete_run(user.info.run_id)
    reasons = {p.link.run_id: p.reason for p in check_links(step, root=ws.root)}
    assert reasons[user.info.run_id] == "the run was deleted"

    ghost = step.with_(mlflow=(MlflowLink(tracking_uri=user_uri, experiment_id="1",
                                          run_id="0" * 32, data_sha256="0" * 64),))
    (missing,) = check_links(ghost)
    assert missing.reason == "the run no longer exists"


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


def test_a_store_of_another_mlflow_schema_is_never_migrated(
        tmp_path: Path, store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """aitrace.yaml pointing aitrace at a store an older MLflow wrote: refused, not upgraded."""
    import shutil
    import sqlite3

    old = tmp_path / "old.db"
    shutil.copy(store.ws.dir / "mlflow.db", old)
    con = sqlite3.connect(old)
    con.execute("UPDATE alembic_version SET version_num = '0584bdc529eb'")  # MLflow 2.x's
    con.commit()
    con.close()
    digest = _sha(old)
    root = tmp_path / "p"
    root.mkdir()
    ws, _ = Workspace.init(root, name="p")
    cfg = root / "aitrace.yaml"
    cfg.write_text(cfg.read_text().replace("  tracking_uri:\n", f"  tracking_uri: sqlite:///{old}\n"))
    with aitrace.stage("problem", workspace=Workspace(root)):
        pass
    assert "does not migrate it" in capsys.readouterr().err
    assert Workspace(root).steps()[-1].status == "succeeded"
    assert _sha(old) == digest


def test_step_runs_off_still_links_the_users_runs(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """mlflow.step_runs: false — no aitrace run, no MLflow import in aitrace; links stay."""

    root = tmp_path / "quick"
    root.mkdir()
    Workspace.init(root, name="quick")
    cfg = root / "aitrace.yaml"
    cfg.write_text(cfg.read_text().replace("  step_runs: true", "  step_runs: false"))
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///user.db")
    Path("child.py").write_text(CHILD)
    code = ("import sys; from aitrace.cli import main; rc = main(sys.argv[1:]); "
            "print('MLFLOW-IMPORTED' if 'mlflow' in sys.modules else 'MLFLOW-NOT-IMPORTED', "
            "file=sys.stderr); sys.exit(rc)")
    done = subprocess.run([PY, "-c", code, "run", "--stage", "training", "--", PY, "child.py"],
                          capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "MLFLOW-NOT-IMPORTED" in done.stderr
    (step,) = Workspace(root).steps()
    assert [m.role for m in step.mlflow] == ["user"]
    assert step.metrics["mlflow.test_mae"] == 1.25
    assert not (root / ".aitrace" / "mlflow.db").exists()
