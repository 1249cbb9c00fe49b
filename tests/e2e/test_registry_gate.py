"""The CI gate example (examples/registry-gate/gate.py): an alias moves only when verify passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.evidence.mlflow.link import tracking_uri
from aitrace.store.workspace import Workspace
from tests.helpers.bundle import Keys

ROOT = Path(__file__).resolve().parents[2]
GATE = ROOT / "examples" / "registry-gate" / "gate.py"

pytestmark = pytest.mark.slow


def _gate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, str(GATE), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False, timeout=300)


def test_gate_promotes_a_verified_version_and_refuses_a_tampered_one(
        project: Path, bundle_path: Path, keys: Keys, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient

    monkeypatch.chdir(project)
    uri = tracking_uri(Workspace(project))
    for _ in range(2):
        assert main(["publish", str(bundle_path), "--registered-model", "gated",
                     "--key", str(keys.pub), "--no-policy"]) == 0
    assert capsys.readouterr().out.splitlines() == ["models:/gated/1", "models:/gated/2"]

    proc = _gate("models:/gated/1", "--alias", "champion", "--key", str(keys.pub),
                 "--no-policy", "--tracking-uri", uri, cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("PROMOTED: models:/gated@champion -> version 1")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert str(client.get_model_version_by_alias("gated", "champion").version) == "1"

    # version 2's registered file is overwritten in the artifact store: the gate refuses it
    mv = client.get_model_version("gated", "2")
    stored = Path(client.get_run(mv.run_id).info.artifact_uri.removeprefix("file://"))
    (stored / "model/dist/model.bin").write_bytes(b"not what was reviewed")
    proc = _gate("models:/gated/2", "--alias", "champion", "--key", str(keys.pub),
                 "--no-policy", "--tracking-uri", uri, cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "REFUSED: models:/gated/2 stays off @champion" in proc.stdout
    assert "FAIL registry.files: file 'dist/model.bin' of models:/gated/2" in proc.stdout
    assert str(client.get_model_version_by_alias("gated", "champion").version) == "1"

    # not a verdict (no such version): exit 2, the alias untouched
    proc = _gate("models:/gated/9", "--alias", "champion", "--key", str(keys.pub),
                 "--tracking-uri", uri, cwd=project)
    assert proc.returncode == 2 and "not found" in proc.stderr
