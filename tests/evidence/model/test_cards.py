"""Model cards from the files: MLflow MLmodel, Hugging Face front matter and config, safely."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

import aitrace
from aitrace.evidence.model.cards import CardError, read_card, safe_yaml
from aitrace.evidence.sbom.build import bom_from_files, bom_from_record, summarize
from aitrace.evidence.sbom.validate import validate_bom
from aitrace.record.stages import EVIDENCE_MODEL_SCAN, EVIDENCE_SBOM
from aitrace.store.workspace import Workspace
from aitrace.verify.policy import default_policy
from aitrace.verify.rules import PolicyContext
from tests.helpers.model_files import sklearn_models

HF_README = """---
license: llama2
base_model: meta-llama/Llama-2-7b-hf
datasets:
  - timdettmers/openassistant-guanaco
language: [en, zh]
pipeline_tag: text-generation
---
# A LLaMA-2 fine-tune
"""


def hf_folder(root: Path) -> Path:
    """A Hugging Face-style model folder: card, config and a safetensors shard."""
    root.mkdir(parents=True)
    (root / "README.md").write_text(HF_README)
    (root / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100,
        "torch_dtype": "float16"}))
    header = json.dumps({"w": {"dtype": "F16", "shape": [2, 2],
                               "data_offsets": [0, 8]}}).encode()
    (root / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header
                                             + bytes(8))
    return root


def mlflow_folder(root: Path) -> Path:
    """A real MLflow scikit-learn model folder with a signature and an input example."""
    import mlflow.sklearn
    import numpy as np
    from mlflow.models import infer_signature

    model = sklearn_models()["logistic"]
    x = np.random.RandomState(1).rand(5, 4)
    mlflow.sklearn.save_model(model, str(root), signature=infer_signature(x, model.predict(x)),
                              input_example=x[:2])
    return root


def _model(doc: dict[str, Any]) -> dict[str, Any]:
    top: dict[str, Any] = doc["metadata"]["component"]
    return top


def _props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties") or []}


def test_mlflow_flavours_and_signature_reach_the_model_card(tmp_path: Path) -> None:
    folder = mlflow_folder(tmp_path / "mlmodel")
    card, problems = read_card(folder)
    assert problems == []
    assert "sklearn" in card.properties["aitrace:mlflow:flavors"]
    assert card.properties["aitrace:mlflow:sklearn:sklearn_version"]
    assert card.properties["aitrace:mlflow:python_function:python_version"]
    assert card.properties["aitrace:mlflow:input-example"] == "input_example.json"
    doc = bom_from_files([folder], include_env=False)
    assert validate_bom(doc) is None
    top = _model(doc)
    params = top["modelCard"]["modelParameters"]
    assert params["inputs"][0]["format"].startswith("tensor float64")
    assert params["outputs"]
    assert "python_function" in _props(top)["aitrace:mlflow:flavors"]


def test_a_hugging_face_folder_says_what_it_is(tmp_path: Path) -> None:
    doc = bom_from_files([hf_folder(tmp_path / "hf")], include_env=False)
    assert validate_bom(doc) is None
    top = _model(doc)
    params = top["modelCard"]["modelParameters"]
    assert params["task"] == "text-generation"
    assert params["modelArchitecture"] == "LlamaForCausalLM"
    assert params["datasets"][0]["name"] == "timdettmers/openassistant-guanaco"
    props = _props(top)
    assert props["aitrace:hf:language"] == "en, zh" and props["aitrace:hf:hidden_size"] == "64"
    assert top["licenses"] == [{"license": {"name": "llama2"}}]
    base = [c for c in doc["components"] if _props(c).get("aitrace:role") == "base-model"]
    assert [c["name"] for c in base] == ["https://huggingface.co/meta-llama/Llama-2-7b-hf"]
    dep = next(d for d in doc["dependencies"] if d["ref"] == top["bom-ref"])
    assert base[0]["bom-ref"] in dep["dependsOn"]
    summary = summarize(doc)
    assert summary["licenses"]["models"] == {"hf": "llama2"}
    assert {"component": "hf", "license": "llama2", "reason": "restricted-use"}.items() <= \
        summary["flagged_licenses"][0].items()


def test_a_llama_derived_release_fails_the_default_licence_policy(workspace: Workspace) -> None:
    hf_folder(Path("dist/chat-model"))
    with aitrace.stage("deployment", workspace=workspace, outputs=["dist/chat-model"]):
        pass
    step = workspace.steps()[-1]
    sbom = next(e for e in step.evidence if e.kind == EVIDENCE_SBOM)
    assert sbom.summary["licenses"]["models"] == {"chat-model": "llama2"}  # type: ignore
    assert [e.summary["verdict"] for e in step.evidence if e.kind == EVIDENCE_MODEL_SCAN] \
        == ["safe"]  # a directory without pickles is scanned too
    ctx = PolicyContext(steps=workspace.steps(), object_bytes=workspace.read_object)
    checks = [c for c in default_policy().evaluate(ctx) if c.id == "policy.licenses"]
    messages = sorted(c.message for c in checks if c.status == "failed")
    assert len(messages) == len(checks) == 2
    # the base model named in the card has no licence of its own: that is a gap too
    assert messages[0].endswith("Llama-2-7b-hf declares no licence")
    assert "deployment SBOM model chat-model is licensed llama2" in messages[1]
    assert "'*llama*'" in messages[1]
    doc = bom_from_record(workspace)
    assert validate_bom(doc) is None
    assert any(c["name"].endswith("Llama-2-7b-hf") for c in doc["components"])


def test_a_recorded_mlflow_model_has_its_card_and_a_scan(workspace: Workspace) -> None:
    mlflow_folder(Path("dist/model"))
    with aitrace.stage("deployment", workspace=workspace, outputs=["dist/model"]):
        pass
    step = workspace.steps()[-1]
    scans = [e for e in step.evidence if e.kind == EVIDENCE_MODEL_SCAN]
    assert [e.summary["verdict"] for e in scans] == ["safe"]
    doc = bom_from_record(workspace)
    assert validate_bom(doc) is None
    assert _model(doc)["modelCard"]["modelParameters"]["inputs"]


@pytest.mark.parametrize("text", [
    "a: &x [1, 2]\nb: *x\n",                          # aliases: a billion laughs
    "a: " + "[" * 40 + "]" * 40 + "\n",               # too deep
    "x: " + "y" * (2 * 1024 * 1024) + "\n",           # too big
    "a: [\n",                                         # not YAML
])
def test_hostile_yaml_is_refused(text: str) -> None:
    with pytest.raises(CardError):
        safe_yaml(text, "MLmodel")


def test_a_refused_card_is_named_not_fatal(tmp_path: Path) -> None:
    folder = hf_folder(tmp_path / "hf")
    (folder / "README.md").write_text("---\nlicense: &l mit\nbase_model: *l\n---\n")
    (folder / "MLmodel").write_text("flavors: [\n")
    card, problems = read_card(folder)
    assert card.licenses == [] and len(problems) == 2
    doc = bom_from_files([folder], include_env=False)
    assert "aitrace:model:card-refused" in _props(_model(doc))
