"""What a model folder says about itself: MLflow ``MLmodel``, Hugging Face cards and configs.

Read as data, never run: YAML is parsed with ``yaml.SafeLoader`` after a pass over its events
that refuses anchors and aliases (no "billion laughs"), deep nesting and huge files; JSON goes
through aitrace's bounded parser. Three sources, merged into one ``FileCard``:

* **MLflow** ``MLmodel`` (in the model directory or beside the file): flavours, the Python and
  library versions each flavour names, the model's signature (inputs and outputs, as the
  CycloneDX ``modelParameters`` ``inputs``/``outputs``) and the input example's file;
* **Hugging Face** ``README.md`` YAML front matter: ``license`` (the model component's licence),
  ``base_model`` (a base-model component the model depends on), ``datasets``, ``language``,
  ``pipeline_tag`` (the model's task), ``library_name``, ``tags``;
* **Hugging Face** ``config.json`` sizes: layers, hidden size, heads, vocabulary, context length,
  dtype (architecture and family are read by ``introspect.read_hf_config``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitrace.errors import AitraceError, InputError
from aitrace.record.jsonio import read_json_file

MAX_CARD_BYTES = 1024 * 1024
MAX_YAML_DEPTH = 32
MAX_YAML_NODES = 20_000
MAX_LIST = 64
MAX_TEXT = 300

_HF_SIZES = ("num_hidden_layers", "hidden_size", "num_attention_heads",
             "num_key_value_heads", "intermediate_size", "vocab_size",
             "max_position_embeddings", "n_layer", "n_embd", "n_head", "n_positions",
             "torch_dtype")


@dataclass
class FileCard:
    """Model-card facts read from the files around a model."""

    model_parameters: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    licenses: list[str] = field(default_factory=list)
    base_models: list[str] = field(default_factory=list)


class CardError(InputError):
    """A card file that cannot be read as bounded, plain data (it is then left out)."""


def safe_yaml(text: str, source: str) -> Any:
    """Parse YAML as plain data: no anchors or aliases, bounded depth and size."""
    import yaml

    if len(text) > MAX_CARD_BYTES:
        raise CardError(f"{source}: over {MAX_CARD_BYTES} bytes")
    depth = nodes = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise CardError(f"{source}: YAML anchors and aliases are not accepted here")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise CardError(f"{source}: nested deeper than {MAX_YAML_DEPTH} levels")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            nodes += 1
            if nodes > MAX_YAML_NODES:
                raise CardError(f"{source}: more than {MAX_YAML_NODES} YAML nodes")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CardError(f"{source}: not valid YAML ({str(exc)[:200]})") from None


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_CARD_BYTES:
            raise CardError(f"{path.name}: over {MAX_CARD_BYTES} bytes")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CardError(f"{path.name}: cannot be read ({exc})") from None


def _text(value: Any) -> str | None:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)[:MAX_TEXT]
    return None


def _texts(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [t for t in (_text(v) for v in items[:MAX_LIST]) if t]


# --------------------------------------------------------------------------- MLflow

def read_mlmodel(path: Path, card: FileCard) -> None:
    """MLflow's ``MLmodel``: flavours, versions, signature, input example (into ``card``)."""
    doc = safe_yaml(_read_text(path), "MLmodel")
    if not isinstance(doc, Mapping):
        raise CardError("MLmodel: not a mapping")
    props = card.properties
    props["aitrace:mlflow:mlmodel"] = "MLmodel"
    flavors = doc.get("flavors")
    if isinstance(flavors, Mapping):
        props["aitrace:mlflow:flavors"] = ", ".join(sorted(str(k) for k in flavors)[:MAX_LIST])
        for name, conf in sorted(flavors.items(), key=lambda kv: str(kv[0])):
            if not isinstance(conf, Mapping):
                continue
            for key, value in sorted(conf.items(), key=lambda kv: str(kv[0])):
                text = _text(value)
                if text and (str(key).endswith("_version") or key in (
                        "loader_module", "serialization_format", "pickled_model",
                        "model_path", "data", "code")):
                    props[f"aitrace:mlflow:{name}:{key}"] = text
    for key in ("mlflow_version", "model_uuid", "run_id", "utc_time_created",
                "artifact_path", "model_size_bytes"):
        text = _text(doc.get(key))
        if text:
            props[f"aitrace:mlflow:{key}"] = text
    example = doc.get("saved_input_example_info")
    if isinstance(example, Mapping) and _text(example.get("artifact_path")):
        props["aitrace:mlflow:input-example"] = str(_text(example.get("artifact_path")))
    signature = doc.get("signature")
    if isinstance(signature, Mapping):
        for side in ("inputs", "outputs"):
            fmt = _signature_side(signature.get(side))
            if fmt:
                card.model_parameters[side] = fmt
        params = _text(signature.get("params"))
        if params:
            props["aitrace:mlflow:signature-params"] = params


def _signature_side(value: Any) -> list[dict[str, str]]:
    """An MLflow signature side (a JSON string of column or tensor specs) as CycloneDX."""
    if not isinstance(value, str) or len(value) > MAX_CARD_BYTES:
        return []
    try:
        specs = json.loads(value)
    except ValueError:
        return []
    out = []
    for spec in specs[:MAX_LIST] if isinstance(specs, list) else []:
        if not isinstance(spec, Mapping):
            continue
        kind = _text(spec.get("type")) or "?"
        if kind == "tensor" and isinstance(spec.get("tensor-spec"), Mapping):
            ts = spec["tensor-spec"]
            kind = f"tensor {_text(ts.get('dtype')) or '?'}{_text(ts.get('shape')) or ''}"
        name = _text(spec.get("name"))
        out.append({"format": f"{name}: {kind}" if name else kind})
    return out


# --------------------------------------------------------------------------- Hugging Face

def read_front_matter(path: Path, card: FileCard) -> None:
    """A Hugging Face ``README.md``'s YAML front matter (into ``card``)."""
    text = _read_text(path)
    if not text.startswith("---"):
        return
    end = text.find("\n---", 3)
    if end < 0:
        raise CardError("README.md: front matter has no closing '---'")
    meta = safe_yaml(text[3:end], "README.md front matter")
    if not isinstance(meta, Mapping):
        return
    props = card.properties
    props["aitrace:hf:card"] = "README.md"
    card.licenses += _texts(meta.get("license"))
    if not card.licenses and _text(meta.get("license_name")):
        card.licenses.append(f"LicenseRef-{_text(meta.get('license_name'))}")
    card.base_models += _texts(meta.get("base_model"))
    datasets = _texts(meta.get("datasets"))
    if datasets:
        card.model_parameters["datasets"] = [
            {"type": "dataset", "name": d, "description": "named by the model card (README.md)"}
            for d in datasets]
    task = _text(meta.get("pipeline_tag"))
    if task:
        card.model_parameters["task"] = task
    for key in ("language", "library_name", "tags", "base_model_relation", "license_link"):
        values = _texts(meta.get(key))
        if values:
            props[f"aitrace:hf:{key}"] = ", ".join(values)
    if card.base_models:
        props["aitrace:hf:base_model"] = ", ".join(card.base_models)


def read_hf_sizes(path: Path, card: FileCard) -> None:
    """Sizes from a Hugging Face ``config.json`` (layers, hidden size, heads …)."""
    try:
        if path.stat().st_size > MAX_CARD_BYTES:
            return
        data = read_json_file(path, error=InputError, hint="")
    except (OSError, AitraceError):
        return
    if not isinstance(data, Mapping):
        return
    for key in _HF_SIZES:
        text = _text(data.get(key))
        if text:
            card.properties[f"aitrace:hf:{key}"] = text


# --------------------------------------------------------------------------- dispatch

def read_card(model: Path) -> tuple[FileCard, list[str]]:
    """The card facts of a model file or directory, and the card files that were refused."""
    base = model if model.is_dir() else model.parent
    card = FileCard()
    problems: list[str] = []
    for name, reader in (("MLmodel", read_mlmodel), ("README.md", read_front_matter),
                         ("config.json", read_hf_sizes)):
        p = base / name
        if not p.is_file() or p.is_symlink():
            continue
        try:
            reader(p, card)
        except AitraceError as exc:
            problems.append(exc.message)
    card.licenses = list(dict.fromkeys(card.licenses))
    card.base_models = list(dict.fromkeys(card.base_models))
    return card, problems
