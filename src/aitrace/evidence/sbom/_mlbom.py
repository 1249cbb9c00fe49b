"""Pure helpers of the ML-BOM: what an artifact is, licences, model-card merging, formulation.

No CycloneDX library here — only plain data — so the rules (which artifact is a dataset, which
licence is flagged, how the user's model card overrides what was inferred) are small and testable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from aitrace.evidence.model.introspect import is_model_path
from aitrace.record.models import Artifact, Step
from aitrace.record.refs import is_uri
from aitrace.record.stages import RELEASE_STAGES
from aitrace.record.times import parse_utc

Kind = Literal["model", "dataset", "configuration", "source-code", "other"]

DATA_STAGES = ("collection", "cleaning", "labeling")
_DATA_SUFFIXES = frozenset({
    ".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson", ".arrow", ".feather", ".avro",
    ".orc", ".npy", ".npz", ".tfrecord", ".txt", ".xlsx", ".xls", ".sqlite", ".db", ".zip",
    ".gz", ".tar", ".jpg", ".jpeg", ".png", ".wav", ".mp3", ".xml", ".arff", ".hdf",
})
_CONFIG_SUFFIXES = frozenset({".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf"})
_CODE_SUFFIXES = frozenset({".py", ".ipynb", ".r", ".sql", ".sh", ".scala", ".jl"})

# stage -> CycloneDX 1.6 taskType
TASK_TYPES: dict[str, str] = {
    "problem": "other", "collection": "copy", "cleaning": "clean", "labeling": "other",
    "selection": "other", "design": "other", "training": "build", "evaluation": "test",
    "optimization": "build", "deployment": "deploy",
}



def artifact_kind(a: Artifact, stage: str) -> Kind:
    """Classify an artifact by its declared role, else by its name and the stage it is in."""
    role = (a.role or "").lower().replace("_", "-")
    if role in ("model", "base-model", "checkpoint"):
        return "model"
    if "data" in role:
        return "dataset"
    if role in ("config", "configuration"):
        return "configuration"
    if role in ("code", "source-code"):
        return "source-code"
    if role:
        return "other"
    path = urlsplit(a.path).path if a.type == "uri" else a.path
    suffix = PurePosixPath(path).suffix.lower()
    if is_model_path(path):
        return "model"
    if suffix in _DATA_SUFFIXES:
        return "dataset"
    if a.type == "directory":
        if stage in DATA_STAGES:
            return "dataset"
        return "model" if stage in RELEASE_STAGES else "other"
    if a.type == "uri":
        return "dataset" if stage in DATA_STAGES or a.origin else "other"
    if suffix in _CONFIG_SUFFIXES:
        return "configuration"
    if suffix in _CODE_SUFFIXES:
        return "source-code"
    return "other"


def iri(path: str) -> str:
    """A recorded path or URI as an IRI reference (percent-encoding what IRIs forbid)."""
    if is_uri(path):
        return quote(path, safe="/:@!$&'()*+,;=-._~%?#[]")
    return quote(path, safe="/-._~")


def bom_ref(prefix: str, a: Artifact) -> str:
    """A stable, unique bom-ref for an artifact: its path and (short) digest."""
    return f"{prefix}:{a.path}" + (f"@{a.digest[0]}:{a.digest[1][:16]}" if a.digest else "")


def merge_card(inferred: Mapping[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge the user's ``modelCard`` over what was inferred.

    Objects merge key by key; the user's scalar wins; lists are the inferred items followed by the
    user's items that are not already there (so a user can add performance metrics or use cases).
    """
    out: dict[str, Any] = {k: v for k, v in inferred.items()}
    for k, v in user.items():
        cur = out.get(k)
        if isinstance(v, Mapping) and isinstance(cur, Mapping):
            out[k] = merge_card(cur, v)
        elif isinstance(v, list) and isinstance(cur, list):
            out[k] = cur + [x for x in v if x not in cur]
        else:
            out[k] = v
    return out


def split_metric(name: str) -> tuple[str, str | None]:
    """``accuracy/slice=label:a`` -> (``accuracy``, ``label:a``); no slice -> (name, None)."""
    m = re.match(r"^(.*?)[/@]slice=(.+)$", name)
    if m:
        return m.group(1), m.group(2)
    return name, None


def performance_metrics(metrics: Mapping[str, float]) -> list[dict[str, str]]:
    """Step metrics as CycloneDX ``performanceMetrics`` (type, value, slice)."""
    out = []
    for name in sorted(metrics):
        kind, sl = split_metric(name)
        entry = {"type": kind, "value": repr(float(metrics[name]))}
        if sl:
            entry["slice"] = sl
        out.append(entry)
    return out


def parties(value: Any) -> list[dict[str, Any]]:
    """Config owners/custodians (names, e-mail addresses or CycloneDX objects) as parties."""
    items = value if isinstance(value, list) else [value]
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, Mapping):
            out.append(dict(item))
        elif isinstance(item, str) and "@" in item and " " not in item:
            out.append({"contact": {"email": item}})
        elif item is not None:
            out.append({"organization": {"name": str(item)}})
    return out


def duration_seconds(step: Step) -> float:
    """Wall time of a step from its recorded start and end."""
    start, end = parse_utc(step.started_at), parse_utc(step.ended_at)
    if start is None or end is None:
        return 0.0
    return max((end - start).total_seconds(), 0.0)


def task(step: Step, refs: Mapping[tuple[str, str | None], str],
         depends: Iterable[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A CycloneDX formulation task for one step, and its taskDependencies entry."""

    def resource(a: Artifact) -> dict[str, Any]:
        ref = refs.get((a.path, a.value))
        if ref is not None:
            return {"ref": ref}
        ext: dict[str, Any] = {"type": "other", "url": iri(a.path),
                               "comment": f"not a component of this BOM ({a.type})"}
        if a.sha256:
            ext["hashes"] = [{"alg": "SHA-256", "content": a.sha256}]
        return {"externalReference": ext}

    inputs: list[dict[str, Any]] = _unique([{"resource": resource(a)} for a in step.materials])
    if step.params:
        inputs.append({"parameters": [{"name": k, "value": v}
                                      for k, v in sorted(step.params.items())]})
    outputs: list[dict[str, Any]] = _unique(
        [{"type": "artifact", "resource": resource(a)} for a in step.products])
    for e in step.evidence:
        outputs.append({"type": "evidence", "resource": {"externalReference": {
            "type": "evidence", "url": f"aitrace:objects/sha256/{e.sha256}",
            "comment": f"{e.kind} ({e.media_type})",
            "hashes": [{"alg": "SHA-256", "content": e.sha256}]}}})
    outputs = _unique(outputs)
    props = [{"name": "aitrace:stage", "value": step.stage},
             {"name": "aitrace:seq", "value": str(step.seq)},
             {"name": "aitrace:status", "value": step.status}]
    if step.metrics:
        props += [{"name": f"aitrace:metric:{k}", "value": repr(float(v))}
                  for k, v in sorted(step.metrics.items())]
    if step.command is not None:
        props.append({"name": "aitrace:command", "value": " ".join(step.command.argv)})
    if step.code is not None and step.code.commit:
        props.append({"name": "aitrace:git-commit", "value": step.code.commit})
    t: dict[str, Any] = {
        "bom-ref": f"task:{step.id}", "uid": step.id, "name": f"{step.seq} {step.stage}",
        "taskTypes": [TASK_TYPES.get(step.stage, "other")],
        "timeStart": step.started_at, "timeEnd": step.ended_at, "properties": props,
    }
    if step.description:
        t["description"] = step.description
    if inputs:
        t["inputs"] = inputs
    if outputs:
        t["outputs"] = outputs
    dep: dict[str, Any] = {"ref": t["bom-ref"]}
    deps = sorted(set(depends))
    if deps:
        dep["dependsOn"] = deps
    return t, dep


def _unique(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    import json

    seen: set[str] = set()
    out = []
    for it in items:
        key = json.dumps(it, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(it)
    return out
