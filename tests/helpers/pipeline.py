"""A small recorded pipeline, bundled twice (before and after a re-run): the ``pipeline`` fixture.

Used by the report tests (tests/report) and the governance CLI tests (tests/cli); each imports
the fixture in its conftest.py.

Module-scoped: the pipeline is recorded once per test module with the real hooks, the real
CycloneDX SBOM source, real keys, real approvals and ``bundle.build_bundle``.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

INJECTION = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'

# A GX Core 1.x validation result (the shape `res.to_json_dict()` returns, SUMMARY format).
GX_RESULT = {
    "success": False,
    "suite_name": "raw-privacy",
    "statistics": {"evaluated_expectations": 3, "successful_expectations": 2,
                   "unsuccessful_expectations": 1, "success_percent": 66.7},
    "meta": {"great_expectations_version": "1.24.1"},
    "suite_parameters": {},
    "id": None,
    "results": [
        {"success": True,
         "expectation_config": {"type": "expect_column_values_to_not_be_null",
                                "kwargs": {"column": "alcohol", "batch_id": "p-df"}, "meta": {}},
         "result": {"element_count": 178, "unexpected_count": 0, "unexpected_percent": 0.0,
                    "partial_unexpected_list": []},
         "meta": {}, "exception_info": {"raised_exception": False}},
        {"success": False,
         "expectation_config": {"type": "expect_column_values_to_not_match_regex",
                                "kwargs": {"column": "note", "regex": "@"}, "meta": {}},
         "result": {"element_count": 178, "unexpected_count": 2,
                    "unexpected_percent": 1.12,
                    "partial_unexpected_list": ["ROW-SECRET-jane@example.org"]},
         "meta": {}, "exception_info": {"raised_exception": False}},
        {"success": True,
         "expectation_config": {"type": "expect_table_row_count_to_be_between",
                                "kwargs": {"min_value": 100, "max_value": 1000}, "meta": {}},
         "result": {"observed_value": 178}, "meta": {}, "exception_info": {}},
    ],
}


@dataclass
class Pipeline:
    root: Path
    release_key: Path
    release_pub: Path
    reviewer_key: Path
    reviewer_pub: Path
    bundle_a: Path
    bundle_b: Path


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)


def _train_and_evaluate(ws: object, n_trees: int, accuracy: float) -> None:
    import aitrace

    with aitrace.stage("training", workspace=ws, inputs=["data/clean.csv"],
                       outputs=["models/model.pkl"]) as rec:
        _write(Path("models/model.pkl"), pickle.dumps({"trees": n_trees}))
        rec.log_params({"n_estimators": n_trees})
        rec.log_metrics({"train_accuracy": 0.99})
    with aitrace.stage("evaluation", workspace=ws, inputs=["models/model.pkl"]) as rec:
        rec.log_metrics({"accuracy": accuracy, "f1_macro": accuracy - 0.01,
                         "accuracy/slice=label:0": accuracy + 0.02})
    with aitrace.stage("deployment", workspace=ws, inputs=["models/model.pkl"],
                       outputs=["dist/model.pkl"]) as rec:
        _write(Path("dist/model.pkl"), Path("models/model.pkl").read_bytes())


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    import aitrace
    from aitrace.bundle.write import build_bundle
    from aitrace.evidence.governance.parse import parse_checklist, parse_risk_register
    from aitrace.evidence.governance.record import record_governance
    from aitrace.record.stages import EVIDENCE_GX
    from aitrace.signing.approvals import create_approval
    from aitrace.signing.keys import generate_keypair, load_signer
    from aitrace.store.workspace import Workspace

    root = tmp_path_factory.mktemp("audit") / "project"
    root.mkdir()
    old_cwd = Path.cwd()
    os.chdir(root)
    try:
        Workspace.init(root, name="wine-classifier")
        cfg = root / "aitrace.yaml"
        cfg.write_text(cfg.read_text().replace("  enabled: true", "  enabled: false"))
        ws = Workspace(root)
        keys = root.parent / "keys"
        rel_key, rel_pub = generate_keypair(keys / "release")
        rev_key, rev_pub = generate_keypair(keys / "reviewer")

        with aitrace.stage("problem", workspace=ws, outputs=["docs/problem.md"]) as rec:
            _write(Path("docs/problem.md"), "# Wine classifier\n")
            rec.log_params({"success.accuracy": ">= 0.85", "owner": INJECTION})
            rec.describe("Problem statement " + INJECTION)
        record_governance(ws, "problem", parse_risk_register({
            "assessed_by": "Ana", "risks": {
                "privacy": {"rating": "high", "description": "notes may hold e-mail addresses",
                            "mitigation": "GX privacy pack at collection", "owner": "dpo",
                            "evidence": ["gx-validation@collection"]},
                "fairness": {"rating": "medium", "mitigation": INJECTION},
                "explainability": {"rating": "low", "evidence": ["cyclonedx-sbom@deployment"]},
            }}, source="risk.yaml"))
        record_governance(ws, "problem", parse_checklist({
            "strategy": {"organisation": "plan_in_place", "data": "assessing"},
            "adoption": {"train_own_model": {"chosen": True, "budget": "ready",
                                             "data": "assessing"}}}, source="checklist.yaml"))
        _write(Path("data/raw.csv"), "alcohol,note\n13.2,a\n")
        with aitrace.stage("collection", workspace=ws) as rec:
            rec.input("data/raw.csv", origin="https://archive.ics.uci.edu/dataset/109/wine",
                      license="CC-BY-4.0", role="dataset")
            rec.attach(EVIDENCE_GX, GX_RESULT, media_type="application/json",
                       name="privacy", summary={"success": False}, subject="data/raw.csv")
        with aitrace.stage("cleaning", workspace=ws, inputs=["data/raw.csv"],
                           outputs=["data/clean.csv"]) as rec:
            _write(Path("data/clean.csv"), "alcohol\n13.2\n")
        _train_and_evaluate(ws, 100, 0.93)
        create_approval(ws, "deployment", load_signer(rev_key), "Quality Reviewer",
                        "fairness slices reviewed " + INJECTION)
        bundle_a = root.parent / "model-v1.aitrace"
        build_bundle(ws, [load_signer(rel_key)], bundle_a)
        # the same pipeline run again: a new model and a lower accuracy
        _train_and_evaluate(ws, 200, 0.89)
        bundle_b = root.parent / "model-v2.aitrace"
        build_bundle(ws, [load_signer(rel_key)], bundle_b)
        yield Pipeline(root, rel_key, rel_pub, rev_key, rev_pub, bundle_a, bundle_b)
    finally:
        os.chdir(old_cwd)
