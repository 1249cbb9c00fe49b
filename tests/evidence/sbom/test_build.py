"""ML-BOMs from the record: automatic evidence, content, licences, determinism, config errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import aitrace
from aitrace.errors import InputError
from aitrace.evidence.sbom.build import bom_from_record, summarize
from aitrace.evidence.sbom.validate import CYCLONEDX_MEDIA_TYPE as SBOM_MEDIA_TYPE
from aitrace.record.stages import EVIDENCE_SBOM
from tests.helpers.sbom import check_bom, components, record_lineage


def _sbom_evidence(ws: Any, stage: str) -> tuple[Any, dict[str, Any]]:
    step = [s for s in ws.steps() if s.stage == stage][-1]
    refs = [e for e in step.evidence if e.kind == EVIDENCE_SBOM]
    assert len(refs) == 1, f"{stage} step should carry exactly one ML-BOM"
    return refs[0], json.loads(ws.read_object(refs[0].sha256))


def test_model_steps_carry_a_valid_ml_bom(lineage: Any) -> None:
    stages_with_bom = {s.stage for s in lineage.steps()
                       if any(e.kind == EVIDENCE_SBOM for e in s.evidence)}
    assert stages_with_bom == {"training", "deployment"}
    ref, doc = _sbom_evidence(lineage, "deployment")
    check_bom(doc)
    assert ref.media_type == SBOM_MEDIA_TYPE == "application/vnd.cyclonedx+json"
    assert ref.bound is True and ref.subject is not None
    assert ref.subject.path == "dist/wine.pkl"
    assert ref.summary["model"]["sha256"] == ref.subject.sha256
    assert ref.summary["serial_number"] == doc["serialNumber"]


def test_deployment_bom_content(lineage: Any) -> None:
    _, doc = _sbom_evidence(lineage, "deployment")
    model = doc["metadata"]["component"]
    assert model["type"] == "machine-learning-model" and model["name"] == "wine.pkl"
    assert model["hashes"][0]["alg"] == "SHA-256"
    assert doc["metadata"]["tools"]["components"][0]["name"] == "aitrace"
    card = model["modelCard"]
    data_refs = {d["ref"] for d in card["modelParameters"]["datasets"]}
    datasets = [c for c in components(doc, "data") if c["data"][0]["type"] == "dataset"]
    assert {c["bom-ref"] for c in datasets} == data_refs
    assert {c["name"] for c in datasets} == {"https://example.org/wine.csv", "data/raw.csv",
                                             "data/clean.csv"}
    for c in datasets:
        assert c["licenses"], c["name"]
        if not c["name"].startswith("https://"):
            assert len(c["hashes"][0]["content"]) == 64
    metrics = card["quantitativeAnalysis"]["performanceMetrics"]
    assert {"type": "accuracy", "value": "0.9"} in metrics
    assert {"type": "accuracy", "value": "0.8", "slice": "label:x"} in metrics
    env = card["considerations"]["environmentalConsiderations"]["properties"]
    assert any(p["name"] == "aitrace:training:duration-seconds" for p in env)
    # user-supplied considerations merged with what was inferred
    assert card["considerations"]["users"] == ["quality lab analysts"]
    assert card["considerations"]["fairnessAssessments"][0]["benefits"] == "faster grading"
    libs = components(doc, "library")
    assert len(libs) > 20
    assert all(c["purl"].startswith("pkg:pypi/") and "@" in c["purl"] for c in libs)
    assert not any("hashes" in c for c in libs)
    notes = {p["name"]: p["value"] for p in doc["metadata"]["properties"]}
    assert "no wheel hash" in notes["aitrace:hashes"]
    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in doc["dependencies"]}
    assert data_refs | {c["bom-ref"] for c in libs} <= deps[model["bom-ref"]]
    base = [c for c in components(doc, "machine-learning-model") if c is not model]
    assert len(base) == 1 and base[0]["bom-ref"] in deps[model["bom-ref"]]
    assert {r["url"] for r in base[0]["externalReferences"]} == {
        "https://models.example.org/base-v1", "https://models.example.org"}
    assert base[0]["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    workflow = doc["formulation"][0]["workflows"][0]
    assert [t["name"].split()[1] for t in workflow["tasks"]] == [
        "collection", "cleaning", "selection", "training", "evaluation", "deployment"]
    deploy = workflow["tasks"][-1]
    assert {"type": "artifact", "resource": {"ref": model["bom-ref"]}} in deploy["outputs"]
    # The BOM is built while the step finishes: its task ends when the step's work ended, before
    # the step's own end time (which is taken after the evidence was computed).
    deployment = lineage.steps()[-1]
    assert deploy["uid"] == deployment.id and deploy["timeStart"] == deployment.started_at
    assert deployment.started_at <= deploy["timeEnd"] <= deployment.ended_at


def test_governance_and_licences(lineage: Any) -> None:
    _, doc = _sbom_evidence(lineage, "deployment")
    by_name = {c["name"]: c for c in components(doc, "data")}
    raw = by_name["data/raw.csv"]["data"][0]
    assert raw["classification"] == "public"
    assert raw["governance"]["owners"] == [{"organization": {"name": "data-team"}},
                                           {"contact": {"email": "owner@example.org"}}]
    assert raw["governance"]["custodians"] == [{"organization": {"name": "it-ops"}}]
    clean_props = {p["name"]: p["value"] for p in by_name["data/clean.csv"]["properties"]}
    assert clean_props["aitrace:license-source"] == "inherited from data/raw.csv"
    summary = summarize(doc)
    flagged = {(f["component"], f["reason"]) for f in summary["flagged_licenses"]}
    assert ("data/raw.csv", "non-commercial") in flagged
    assert ("data/clean.csv", "non-commercial") in flagged
    assert ("https://models.example.org/base-v1", "unspecified") in flagged
    assert summary["licenses"]["base_models"] == {"https://models.example.org/base-v1": "other"}


def test_bom_from_record_is_deterministic_and_picks_the_deployment(lineage: Any) -> None:
    a = bom_from_record(lineage)
    b = bom_from_record(lineage)
    check_bom(a)
    assert a == b
    deployment = lineage.steps()[-1]
    assert a["metadata"]["timestamp"].startswith(deployment.ended_at[:19])
    props = {p["name"]: p["value"] for p in a["metadata"]["properties"]}
    assert props["aitrace:step-id"] == deployment.id
    assert props["aitrace:step-digest"] == deployment.digest
    training = next(s for s in lineage.steps() if s.stage == "training")
    t = bom_from_record(lineage, str(training.seq))
    check_bom(t)
    assert t["metadata"]["component"]["name"] == "model.pkl"
    assert t["serialNumber"] != a["serialNumber"]


def test_record_without_model_step_is_a_clear_error(workspace: Any) -> None:
    with aitrace.stage("collection") as s:
        Path("raw.csv").write_text("a\n1\n")
        s.output("raw.csv")
    with pytest.raises(InputError, match="no succeeded deployment, optimization or training"):
        bom_from_record(workspace)
    with pytest.raises(InputError, match="has no model among its outputs"):
        bom_from_record(workspace, "1")


def test_invalid_model_card_config_names_the_file(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    ws = record_lineage(root, extra_config="modelCard:\n  considerations:\n    userz: [x]\n")
    # the automatic SBOM failed with a warning, the steps themselves were recorded
    assert not any(e.kind == EVIDENCE_SBOM for s in ws.steps() for e in s.evidence)
    with pytest.raises(InputError, match=r"aitrace.yaml: modelCard .*userz"):
        bom_from_record(ws)


def test_invalid_dataset_config_is_an_input_error(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    ws = record_lineage(root, extra_config="datasets:\n  data/raw.csv: {licence: MIT}\n")
    with pytest.raises(InputError, match=r"datasets.data/raw.csv has unknown key"):
        bom_from_record(ws)


def test_sbom_can_be_turned_off_and_requested_by_hand(workspace: Any) -> None:
    Path("m.safetensors").write_bytes(_tiny_safetensors())
    with aitrace.stage("training", outputs=["m.safetensors"], sbom=False):
        pass
    assert not workspace.steps()[-1].evidence[1:]  # environment only
    with aitrace.stage("training", sbom=False) as s:
        s.output("m.safetensors")
        ref = s.sbom()  # by hand, mid-step: declared outputs are hashed for it
    assert ref.kind == EVIDENCE_SBOM and ref.summary["model"]["path"] == "m.safetensors"
    doc = json.loads(workspace.read_object(ref.sha256))
    check_bom(doc)
    props = {p["name"]: p["value"] for p in doc["metadata"]["component"]["properties"]}
    assert props["aitrace:model:parameters"] == "6"
    assert props["aitrace:format"] == "safetensors"
    with aitrace.stage("training", sbom=False) as s, \
            pytest.raises(InputError, match="unknown option"):
        s.sbom(model="x")


def test_config_turns_auto_sbom_off(workspace: Any) -> None:
    cfg = Path("aitrace.yaml")
    cfg.write_text(cfg.read_text().replace("auto: true", "auto: false"))
    Path("m.onnx").write_bytes(b"not really onnx")
    with aitrace.stage("training", outputs=["m.onnx"]):
        pass
    assert not any(e.kind == EVIDENCE_SBOM for e in workspace.steps()[-1].evidence)


def _tiny_safetensors() -> bytes:
    import struct

    header = json.dumps({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                         "__metadata__": {"format": "pt"}}).encode()
    return struct.pack("<Q", len(header)) + header + bytes(24)
