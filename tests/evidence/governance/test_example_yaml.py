"""The example pipeline's governance files parse (they are what the README shows)."""

from __future__ import annotations

from pathlib import Path

from aitrace.evidence.governance.parse import load_checklist, load_risk_register

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sklearn-pipeline" / "pipeline"


def test_example_risk_and_checklist_parse() -> None:
    reg = load_risk_register(EXAMPLE / "risk.yaml")
    assert all(i.rating != "not_assessed" for i in reg.items)
    check = load_checklist(EXAMPLE / "checklist.yaml")
    assert [r.id for r in check.adoption if r.chosen] == ["train_own_model"]
