"""``aitrace assess`` and ``aitrace approve``: governance evidence on a step, a signed, verifiable
sign-off, and a policy requiring them that passes or fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import aitrace
from aitrace.cli import main
from aitrace.record.stages import EVIDENCE_CHECKLIST, EVIDENCE_RISK
from aitrace.schemas import validator
from aitrace.signing.approvals import list_approvals, verify_approvals
from aitrace.signing.keys import generate_keypair, load_public_key
from aitrace.store.workspace import Workspace
from tests.helpers.pipeline import Pipeline


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
    keys = ["--key", str(pipeline.release_pub), "--approver-key", str(pipeline.reviewer_pub)]
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


def test_cli_records_evidence_on_a_step(workspace: Workspace, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", "risk", "--template"]) == 0
    template = capsys.readouterr().out
    risk = workspace.root / "risk.yaml"
    risk.write_text(template.replace("rating: not_assessed", "rating: medium", 1))
    assert main(["assess", "risk", "--stage", "problem", "--file", str(risk), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["evidence"]["kind"] == EVIDENCE_RISK
    assert out["evidence"]["summary"]["ratings"]["medium"] == 1
    assert main(["assess", "checklist", "--template"]) == 0
    check = workspace.root / "checklist.yaml"
    check.write_text(capsys.readouterr().out.replace("organisation: {status: not_assessed",
                                                     "organisation: {status: plan_in_place"))
    assert main(["assess", "checklist", "-f", str(check)]) == 0
    steps = workspace.steps()
    assert [s.stage for s in steps] == ["problem", "problem"]
    ref = steps[0].evidence[0]
    assert ref.kind == EVIDENCE_RISK and ref.bound is True
    assert steps[0].products[0].path == "risk.yaml"
    stored = json.loads(workspace.read_object(ref.sha256))
    validator("risk-register.schema.json").validate(stored)
    check_ref = next(e for e in steps[1].evidence if e.kind == EVIDENCE_CHECKLIST)
    stored = json.loads(workspace.read_object(check_ref.sha256))
    validator("self-check.schema.json").validate(stored)
    assert stored["strategy"][0] == {"id": "organisation", "status": "plan_in_place", "note": ""}


def test_cli_errors_without_file_when_not_a_tty(workspace: Workspace,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", "risk"]) == 2
    err = capsys.readouterr().err
    assert "not a terminal" in err and "--template" in err
    bad = workspace.root / "bad.yaml"
    bad.write_text("strategy:\n  data: maybe\n")
    assert main(["assess", "checklist", "--file", str(bad)]) == 2
    assert "bad.yaml: field 'strategy.data.status'" in capsys.readouterr().err
    assert workspace.steps() == ()


def test_interactive_prompts(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from aitrace.cli import governance as cli_gov

    monkeypatch.setattr(cli_gov, "_interactive_ok", lambda: True)
    # fairness: high + 4 text answers; the other six: defaults; then "assessed by"
    answers = "high\nbias by region\nreweighting\nml-team\ngx-validation@cleaning\n" + \
        "\n" * 6 + "Ana\n"
    result = CliRunner().invoke(cli_gov.assess_group, ["risk"], input=answers)
    assert result.exit_code == 0, result.output
    step = workspace.steps()[-1]
    doc = json.loads(workspace.read_object(step.evidence[0].sha256))
    assert doc["items"][0]["rating"] == "high" and doc["assessed_by"] == "Ana"
    assert doc["items"][0]["evidence"] == [{"kind": "gx-validation", "stage": "cleaning"}]
