"""``aitrace approve``: a signed, verifiable sign-off; a policy requiring it passes or fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_helpers import Pipeline

import aitrace
from aitrace.cli import main
from aitrace.signing.approvals import list_approvals, verify_approvals
from aitrace.signing.keys import generate_keypair, load_public_key
from aitrace.store.workspace import Workspace


@pytest.fixture
def deployed(workspace: Workspace) -> Workspace:
    out = workspace.root / "dist" / "model.bin"
    out.parent.mkdir()
    with aitrace.stage("deployment", workspace=workspace, sbom=False) as rec:
        out.write_bytes(b"weights")
        rec.output(out)
    return workspace


def test_approve_creates_a_verifiable_approval(deployed: Workspace, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    key, pub = generate_keypair(tmp_path / "reviewer")
    assert main(["approve", "--stage", "deployment", "--key", str(key), "--name", "Ana Lee",
                 "--comment", "fairness slices reviewed", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["decision"] == "approved" and Path(out["path"]).is_file()
    envelopes = dict(list_approvals(deployed))
    [check] = verify_approvals(envelopes, deployed.steps(), [load_public_key(pub)])
    assert check.ok and check.reviewer == "Ana Lee" and check.decision == "approved"
    assert check.comment == "fairness slices reviewed"
    assert main(["approve", "-s", "deployment", "-k", str(key), "--name", "Ana Lee",
                 "--reject", "-m", "no"]) == 0
    assert "Rejected stage 'deployment'" in capsys.readouterr().out
    checks = verify_approvals(dict(list_approvals(deployed)), deployed.steps(),
                              [load_public_key(pub)])
    assert sorted(c.decision for c in checks) == ["approved", "rejected"]


def test_approve_errors(deployed: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    key, _ = generate_keypair(tmp_path / "enc", passphrase=b"s3cret")
    assert main(["approve", "--stage", "training", "--key", str(key), "--name", "A",
                 "--passphrase-env", "PW"]) == 2
    assert "PW" in capsys.readouterr().err
    monkeypatch.setenv("PW", "s3cret")
    assert main(["approve", "--stage", "training", "--key", str(key), "--name", "A",
                 "--passphrase-env", "PW"]) == 2
    assert "no recorded step" in capsys.readouterr().err
    assert main(["approve", "--stage", "deployment", "--key", str(key), "--name", "A",
                 "--passphrase-env", "PW"]) == 0


def test_policy_requiring_approval_and_governance(pipeline: Pipeline, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    reviewer = load_public_key(pipeline.reviewer_pub).keyid
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "format: aitrace.policy/v1\nname: release-gate\n"
        "required_evidence:\n  problem: [risk-register, self-check]\n"
        f"approvals:\n  - {{stage: deployment, count: 1, keyids: [{reviewer}]}}\n")
    keys = ["--key", str(pipeline.release_pub), "--key", str(pipeline.reviewer_pub)]
    # v1: its deployment step was approved by the reviewer
    assert main(["inspect", str(pipeline.bundle_a), *keys, "--policy", str(policy),
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verification"]["ok"] is True
    # v2: deployment re-ran after the approval, so its latest step is not approved
    assert main(["inspect", str(pipeline.bundle_b), *keys, "--policy", str(policy),
                 "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    failed = doc["verification"]["failed"]
    assert failed and all("approv" in (c["id"] + c["title"] + c["message"]).lower()
                          for c in failed)
    # without the governance evidence the same policy fails on it
    strict = tmp_path / "strict.yaml"
    strict.write_text("format: aitrace.policy/v1\nrequired_evidence:\n"
                      "  collection: [risk-register]\n")
    assert main(["inspect", str(pipeline.bundle_a), *keys, "--policy", str(strict)]) == 1
    assert "risk-register" in capsys.readouterr().out
