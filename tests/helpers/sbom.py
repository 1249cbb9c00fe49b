"""Helpers for the ML-BOM tests: BOM checks, a small recorded lineage and the ``lineage`` fixture.

The fixture is imported by the conftest.py of tests/evidence/sbom and tests/cli.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest


def check_bom(doc: Mapping[str, Any]) -> None:
    """Every BOM a test sees validates against CycloneDX 1.6 (the schema shipped in the lib)."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc))
    assert err is None, f"not valid CycloneDX 1.6: {err}"
    assert doc["specVersion"] == "1.6"
    assert doc["serialNumber"].startswith("urn:uuid:")
    refs = [c["bom-ref"] for c in doc.get("components", [])]
    assert len(refs) == len(set(refs)), "duplicate bom-refs"


def components(doc: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    top = doc["metadata"].get("component")
    return [c for c in ([top] if top else []) + doc.get("components", []) if c["type"] == kind]


def record_lineage(root: Path, *, data_license: str = "CC-BY-4.0", extra_config: str = "",
                   base_model: bool = False) -> Any:
    """Record collection, cleaning, (selection), training, evaluation, deployment in ``root``."""
    import aitrace
    from aitrace.store.workspace import Workspace

    Workspace.init(root, name="wine")
    cfg = root / "aitrace.yaml"
    cfg.write_text(cfg.read_text().replace("  enabled: true", "  enabled: false") + extra_config)
    ws = Workspace(root)
    (root / "data").mkdir()
    (root / "models").mkdir()
    (root / "dist").mkdir()
    raw, clean = root / "data/raw.csv", root / "data/clean.csv"
    with aitrace.stage("collection", workspace=ws) as s:
        s.input("https://example.org/wine.csv", origin="https://example.org",
                license=data_license, role="dataset")
        raw.write_text("a,b,label\n1,2,x\n3,4,y\n")
        s.output(raw, license=data_license, role="dataset")
    with aitrace.stage("cleaning", inputs=[raw], outputs=[clean], workspace=ws):
        clean.write_text("a,b,label\n1,2,x\n")
    if base_model:
        with aitrace.stage("selection", workspace=ws) as s:
            s.input("https://models.example.org/base-v1", origin="https://models.example.org",
                    license="other", role="base-model", sha256="ab" * 32)
    model = root / "models/model.pkl"
    with aitrace.stage("training", inputs=[clean], workspace=ws) as s:
        model.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
        s.output(model, role="model")
        s.log_params({"C": 1.0})
        s.log_metrics({"train_accuracy": 0.99})
    with aitrace.stage("evaluation", inputs=[model, clean], workspace=ws) as s:
        s.log_metrics({"accuracy": 0.9, "accuracy/slice=label:x": 0.8})
    release = root / "dist/wine.pkl"
    with aitrace.stage("deployment", inputs=[model], workspace=ws) as s:
        release.write_bytes(model.read_bytes())
        s.output(release)
    return ws


@pytest.fixture(scope="module")
def lineage(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One recorded lineage shared by the read-only tests of a module."""
    root = tmp_path_factory.mktemp("lineage") / "project"
    root.mkdir()
    return record_lineage(root, data_license="CC-BY-NC-4.0", base_model=True,
                          extra_config="""
modelCard:
  considerations:
    users: [quality lab analysts]
    useCases: [wine cultivar classification]
    technicalLimitations: [trained on 178 samples]
    ethicalConsiderations: [{name: none known, mitigationStrategy: review yearly}]
    fairnessAssessments: [{groupAtRisk: none, benefits: faster grading}]
datasets:
  data/raw.csv: {owners: [data-team, owner@example.org], custodians: [it-ops],
                 classification: public}
""")
