"""The MLflow Model Registry on a real `mlflow server` (SQLite backend, local artifact root).

Publish over HTTP, verify ``models:/…`` from the server, then overwrite a registered file in the
server's artifact store: verify fails and names it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aitrace.cli import main
from tests.helpers.bundle import Keys
from tests.helpers.servers import MlflowServer


@pytest.mark.slow
def test_publish_and_verify_on_a_tracking_server(
        mlflow_remote: MlflowServer, project: Path, bundle_path: Path, keys: Keys,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient

    monkeypatch.chdir(project)
    url = mlflow_remote.url
    assert main(["publish", str(bundle_path), "--registered-model", "remote-fraud",
                 "--alias", "champion", "--tracking-uri", url, "--key", str(keys.pub),
                 "--no-policy", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "models:/remote-fraud/1" and doc["tracking_uri"] == url

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    mv = client.get_model_version_by_alias("remote-fraud", "champion")
    assert mv.tags["aitrace.bundle"] == "aitrace/model.aitrace"
    exp = client.get_experiment(client.get_run(mv.run_id).info.experiment_id)
    assert exp.name == "aitrace/test-model"
    # the server's own artifact root holds the version's files (nothing in the project)
    stored = list((mlflow_remote.data / "artifacts").rglob("model/dist/model.bin"))
    assert len(stored) == 1 and stored[0].read_bytes() == (project / "dist/model.bin").read_bytes()

    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)  # instead of --tracking-uri
    assert main(["verify", "models:/remote-fraud@champion", "--key", str(keys.pub),
                 "--no-policy"]) == 0
    out = capsys.readouterr().out
    assert "ok    registry.files" in out
    assert "Bundle:                  models:/remote-fraud/1 (@champion)" in out

    stored[0].write_bytes(b"swapped after review" * 10)
    assert main(["verify", "models:/remote-fraud/1", "--key", str(keys.pub),
                 "--no-policy"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  registry.files" in out
    assert "file 'dist/model.bin' of models:/remote-fraud/1 has sha256" in out
    assert "Bundle:                  models:/remote-fraud/1" in out
    assert out.strip().splitlines()[-1].startswith("NOT TRUSTED")
