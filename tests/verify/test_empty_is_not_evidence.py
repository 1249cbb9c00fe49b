"""Empty is not evidence: blank templates, checks of nothing and unnamed licences never pass.

Each test builds a record with the real hooks and judges it with the shipped default policy
(or the single rule at issue), as ``aitrace verify`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import aitrace
from aitrace.cli import main
from aitrace.record.completeness import completeness
from aitrace.record.stages import EVIDENCE_GX
from aitrace.store.workspace import Workspace
from aitrace.verify.checks import Check
from aitrace.verify.policy import default_policy, parse_policy
from aitrace.verify.rules import PolicyContext, emptiness
from tests.helpers.bundle import new_workspace


def _ctx(ws: Workspace) -> PolicyContext:
    steps = ws.steps()
    return PolicyContext(steps=steps, created_at=steps[-1].ended_at, object_bytes=ws.read_object)


def _by_id(checks: list[Check], cid: str) -> list[Check]:
    return [c for c in checks if c.id == cid]


def _record_templates(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> str:
    err = ""
    for kind in ("risk", "checklist"):
        assert main(["assess", kind, "--template"]) == 0
        Path(f"{kind}.yaml").write_text(capsys.readouterr().out)
        assert main(["assess", kind, "--stage", "problem", "--file", f"{kind}.yaml"]) == 0
        err += capsys.readouterr().err
    return err


def test_unfilled_templates_warn_and_fail_the_default_policy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    ws = new_workspace(tmp_path / "p")
    monkeypatch.chdir(ws.root)
    err = _record_templates(ws, capsys)
    assert "the risk register leaves 7 item(s) open" in err and "fairness: not assessed" in err
    assert "the self-check table leaves 6 item(s) open" in err
    checks = default_policy().evaluate(_ctx(ws))
    assessments = _by_id(checks, "policy.assessments")
    assert [c.status for c in assessments] == ["failed", "failed"]
    assert "leaves 7 item(s) open" in assessments[0].message
    assert "strategy.organisation: not assessed" in assessments[1].message
    # ... and a blank form does not even count as the required evidence, nor as completeness.
    required = " ".join(c.message for c in _by_id(checks, "policy.required-evidence"))
    assert "has risk-register evidence, but it shows nothing" in required
    assert "has self-check evidence, but it shows nothing" in required
    scored = completeness(ws.steps(), counts=lambda e: emptiness(e) is None)
    assert "problem: risk-register" in scored.missing
    assert "problem: self-check" in scored.missing


def test_ratings_need_mitigation_and_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from aitrace.evidence.governance.models import RISK_IDS

    ws = new_workspace(tmp_path / "p")
    monkeypatch.chdir(ws.root)
    risks: dict[str, Any] = {r: {"rating": "low", "mitigation": "m", "owner": "o"}
                             for r in RISK_IDS}
    risks["privacy"] = {"rating": "high", "mitigation": "DPIA"}
    Path("risk.yaml").write_text(yaml.safe_dump({"risks": risks}))
    assert main(["assess", "risk", "--file", "risk.yaml", "--json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["gaps"] == ["privacy: rated high but no owner"]
    (check,) = parse_policy({"assessments_complete": True}, "t").evaluate(_ctx(ws))
    assert check.status == "failed" and "privacy: rated high but no owner" in check.message
    risks["privacy"]["owner"] = "dpo"
    Path("risk.yaml").write_text(yaml.safe_dump({"risks": risks}))
    assert main(["assess", "risk", "--file", "risk.yaml"]) == 0
    (check,) = parse_policy({"assessments_complete": True}, "t").evaluate(_ctx(ws))
    assert check.status == "passed", check.message


def _gx(evaluated: int, success: bool = True) -> dict[str, Any]:
    return {"success": success, "results": [], "suite_name": "s",
            "statistics": {"evaluated_expectations": evaluated,
                           "successful_expectations": evaluated if success else 0}}


@pytest.mark.parametrize("in_summary", [True, False])
def test_a_check_of_nothing_is_not_a_pass(tmp_path: Path, in_summary: bool) -> None:
    ws = new_workspace(tmp_path / "p")
    Path(ws.root / "raw.csv").write_text("a\n1\n")
    with aitrace.stage("collection", workspace=ws, inputs=[ws.root / "raw.csv"]) as step:
        step.attach(EVIDENCE_GX, _gx(0), media_type="application/json", name="privacy",
                    summary={"success": True, "pack": "privacy",
                             **({"evaluated": 0} if in_summary else {})},
                    subject=ws.root / "raw.csv")
    policy = {"gx_must_pass": True, "required_evidence": {"collection": ["gx-validation"]}}
    checks = parse_policy(policy, "t").evaluate(_ctx(ws))
    (gx,) = _by_id(checks, "policy.gx-passed")
    assert gx.status == "failed" and "checked nothing (0 expectations evaluated)" in gx.message
    if in_summary:  # the step's own summary says so: not the evidence a stage needs
        (req,) = _by_id(checks, "policy.required-evidence")
        assert req.status == "failed" and "nothing checked" in req.message
    # A real check beside it passes the rule, and the empty one is named, not counted.
    with aitrace.stage("collection", workspace=ws, inputs=[ws.root / "raw.csv"]) as step:
        for doc, summary in ((_gx(0), {"success": True, "evaluated": 0, "pack": "privacy"}),
                             (_gx(3), {"success": True, "evaluated": 3})):
            step.attach(EVIDENCE_GX, doc, media_type="application/json", name="gx",
                        summary=summary, subject=ws.root / "raw.csv")
    (gx,) = _by_id(parse_policy(policy, "t").evaluate(_ctx(ws)), "policy.gx-passed")
    assert gx.status == "passed"
    assert gx.message.startswith("1 GX result(s) passed; 1 checked nothing")


def test_a_check_of_nothing_reads_as_nothing_in_the_views(tmp_path: Path) -> None:
    from aitrace.evidence.gx.source import GxSource
    from aitrace.record.models import EvidenceRef
    from aitrace.report.html.evidence import _gx as gx_html

    ref = EvidenceRef(kind=EVIDENCE_GX, media_type="application/json", sha256="0" * 64, size=1,
                      summary={"success": True, "evaluated": 0, "pack": "privacy"})
    facts = GxSource().facts(_gx(0))
    assert GxSource().badge(ref, facts) == ("GX privacy: nothing checked (0 expectations)",
                                            "warn")
    html = gx_html(facts or {})
    assert "nothing checked" in html and ">passed<" not in html


CC_NC = ["CC BY-NC 4.0", "Creative Commons Attribution-NonCommercial 4.0 International",
         "cc-by-nc-sa-4.0"]


@pytest.mark.parametrize("spelling", CC_NC)
def test_default_policy_catches_non_commercial_spellings(tmp_path: Path, spelling: str) -> None:
    ws = new_workspace(tmp_path / "p")
    with aitrace.stage("collection", workspace=ws) as step:
        step.input("https://example.org/data.csv", origin="example", license=spelling)
    (recorded,) = ws.steps()[0].materials
    assert recorded.license is not None and recorded.license.upper().startswith("CC-BY-NC")
    (lic,) = _by_id(default_policy().evaluate(_ctx(ws)), "policy.licenses")
    assert lic.status == "failed" and "is denied" in lic.message


def test_licences_are_normalised_to_spdx_and_others_warned(
        workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    from aitrace.evidence.licenses import read_license

    assert read_license("Apache License, Version 2.0").spdx == "Apache-2.0"
    assert read_license("mit OR apache-2.0").spdx == "MIT OR Apache-2.0"
    assert read_license("GPL-3.0+").spdx == "GPL-3.0-or-later"
    assert read_license("GPLv3").spdx is None
    with aitrace.stage("collection", workspace=workspace) as step:
        step.input("https://example.org/a.csv", origin="example", license="cc by 4.0")
        step.input("https://example.org/b.csv", origin="example", license="our own terms")
    a, b = workspace.steps()[0].materials
    assert (a.license, b.license) == ("CC-BY-4.0", "our own terms")
    err = capsys.readouterr().err
    assert "'our own terms' is not an SPDX licence" in err and "cc by 4.0" not in err


def test_default_policy_requires_a_licence_on_external_data(tmp_path: Path) -> None:
    policy = default_policy()
    assert policy.licenses is not None and policy.licenses.require_known is True
    assert policy.assessments_complete is True
    ws = new_workspace(tmp_path / "p")
    with aitrace.stage("collection", workspace=ws) as step:
        step.input("https://example.org/data.csv", origin="example")
    (lic,) = _by_id(policy.evaluate(_ctx(ws)), "policy.licenses")
    assert lic.status == "failed" and "declares no licence" in lic.message
