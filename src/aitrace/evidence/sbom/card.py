"""The model card of an ML-BOM's model: from the record, the model files and ``aitrace.yaml``.

What was inferred (parameters, datasets, metrics of evaluations of these exact bytes, the
environment) is merged under what ``aitrace.yaml``'s ``modelCard`` says, which always wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aitrace.errors import AitraceError, InputError
from aitrace.evidence.interface import DescribeContext
from aitrace.evidence.model.cards import read_card
from aitrace.evidence.model.describe import describe_path
from aitrace.evidence.model.introspect import describe_model_path
from aitrace.evidence.sbom import _mlbom as mb
from aitrace.evidence.sbom.assemble import DataPart
from aitrace.evidence.sbom.validate import model_card_error
from aitrace.record.jsonio import parse_untrusted, plain_json
from aitrace.record.models import Artifact, Step
from aitrace.record.stages import EVIDENCE_MODEL_DESCRIPTION

if TYPE_CHECKING:
    from aitrace.store.workspace import Workspace


@dataclass
class CardContext:
    """What a model card is inferred from: the record up to the subject step and its data."""

    ws: Workspace
    prior: Sequence[Step]
    lineage: Sequence[Step]
    producers: Mapping[str, Step]
    subject: Step
    data: Sequence[DataPart]


def user_card(ws: Workspace) -> dict[str, Any]:
    """``aitrace.yaml``'s ``modelCard``, checked against CycloneDX 1.6 (it wins every key)."""
    section = dict(ws.config.section("modelCard"))
    if not section:
        return {}
    try:
        user: dict[str, Any] = plain_json(section, default=str)
    except ValueError as exc:
        raise InputError(f"aitrace.yaml: modelCard is not plain data ({exc})") from None
    err = model_card_error(user)
    if err:
        raise InputError(f"aitrace.yaml: modelCard is not a valid CycloneDX 1.6 model card "
                         f"{err}", hint="use the CycloneDX modelCard keys (modelParameters, "
                         "quantitativeAnalysis, considerations) with their documented shapes")
    return user


def _descriptions(ctx: CardContext, a: Artifact) -> list[dict[str, Any]]:
    """Plug-in descriptions stored as evidence about these exact bytes (latest first)."""
    out = []
    for s in reversed(ctx.prior):
        for e in reversed(s.evidence):
            if e.kind != EVIDENCE_MODEL_DESCRIPTION:
                continue
            same = e.subject is not None and e.subject.value == a.value
            if not same and not (e.subject is None and s.id == ctx.subject.id
                                 and e.summary.get("path") == a.path):
                continue
            try:
                doc = parse_untrusted(ctx.ws.read_object(e.sha256), f"evidence {e.sha256[:12]}")
            except AitraceError:
                continue  # a damaged description is left out; verification reports the object
            if isinstance(doc, dict):
                out.append(doc)
    return out


def record_card(ctx: CardContext, a: Artifact,
                 user: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The model card and properties of one model: plug-ins, its files, the record, the user."""
    card: dict[str, Any] = {}
    props: dict[str, str] = {}
    for doc in _descriptions(ctx, a):
        card = mb.merge_card(doc.get("modelCard") or {}, card)
        for k, v in (doc.get("properties") or {}).items():
            props.setdefault(str(k), str(v))
        if doc.get("plugins"):
            props.setdefault("aitrace:plugins", ", ".join(map(str, doc["plugins"])))
    path = ctx.ws.resolve(a.path) if a.type != "uri" else None
    if path is not None and path.exists() and (a.size is None or a.type == "directory"
                                               or path.stat().st_size == a.size):
        file_card, file_props = describe_file(path, a.path)
        card = mb.merge_card(file_card, card)
        for k, v in file_props.items():
            props.setdefault(k, v)
    mp = card.setdefault("modelParameters", {})
    if "approach" not in mp and any(s.stage == "labeling" for s in ctx.prior):
        mp["approach"] = {"type": "supervised"}
    datasets = [{"ref": d.ref} for d in ctx.data if d.kind == "dataset"]
    if datasets:  # the record's datasets, then those the model's own card names
        mp["datasets"] = datasets + [d for d in mp.get("datasets") or [] if d not in datasets]
    if not mp:
        del card["modelParameters"]
    metrics = _metrics_for(ctx, a)
    if metrics:
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    env_props = _environment_considerations(ctx)
    if env_props:
        card["considerations"] = {"environmentalConsiderations": {"properties": env_props}}
    return mb.merge_card(card, user), props


def _metrics_for(ctx: CardContext, a: Artifact) -> list[dict[str, str]]:
    evals = [s for s in ctx.lineage if s.stage == "evaluation" and s.metrics]
    if not evals:
        evals = [s for s in ctx.prior if s.stage == "evaluation" and s.status == "succeeded"
                 and s.metrics]
    if evals:
        return mb.performance_metrics(evals[-1].metrics)
    producer = ctx.producers.get(a.value or "")
    if producer is not None and producer.stage in ("training", "optimization"):
        return mb.performance_metrics(producer.metrics)
    return []


def _environment_considerations(ctx: CardContext) -> list[dict[str, str]]:
    trainings = [s for s in ctx.lineage if s.stage in ("training", "optimization")]
    if not trainings:
        return []
    seconds = sum(mb.duration_seconds(s) for s in trainings)
    props = [{"name": "aitrace:training:duration-seconds", "value": f"{seconds:.3f}"},
             {"name": "aitrace:training:steps",
              "value": ", ".join(f"{s.seq} {s.stage}" for s in trainings)}]
    env = next((s.environment for s in reversed(trainings) if s.environment), None)
    if env is not None:
        props += [{"name": "aitrace:training:cpu-count", "value": str(env.cpu_count)},
                  {"name": "aitrace:training:machine", "value": env.machine},
                  {"name": "aitrace:training:platform", "value": env.platform},
                  {"name": "aitrace:training:python",
                   "value": env.python_text}]
        if env.memory_bytes:
            props.append({"name": "aitrace:training:memory-bytes",
                          "value": str(env.memory_bytes)})
    props.append({"name": "aitrace:training:energy",
                  "value": "not measured; estimate from duration and hardware above"})
    return props


def describe_file(path: Path, recorded: str) -> tuple[dict[str, Any], dict[str, str]]:
    """What a model file says about itself (read without executing it), as card and props."""
    info = describe_model_path(path)
    card: dict[str, Any] = {}
    if info.model_parameters:
        card["modelParameters"] = dict(info.model_parameters)
    props = {"aitrace:format": info.format, **info.properties}
    file_card, problems = read_card(path)
    if file_card.model_parameters:
        card = mb.merge_card({"modelParameters": file_card.model_parameters}, card)
    for k, v in file_card.properties.items():
        props.setdefault(k, v)
    if problems:
        props["aitrace:model:card-refused"] = "; ".join(problems)[:500]
    desc = describe_path(path, DescribeContext(path=recorded))
    if desc is not None:
        card = mb.merge_card(dict(desc.model_card), card)
        for k, v in desc.properties.items():
            props.setdefault(k, v)
    return card, props


def card_licenses_and_bases(path: Path) -> tuple[str | None, list[str]]:
    """The licence a model's own card declares and the base models it names (no execution)."""
    if not path.exists():
        return None, []
    file_card, _ = read_card(path)
    lic = " AND ".join(file_card.licenses) if file_card.licenses else None
    return lic, file_card.base_models


def base_model_artifact(name: str) -> Artifact:
    """A base model named by a card: a URL as given, a Hugging Face id as its hub address."""
    from aitrace.record.refs import is_uri

    url = name if is_uri(name) else f"https://huggingface.co/{name.strip('/')}"
    return Artifact(path=url, type="uri", role="base-model", origin=url)


# --------------------------------------------------------------------------- formulation

def formulation(ws: Workspace, prior: Sequence[Step], producers: Mapping[str, Step],
                 refs: Mapping[tuple[str, str | None], str]) -> dict[str, Any]:
    """The record's steps as CycloneDX ``formulation`` (one task per step, inputs, outputs)."""
    tasks = []
    deps = []
    for s in prior:
        feeders = {f"task:{p.id}" for a in s.materials
                   if (p := producers.get(a.value or "")) is not None and p.seq < s.seq}
        t, d = mb.task(s, refs, feeders)
        tasks.append(t)
        deps.append(d)
    workflow = {
        "bom-ref": f"workflow:{ws.record.id}", "uid": ws.record.id,
        "name": f"aitrace production record '{ws.name}'",
        "description": "The record's steps (stage executions) in chain order; each task is "
                       "one immutable, hash-chained aitrace step.",
        "taskTypes": sorted({t["taskTypes"][0] for t in tasks}),
        "tasks": tasks, "taskDependencies": deps,
    }
    if prior:
        workflow["timeStart"] = prior[0].started_at
        workflow["timeEnd"] = prior[-1].ended_at
    return {"bom-ref": f"formula:{ws.record.id}", "workflows": [workflow]}




