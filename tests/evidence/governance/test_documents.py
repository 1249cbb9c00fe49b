"""Risk register and self-check table: YAML parsing (errors name file + field), stored evidence."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aitrace.errors import InputError
from aitrace.evidence.governance import models as gm
from aitrace.evidence.governance import parse as gp
from aitrace.evidence.governance import templates as gt
from aitrace.record._model import to_json
from aitrace.schemas import validator


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
