"""Risk register and self-check table: YAML parsing (errors name file + field), evidence, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from aitrace.cli import main
from aitrace.errors import InputError
from aitrace.evidence.governance import models as gm
from aitrace.evidence.governance import parse as gp
from aitrace.evidence.governance import templates as gt
from aitrace.record._model import to_json
from aitrace.record.stages import EVIDENCE_CHECKLIST, EVIDENCE_RISK
from aitrace.schemas import validator
from aitrace.store.workspace import Workspace


def test_templates_parse_to_all_items_not_assessed() -> None:
    reg = gp.parse_risk_register(yaml.safe_load(gt.risk_template()), source="t")
    assert [i.id for i in reg.items] == list(gm.RISK_IDS)
    assert {i.rating for i in reg.items} == {"not_assessed"}
    check = gp.parse_checklist(yaml.safe_load(gt.checklist_template()), source="t")
    assert [a.id for a in check.strategy] == list(gm.STRATEGY_IDS)
    assert [r.id for r in check.adoption] == list(gm.ROUTE_IDS)


def test_shorthands_links_and_defaults() -> None:
    reg = gp.parse_risk_register({
        "assessed_at": __import__("datetime").date(2026, 11, 28),
        "risks": {"privacy": {"rating": "High", "owner": "dpo",
                              "evidence": ["gx-validation@collection", "sha256:" + "a" * 64,
                                           "https://example.org/dpia.pdf",
                                           {"kind": "cyclonedx-sbom", "stage": "deployment"},
                                           "evaluation"]},
                  "fairness": "low"}}, source="r.yaml")
    by_id = {i.id: i for i in reg.items}
    assert by_id["privacy"].rating == "high" and by_id["fairness"].rating == "low"
    assert by_id["security"].rating == "not_assessed"
    links = by_id["privacy"].evidence
    assert links[0] == gm.EvidenceLink(kind="gx-validation", stage="collection")
    assert links[1].sha256 == "a" * 64 and links[2].uri and links[3].stage == "deployment"
    assert links[4] == gm.EvidenceLink(stage="evaluation")
    assert reg.assessed_at == "2026-11-28"
    validator("risk-register.schema.json").validate(to_json(reg))


@pytest.mark.parametrize(("doc", "field"), [
    ({"risks": {"privacy": {"rating": "huge"}}}, "risks.privacy.rating"),
    ({"risks": {"privcy": "high"}}, "risks.privcy"),
    ({"risks": {"privacy": {"ratng": "high"}}}, "risks.privacy.ratng"),
    ({"risks": {"privacy": {"evidence": ["gx@nowhere"]}}}, "risks.privacy.evidence[0]"),
    ({"risks": {"privacy": {"evidence": [{"sha256": "xyz"}]}}}, "risks.privacy.evidence[0].sha256"),
    ({"risks": ["privacy"]}, "risks"),
    ({"format": "aitrace.self-check/v1"}, "format"),
    ({"risks": {"privacy": {"owner": ["a"]}}}, "risks.privacy.owner"),
])
def test_risk_errors_name_file_and_field(doc: object, field: str) -> None:
    with pytest.raises(InputError) as exc:
        gp.parse_risk_register(doc, source="risk.yaml")
    assert exc.value.message.startswith(f"risk.yaml: field '{field}'")
    assert exc.value.hint


@pytest.mark.parametrize(("doc", "field"), [
    ({"strategy": {"talent": "done"}}, "strategy.talent.status"),
    ({"strategy": {"people": "assessing"}}, "strategy.people"),
    ({"adoption": {"train_own_model": {"budget": "yes"}}}, "adoption.train_own_model.budget"),
    ({"adoption": {"train_own_model": {"chosen": "maybe"}}}, "adoption.train_own_model.chosen"),
    ({"adoption": {"own": {}}}, "adoption.own"),
])
def test_checklist_errors_name_file_and_field(doc: object, field: str) -> None:
    with pytest.raises(InputError) as exc:
        gp.parse_checklist(doc, source="c.yaml")
    assert exc.value.message.startswith(f"c.yaml: field '{field}'")


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "risk.yaml"
    bad.write_text("risks:\n  privacy: [\n")
    with pytest.raises(InputError, match=r"risk.yaml: invalid YAML at line \d+"):
        gp.load_risk_register(bad)
    with pytest.raises(InputError, match="no such file"):
        gp.load_checklist(tmp_path / "missing.yaml")


def test_stored_evidence_round_trips_and_rejects_duplicates() -> None:
    reg = gp.parse_risk_register({"risks": {"privacy": "high"}}, source="x")
    again = gm.risk_register_from_json(to_json(reg), source="e")
    assert again == reg
    doc = to_json(reg)
    doc["items"][1] = doc["items"][0]
    with pytest.raises(InputError, match=r"items\[1\]\.id"):
        gm.risk_register_from_json(doc, source="e")


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
