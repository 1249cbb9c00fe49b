"""The sklearn example end to end: ten stages, evidence, MLflow, bundle, verify, report."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.record.stages import EVIDENCE_GX, EVIDENCE_SBOM, STAGE_IDS
from aitrace.store.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sklearn-pipeline" / "run_pipeline.py"
BUNDLE = "wine-classifier-1.0.0.aitrace"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("example") / "work"
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--workdir", str(work)],
                          capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return work


def test_ten_stages_succeeded_with_digests_matching_sha256sum(example: Path) -> None:
    ws = Workspace(example)
    steps = ws.steps()
    latest = {s.stage: s for s in steps}
    assert set(latest) == set(STAGE_IDS)
    assert all(s.status == "succeeded" for s in steps)
    files = [(a.path, a.sha256) for s in steps for a in (*s.materials, *s.products)
             if a.type == "file"]
    assert len(files) > 15
    out = subprocess.run(["sha256sum", *sorted({p for p, _ in files})], cwd=example,
                         capture_output=True, text=True, check=True).stdout
    on_disk = {line.split()[1]: line.split()[0] for line in out.splitlines()}
    # The latest record of each path matches the bytes on disk now.
    last: dict[str, str | None] = {}
    for path, sha in files:
        last[path] = sha
    assert last == on_disk


def test_evidence_on_the_stages_that_need_it(example: Path) -> None:
    steps = Workspace(example).steps()
    for stage in ("collection", "cleaning", "labeling"):
        gx = [e for s in steps if s.stage == stage for e in s.evidence if e.kind == EVIDENCE_GX]
        assert gx, f"{stage} has no GX evidence"
        assert all(e.bound and e.summary.get("success") is True for e in gx)
    deployment = [s for s in steps if s.stage == "deployment"][-1]
    assert any(e.kind == EVIDENCE_SBOM for e in deployment.evidence)


def test_mlflow_runs_exist_with_our_tags(example: Path) -> None:
    from aitrace.evidence.mlflow.stores import open_store

    ws = Workspace(example)
    linked = [(s, m) for s in ws.steps() for m in s.mlflow]
    assert {s.stage for s, _ in linked} >= {"training", "evaluation", "deployment"}
    for step, link in linked:
        store = open_store(link.tracking_uri, example)  # aitrace's store, or the user's
        assert store is not None
        run = store.get(link.run_id)
        assert run is not None
        assert run.tags["aitrace.step_id"] == step.id
        assert run.tags["aitrace.record_id"] == ws.record.id
    user_runs = [m for s, m in linked if s.stage == "training" and m.role == "user"]
    assert user_runs, "the training script's own MLflow run was not linked"
    # The script's own run is where MLflow put it (its default store), not in aitrace's.
    assert {m.tracking_uri for m in user_runs} == {"sqlite:///mlflow.db"}


def test_bundle_verifies_under_the_default_policy_and_is_deterministic(
        example: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(example)
    capsys.readouterr()
    rc = main(["verify", BUNDLE, "--key", "keys/release.pub",
               "--approver-key", "keys/reviewer.pub",
               "--artifact", "dist/wine-classifier.pkl", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0, [c for c in report["checks"] if c["status"] == "failed"]
    assert any(c["id"].startswith("policy.") for c in report["checks"])
    # Same record, another process with another hash seed: byte-identical archive.
    first = (example / BUNDLE).read_bytes()
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-m", "aitrace", "bundle", "--key", "keys/release.key",
                    "-o", "again.aitrace"], cwd=example, env=env, check=True,
                   capture_output=True)
    assert (example / "again.aitrace").read_bytes() == first
    html = (example / "report.html").read_text(encoding="utf-8")
    assert "wine-classifier" in html and "<script" not in html


def test_a_changed_artifact_is_not_the_released_one(
        example: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(example)
    released = (example / "dist" / "wine-classifier.pkl").read_bytes()
    tampered = example / "tampered.pkl"
    tampered.write_bytes(released + b"\0")
    released_sha = hashlib.sha256(released).hexdigest()
    changed_sha = hashlib.sha256(tampered.read_bytes()).hexdigest()
    assert changed_sha != released_sha
    rc = main(["verify", BUNDLE, "--key", "keys/release.pub", "--artifact", str(tampered)])
    assert rc == 1
    out = capsys.readouterr().out
    # the failed check names the given file and its digest, beside the released one's
    assert f"tampered.pkl hashes to sha256:{changed_sha[:12]}" in out
    assert f"dist/wine-classifier.pkl sha256:{released_sha[:12]}" in out


def test_old_bundles_keep_verifying(asset: object, capsys: pytest.CaptureFixture[str]) -> None:
    """A bundle of format v1, made by aitrace 0.1.0, verifies with today's code.

    Its integrity and signature hold; today's stricter default policy judges its content
    (a privacy check of nothing, a self-check aspect left unassessed) and says so.
    """
    base = ROOT / "tests" / "assets" / "bundles" / "v1"
    args = ["verify", str(base / BUNDLE), "--key", str(base / "release.pub"),
            "--approver-key", str(base / "reviewer.pub"),
            "--artifact", str(base / "wine-classifier.pkl")]
    rc = main([*args, "--no-policy"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.strip().splitlines()[-1].startswith("VERIFIED: trusted")
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "Integrity and signature: TRUSTED" in out
    assert "checked nothing (0 expectations evaluated)" in out
    assert "strategy.policy: not assessed" in out


def test_v2_bundles_keep_verifying(capsys: pytest.CaptureFixture[str]) -> None:
    """The kept format v2 bundle (tests/assets/bundles/v2, a model file and a model folder
    released) verifies with today's code; the default policy, stricter since, says why it fails."""
    base = ROOT / "tests" / "assets" / "bundles" / "v2"
    args = ["verify", str(base / "wine-classifier-2.0.0.aitrace"), "--key",
            str(base / "release.pub"), "--approver-key", str(base / "reviewer.pub"),
            "--artifact", str(base / "wine-classifier.pkl"), "--json"]
    rc = main([*args, "--no-policy"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0, [c for c in report["checks"] if c["status"] == "failed"]
    assert {"name": "dist/wine-classifier-model",
            "dirHash": "f43915444a6f9f309238164f736408cb50757fa947db7b887f38051de840fd27"
            } in report["subjects"]
    assert {c["id"] for c in report["checks"] if c["status"] == "passed"} >= {
        "members.canonical", "evidence.dir-listings", "signature.trusted"}
    assert main(args) == 1
    judged = json.loads(capsys.readouterr().out)
    assert judged["answers"]["integrity"]["state"] == "trusted"
    assert {c["id"] for c in judged["failed"]} == {
        "policy.required-evidence", "policy.gx-passed", "policy.assessments"}


def test_v2_model_signatures_are_accepted_by_model_signing(tmp_path: Path) -> None:
    """`model_signing verify` accepts the kept v2 bundle's .sig for the file and the folder."""
    import zipfile

    cli = Path(sys.executable).parent / "model_signing"
    if not cli.exists():
        pytest.skip("model_signing CLI not installed")
    base = ROOT / "tests" / "assets" / "bundles" / "v2"
    with zipfile.ZipFile(base / "wine-classifier-2.0.0.aitrace") as zf:
        zf.extractall(tmp_path)
    for sig, model in (("wine-classifier.pkl.sig", "wine-classifier.pkl"),
                       ("wine-classifier-model.sig", "wine-classifier-model")):
        proc = subprocess.run([str(cli), "verify", "key", "--signature",
                               str(tmp_path / "signatures" / "dist" / sig), "--public_key",
                               str(base / "release.pub"), str(base / model)],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0 and "succeeded" in proc.stdout.lower(), proc.stderr
