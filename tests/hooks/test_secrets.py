"""A planted secret never reaches .aitrace/ or the MLflow store, whatever path it takes.

Secrets are planted in a secret-named environment variable (also allow-listed for capture), a
URL credential (a declared source, a git remote and a command argument) and a ``--password``
argument of a command recorded with ``aitrace run``; then every byte under the workspace is
searched for them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import aitrace
from aitrace.cli import main
from aitrace.store.workspace import Workspace

ENV_SECRET = "planted-env-Zq81xK"
URL_SECRET = "planted-url-Hw27pL"
ARG_SECRET = "planted-arg-Vt55mN"
HEADER_SECRET = "planted-hdr-Qa19cC"
ALL = (ENV_SECRET, URL_SECRET, ARG_SECRET, HEADER_SECRET)

CHILD = ("import os, sys; from pathlib import Path; "
         "assert os.environ['DATA_API_TOKEN']; "
         "Path('out.txt').write_text('rows=3\\n'); "
         "print('child saw', len(sys.argv), 'args')")


def _plant(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_API_TOKEN", ENV_SECRET)
    cfg = ws.root / "aitrace.yaml"
    cfg.write_text(cfg.read_text().replace("env_allow: []", "env_allow: [DATA_API_TOKEN]"))
    subprocess.run(["git", "init", "-q"], cwd=ws.root, check=True)
    subprocess.run(["git", "remote", "add", "origin",
                    f"https://bob:{URL_SECRET}@git.example.org/m.git"], cwd=ws.root, check=True)


def _record(ws: Workspace, extra: list[str]) -> None:
    Path("in.csv").write_text("a\n1\n")
    argv = ["run", "--stage", "collection", *extra, "--input", "in.csv", "--output", "out.txt",
            "--source", f"https://alice:{URL_SECRET}@data.example.org/raw.csv,license=CC0-1.0",
            "--", sys.executable, "-c", CHILD, "--password", ARG_SECRET,
            f"--db=https://u:{URL_SECRET}@db.example.org/x", f"--token={ENV_SECRET}",
            "-H", f"Authorization: Bearer {HEADER_SECRET}"]
    assert main(argv) == 0
    # The Python hooks, with secrets in params, a URI input and a failure message.
    def failing_stage() -> None:
        with aitrace.stage("cleaning", inputs=["out.txt"]) as rec:
            rec.input(f"s3://key:{URL_SECRET}@bucket/extra.csv")
            rec.log_params({"endpoint": f"https://x:{URL_SECRET}@api.example.org",
                            "auth": ENV_SECRET})
            raise RuntimeError(f"could not reach https://x:{URL_SECRET}@api with {ENV_SECRET}")

    with pytest.raises(RuntimeError, match="could not reach"):
        failing_stage()


def _assert_nothing_stored(root: Path) -> int:
    searched = 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            searched += 1
            for secret in ALL:
                assert secret.encode() not in data, f"{secret} found in {path}"
    return searched


def test_secret_never_stored(workspace: Workspace, monkeypatch: pytest.MonkeyPatch,
                             capfd: pytest.CaptureFixture[str]) -> None:
    _plant(workspace, monkeypatch)
    _record(workspace, ["--no-mlflow"])
    steps = workspace.steps()
    assert [s.status for s in steps] == ["succeeded", "failed"]
    assert steps[0].command is not None and "--password" in steps[0].command.argv
    assert steps[0].environment is not None
    assert steps[0].environment.variables["DATA_API_TOKEN"] == "[REDACTED]"
    assert steps[0].code is not None and steps[0].code.remote == \
        "https://git.example.org/m.git"
    assert _assert_nothing_stored(workspace.dir) > 5
    # Nor in what aitrace printed (the child's own output is the child's business).
    out, err = capfd.readouterr()
    for secret in ALL:
        assert secret not in err
    assert main(["show", "1", "--json"]) == 0
    assert main(["log", "--json"]) == 0
    out, err = capfd.readouterr()
    for secret in ALL:
        assert secret not in out + err


def test_secret_never_stored_with_mlflow(mlflow_workspace: Workspace,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _plant(mlflow_workspace, monkeypatch)
    _record(mlflow_workspace, [])
    steps = mlflow_workspace.steps()
    assert steps[0].mlflow, "the step should be linked to an MLflow run"
    assert (mlflow_workspace.dir / "mlflow.db").is_file()
    # .aitrace/ holds the embedded store (mlflow.db and its artifacts) too.
    _assert_nothing_stored(mlflow_workspace.dir)
    _assert_nothing_stored(mlflow_workspace.root / "mlruns")  # none expected; checked if any
