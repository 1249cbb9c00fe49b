"""The MLflow Model Registry, embedded SQLite store: publish, verify models:/…, tamper, alias.

MLflow lets a registered version's files be overwritten afterwards and keeps no digest of them;
``aitrace verify models:/NAME/VERSION`` must name every file that changed or appeared.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import aitrace
from aitrace.cli import main
from aitrace.store.workspace import Workspace
from tests.helpers.bundle import Keys, new_workspace

MODEL = b"weights" * 100


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def _client(root: Path) -> Any:
    from mlflow import MlflowClient

    from aitrace.evidence.mlflow.link import tracking_uri

    uri = tracking_uri(Workspace(root))
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _artifacts(client: Any, run_id: str) -> Path:
    from urllib.parse import unquote, urlsplit

    return Path(unquote(urlsplit(client.get_run(run_id).info.artifact_uri).path))


def test_publish_verify_and_an_overwritten_or_added_file_is_named(
        project: Path, bundle_path: Path, keys: Keys, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from aitrace.signing.keys import load_public_key

    monkeypatch.chdir(project)
    rc, out, err = _run(capsys, "publish", str(bundle_path), "--registered-model", "fraud",
                        "--key", str(keys.pub), "--no-policy")
    assert rc == 0, err
    assert out == "models:/fraud/1\n"  # the only line on stdout: scripts capture it
    assert "registered models:/fraud/1 with 1 released artifact(s): dist/model.bin" in err

    client = _client(project)
    mv = client.get_model_version("fraud", "1")
    sha = hashlib.sha256(bundle_path.read_bytes()).hexdigest()
    keyid = load_public_key(keys.pub).keyid
    assert mv.tags["aitrace.bundle_sha256"] == sha
    assert mv.tags["aitrace.verified_by"] == keyid
    assert mv.tags["aitrace.bundle"] == "aitrace/model.aitrace"
    with aitrace_bundle(bundle_path) as ob:
        assert mv.tags["aitrace.chain_head"] == ob.predicate.chain_head
        assert mv.tags["aitrace.record_id"] == ob.record_id
    files = _artifacts(client, mv.run_id)
    assert (files / "model/dist/model.bin").read_bytes() == MODEL  # a copy, not the project's
    assert (files / "aitrace/model.aitrace").read_bytes() == bundle_path.read_bytes()
    assert files.is_relative_to(project / ".aitrace/mlruns")  # the record's experiment
    assert not (project / "mlruns").exists() and not (project / "mlflow.db").exists()

    rc, out, err = _run(capsys, "verify", "models:/fraud/1", "--key", str(keys.pub),
                        "--no-policy")
    assert rc == 0, out + err
    assert out.splitlines()[0].startswith("ok    registry.bundle-digest")
    assert "ok    registry.files" in out and "1 file(s) of models:/fraud/1 match" in out
    assert "Bundle:                  models:/fraud/1" in out.splitlines()
    assert out.strip().splitlines()[-1].startswith("VERIFIED: trusted")

    back = tmp_path / "pulled.aitrace"
    rc, out, _ = _run(capsys, "pull", "models:/fraud/1", "-o", str(back))
    assert rc == 0 and back.read_bytes() == bundle_path.read_bytes()

    # MLflow lets the registered file be overwritten in its artifact store ...
    (files / "model/dist/model.bin").write_bytes(b"poisoned" * 100)
    (files / "model/notes.txt").write_text("added later\n")
    rc, out, _ = _run(capsys, "verify", "models:/fraud/1", "--key", str(keys.pub),
                      "--no-policy", "--json")
    assert rc == 1
    failed = [c for c in json.loads(out)["failed"]]
    assert {c["id"] for c in failed} == {"registry.files"}
    messages = "\n".join(c["message"] for c in failed)
    assert "file 'dist/model.bin' of models:/fraud/1 has sha256" in messages
    assert "it was overwritten after publishing" in messages
    assert "file 'notes.txt' of models:/fraud/1 is not a released artifact" in messages
    # ... and the bundle itself verified: the record is intact, the registry's copy is not
    checks = {c["id"]: c["status"] for c in json.loads(out)["checks"]}
    assert checks["signature.trusted"] == "passed" and checks["chain.hash"] == "passed"

    # a removed file is named too
    (files / "model/dist/model.bin").unlink()
    rc, out, _ = _run(capsys, "verify", "models:/fraud/1", "--key", str(keys.pub),
                      "--no-policy")
    assert rc == 1 and "the released file 'dist/model.bin' is missing from models:/fraud/1" in out

    # the attached bundle replaced by another (validly signed) one
    (files / "aitrace/model.aitrace").write_bytes(bundle_path.read_bytes() + b"\0")
    rc, out, _ = _run(capsys, "verify", "models:/fraud/1", "--key", str(keys.pub),
                      "--no-policy")
    assert rc == 1 and out.startswith("FAIL  registry.bundle-digest")


def aitrace_bundle(path: Path) -> Any:
    from aitrace.bundle.read import OpenedBundle

    return OpenedBundle.open(path)


def test_alias_moves_only_after_the_registered_version_verifies(
        project: Path, bundle_path: Path, keys: Keys, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    rc, out, err = _run(capsys, "publish", str(bundle_path), "--registered-model", "scorer",
                        "--alias", "champion", "--key", str(keys.pub), "--no-policy",
                        "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["model"] == "models:/scorer/1" and doc["alias"] == "champion"
    client = _client(project)
    assert str(client.get_model_version_by_alias("scorer", "champion").version) == "1"
    rc, out, _ = _run(capsys, "verify", "models:/scorer@champion", "--key", str(keys.pub),
                      "--no-policy")
    assert rc == 0 and "Bundle:                  models:/scorer/1 (@champion)" in out
    assert out.strip().splitlines()[-1].startswith("VERIFIED: trusted")

    # a bundle that does not verify (wrong key) is not published at all
    rc, _, err = _run(capsys, "publish", str(bundle_path), "--registered-model", "scorer",
                      "--alias", "champion", "--key", str(keys.other_pub), "--no-policy")
    assert rc == 1 and "does not verify: signature.trusted" in err
    assert len(client.search_model_versions("name='scorer'")) == 1

    # the released file changed in the project since the release: refused, alias unchanged
    model = project / "dist/model.bin"
    original = model.read_bytes()
    model.write_bytes(b"retrained" * 10)
    try:
        rc, _, err = _run(capsys, "publish", str(bundle_path), "--registered-model", "scorer",
                          "--alias", "champion", "--key", str(keys.pub), "--no-policy")
    finally:
        model.write_bytes(original)
    assert rc == 1 and "dist/model.bin hashes to" in err and "changed after the release" in err
    assert str(client.get_model_version_by_alias("scorer", "champion").version) == "1"

    # a name MLflow refuses: said at once, and nothing was uploaded for it
    exp = client.get_experiment_by_name("aitrace/test-model")
    runs = len(client.search_runs([exp.experiment_id]))
    rc, _, err = _run(capsys, "publish", str(bundle_path), "--registered-model", "a/b",
                      "--key", str(keys.pub), "--no-policy")
    assert rc == 2 and "Invalid model name 'a/b'" in err
    assert len(client.search_runs([exp.experiment_id])) == runs

    # no key: refused before anything happens; unknown versions and aliases: named
    rc, _, err = _run(capsys, "publish", str(bundle_path), "--registered-model", "scorer")
    assert rc == 2 and "no trusted public key" in err
    rc, _, err = _run(capsys, "verify", "models:/scorer/7", "--key", str(keys.pub))
    assert rc == 2 and "not found" in err
    rc, _, err = _run(capsys, "verify", "models:/scorer@nope", "--key", str(keys.pub))
    assert rc == 2 and "has no alias 'nope'" in err


def test_a_version_not_published_by_aitrace_is_named(
        project: Path, keys: Keys, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    client = _client(project)
    client.create_registered_model("plain")
    client.create_model_version("plain", source=str(project / "dist"))
    rc, _, err = _run(capsys, "verify", "models:/plain/1", "--key", str(keys.pub))
    assert rc == 2 and "models:/plain/1 carries no aitrace bundle" in err


def test_a_released_directory_is_the_version_root_and_its_files_are_named(
        tmp_path: Path, keys: Keys, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from aitrace.bundle.write import build_bundle
    from aitrace.signing.keys import load_signer

    ws = new_workspace(tmp_path / "dirproject", name="dir-model")
    monkeypatch.chdir(ws.root)
    folder = ws.root / "dist/model"
    (folder / "data").mkdir(parents=True)
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "data/weights.bin").write_bytes(MODEL)
    with aitrace.stage("deployment", workspace=ws, sbom=False) as s:
        s.output(folder, role="model")
    bundle = tmp_path / "dir.aitrace"
    build_bundle(Workspace(ws.root), [load_signer(keys.key)], bundle)

    rc, out, err = _run(capsys, "publish", str(bundle), "--registered-model", "folder",
                        "--key", str(keys.pub), "--no-policy", "--json")
    assert rc == 0, err
    run_id = json.loads(out)["run_id"]
    files = _artifacts(_client(ws.root), run_id) / "model"
    # the directory's contents are the version's root: MLflow loads models:/folder/1 directly
    assert sorted(p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file()) \
        == ["MLmodel", "data/weights.bin"]
    rc, out, _ = _run(capsys, "verify", "models:/folder/1", "--key", str(keys.pub),
                      "--no-policy")
    assert rc == 0, out

    (files / "data/weights.bin").write_bytes(b"x")
    (files / "data/extra.bin").write_bytes(b"y")
    (files / "MLmodel").unlink()
    rc, out, _ = _run(capsys, "verify", "models:/folder/1", "--key", str(keys.pub),
                      "--no-policy")
    assert rc == 1
    assert "file 'data/weights.bin' of models:/folder/1 (in the released directory " \
           "'dist/model') was overwritten after publishing" in out
    assert "file 'data/extra.bin' of models:/folder/1 is not part of the released directory " \
           "'dist/model'" in out
    assert "file 'MLmodel' of the released directory 'dist/model' is missing" in out
