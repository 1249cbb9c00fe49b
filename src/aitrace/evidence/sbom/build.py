"""CycloneDX 1.6 ML-BOMs: which data, libraries and base model went into a model, and how.

Built with cyclonedx-python-lib (imported lazily) for what it models — components, hashes,
licences, purls, dependencies, metadata — then completed as JSON with what it does not model yet:
the model's ``modelCard``, the data components' ``data`` and the record's ``formulation``. Every
document is validated against the CycloneDX 1.6 JSON schema shipped in the library before it is
returned; an invalid BOM is a bug and raises, it is never an output.

Three entry points:

* ``attach_sbom(rec)`` — the ML-BOM of a step in progress, attached as evidence (automatically
  at the end of training/optimization/deployment steps with outputs, or by ``rec.sbom()``);
* ``bom_from_record(workspace, step)`` — ``aitrace sbom [--step]`` from the stored record;
* ``bom_from_files(models, include_env)`` — ``aitrace sbom --model PATH --env`` in CI, no record.

Determinism: the serial number is a UUID derived from the SHA-256 of the document's canonical
JSON (without the serial), and the timestamp is the step's end (record) or ``SOURCE_DATE_EPOCH``
when set (CI) — the same input gives the same BOM, byte for byte.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aitrace._version import __version__
from aitrace.errors import InputError
from aitrace.evidence.model.introspect import describe_model_path
from aitrace.evidence.sbom import _mlbom as mb
from aitrace.hooks.redact import scrub
from aitrace.plugins import EVIDENCE_MODEL_DESCRIPTION, DescribeContext, describe_path
from aitrace.record.jsonio import canonical_digest, pretty_bytes
from aitrace.record.models import STEP_FORMAT, Artifact, Step
from aitrace.record.stages import EVIDENCE_ENVIRONMENT, EVIDENCE_SBOM

if TYPE_CHECKING:
    from aitrace.hooks.tracker import StepRecorder
    from aitrace.record.models import EvidenceRef
    from aitrace.store.workspace import Workspace

SBOM_MEDIA_TYPE = "application/vnd.cyclonedx+json"
SPEC_VERSION = "1.6"
HASH_NOTE = ("SHA-256 of a model or data component covers the file's bytes (a directory: the "
             "aitrace.dir/v1 manifest digest). Library components carry no hash: installed "
             "distributions keep no wheel hash.")
_DIR_NOTE = "aitrace.dir/v1 directory manifest digest"


# =========================================================================== public API

def attach_sbom(rec: StepRecorder, **options: Any) -> EvidenceRef:
    """Build the ML-BOM of the step being recorded and attach it as ``cyclonedx-sbom`` evidence.

    Options: ``models`` — paths of the step's outputs to describe as models (default: outputs
    with role ``model`` or a model file suffix).
    """
    unknown = set(options) - {"models"}
    if unknown:
        raise InputError(f"rec.sbom(): unknown option(s) {sorted(unknown)}",
                         hint="the only option is models=[paths]")
    ws = rec.workspace
    prior = ws.steps()
    current = _view_of(rec, prior)
    env_doc = _environment_of_recorder(rec)
    doc = _record_bom(ws, (*prior, current), current, env_doc, stored=False,
                      only=_rel_paths(ws, options.get("models")))
    summary = summarize(doc)
    subject = summary.get("model") or {}
    return rec.attach(EVIDENCE_SBOM, pretty_bytes(doc), media_type=SBOM_MEDIA_TYPE,
                      name="ml-bom.cdx.json", summary=summary,
                      subject=ws.resolve(subject["path"]) if subject.get("path") and
                      subject.get("sha256") and "://" not in subject["path"] else None,
                      subject_sha256=subject.get("sha256"))


def bom_from_record(workspace: Workspace, step: str | None = None) -> dict[str, Any]:
    """The ML-BOM of a recorded step (default: the latest deployment, optimization or training).

    Raises ``InputError`` when the record has no such step or the step produced no model.
    """
    steps = workspace.steps()
    subject = workspace.get_step(step) if step is not None else _default_subject(steps)
    env_doc = None
    if subject.environment is not None and subject.environment.distributions_sha256:
        env_doc = json.loads(workspace.read_object(subject.environment.distributions_sha256))
    return _record_bom(workspace, steps, subject, env_doc, stored=True)


def bom_from_files(models: Sequence[Path], include_env: bool) -> dict[str, Any]:
    """An ML-BOM of model files (hashes + introspection) and, optionally, this Python environment.

    Needs no record and imports neither MLflow nor Great Expectations (CI). A missing model file
    raises ``InputError``.
    """
    from aitrace.store.digest import Hasher

    for p in models:
        if not p.exists():
            raise InputError(f"model file {p} does not exist",
                             hint="check the --model path (relative to the current directory)")
    hasher = Hasher(cache=None)
    built: list[_Model] = []
    seen: set[str] = set()
    for p, d in zip(models, hasher.digest_many(list(models)), strict=True):
        art = Artifact(path=_display_path(p), type=d.type, sha256=d.sha256, size=d.size,
                       role="model")
        ref = mb.bom_ref("model", art)
        if ref in seen:
            continue
        seen.add(ref)
        card, props = _describe_file(p, art.path)
        built.append(_Model(art, ref, card, props))
    libs = _libraries_from_env(_current_environment()) if include_env else []
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    try:
        ts = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    except (ValueError, OverflowError, OSError):
        raise InputError(f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix timestamp",
                         hint="set it to whole seconds since 1970, or unset it") from None
    return _assemble(_Parts(timestamp=ts.replace(microsecond=0), models=built, libraries=libs,
                            properties={"aitrace:mode": "files"}))


def summarize(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The evidence summary of a BOM: counts, the model, licences of data and base models.

    ``flagged_licenses`` lists data and base-model licences a policy may refuse: non-commercial
    (e.g. CC-BY-NC-4.0), unspecified ("other", NOASSERTION) or unknown (none recorded).
    """
    comps: list[Mapping[str, Any]] = list(doc.get("components") or [])
    meta = doc.get("metadata") or {}
    top = meta.get("component")
    everything = ([top] if top else []) + comps
    counts: dict[str, int] = {}
    for c in everything:
        counts[c["type"]] = counts.get(c["type"], 0) + 1
    data_lic: dict[str, str | None] = {}
    base_lic: dict[str, str | None] = {}
    flagged: list[dict[str, str]] = []
    for c in comps:
        props = {p["name"]: p.get("value") for p in c.get("properties") or []}
        lic = _license_text(c)
        if c["type"] == "data" and any(d.get("type") == "dataset" for d in c.get("data") or []):
            data_lic[c["name"]] = lic
        elif c["type"] == "machine-learning-model" and props.get("aitrace:role") == "base-model":
            base_lic[c["name"]] = lic
        else:
            continue
        reason = mb.flag_reason(lic)
        if reason:
            flagged.append({"component": c["name"], "bom-ref": c.get("bom-ref", ""),
                            "license": lic or "", "reason": reason})
    out: dict[str, Any] = {
        "spec_version": doc.get("specVersion"), "serial_number": doc.get("serialNumber"),
        "components": {"total": len(everything), **dict(sorted(counts.items()))},
        "licenses": {"data": data_lic, "base_models": base_lic},
        "flagged_licenses": flagged,
    }
    if top:
        sha = next((h["content"] for h in top.get("hashes") or [] if h["alg"] == "SHA-256"),
                   None)
        path = next((p["value"] for p in top.get("properties") or []
                     if p["name"] == "aitrace:path"), None)
        out["model"] = {"name": top["name"], "path": path, "sha256": sha}
    return out


def validate_bom(doc: Mapping[str, Any]) -> str | None:
    """The first CycloneDX 1.6 schema violation of ``doc`` (with its JSON path), or ``None``."""
    err = _validator().validate_str(json.dumps(doc))
    if err is None:
        return None
    inner = getattr(err, "data", None)
    path = "/".join(str(p) for p in getattr(inner, "absolute_path", ())) or "$"
    return f"at {path}: {getattr(inner, 'message', str(err))}"


def model_card_error(fragment: Mapping[str, Any]) -> str | None:
    """Why a (partial) ``modelCard`` is not valid CycloneDX 1.6, or ``None`` when it is."""
    return _fragment_error({"type": "machine-learning-model", "name": "x",
                            "modelCard": dict(fragment)})


# =========================================================================== validation

@cache
def _validator() -> Any:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6)


def _fragment_error(component: dict[str, Any]) -> str | None:
    doc = {"bomFormat": "CycloneDX", "specVersion": SPEC_VERSION, "version": 1,
           "components": [component]}
    err = validate_bom(doc)
    return err.replace("at components/0/", "at ") if err else None


def _check_bom(doc: Mapping[str, Any]) -> None:
    err = validate_bom(doc)
    if err is not None:  # a bug in aitrace: never hand out an invalid BOM
        raise RuntimeError(f"internal error: the generated ML-BOM is not valid CycloneDX "
                           f"{SPEC_VERSION} ({err}); please report it")


# =========================================================================== record mode

@dataclass
class _Model:
    artifact: Artifact
    ref: str
    card: dict[str, Any]
    properties: dict[str, str]


@dataclass
class _Data:
    artifact: Artifact
    ref: str
    kind: str
    stage: str
    license: str | None
    license_source: str | None
    config: Mapping[str, Any]
    role: str = "input"


@dataclass
class _Parts:
    timestamp: datetime
    models: list[_Model]
    data: list[_Data] = field(default_factory=list)
    base_models: list[_Data] = field(default_factory=list)
    libraries: list[dict[str, Any]] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    formulation: dict[str, Any] | None = None
    record_name: str | None = None


def _default_subject(steps: Sequence[Step]) -> Step:
    for stage in ("deployment", "optimization", "training"):
        found = [s for s in steps if s.stage == stage and s.status == "succeeded"
                 and _model_products(s)]
        if found:
            return found[-1]
    raise InputError("the record has no succeeded deployment, optimization or training step "
                     "with a model output",
                     hint="record one first, choose a step with --step, or describe files "
                          "with `aitrace sbom --model PATH`")


def _model_products(step: Step, only: set[str] | None = None) -> list[Artifact]:
    if only:
        return [a for a in step.products if a.path in only]
    return [a for a in step.products if mb.artifact_kind(a, step.stage) == "model"]


def _rel_paths(ws: Workspace, paths: Any) -> set[str] | None:
    if not paths:
        return None
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return {ws.relpath(p) if "://" not in os.fspath(p) else os.fspath(p) for p in paths}


def _view_of(rec: StepRecorder, prior: Sequence[Step]) -> Step:
    """The step in progress as a ``Step`` (outputs declared but not hashed yet are hashed now)."""
    from aitrace.store.workspace import utc_now

    products = list(rec.products)
    have = {a.path for a in products}
    for text, meta in getattr(rec, "_declared_outputs", ()):
        rel = rec.workspace.relpath(text) if "://" not in text else text
        if rel in have or ("://" not in text and not Path(text).exists()):
            continue
        products.append(rec._artifact(text, origin=None, **meta))
        have.add(rel)
    return Step(format=STEP_FORMAT, id=rec.id, record_id=rec.record_id, seq=len(prior) + 1,
                stage=rec.stage,  # type: ignore[arg-type]
                status=rec.status or "succeeded", started_at=rec.started_at,
                ended_at=rec.ended_at or utc_now(), actor=rec.actor,
                prev=prior[-1].digest if prior else None, command=rec.command, code=rec.code,
                environment=rec.environment, materials=tuple(rec.materials),
                products=tuple(products), evidence=tuple(rec.evidence), params=dict(rec.params),
                metrics=dict(rec.metrics), description=rec.description)


def _environment_of_recorder(rec: StepRecorder) -> dict[str, Any] | None:
    env = rec.environment
    if env is not None and env.distributions_sha256:
        data: dict[str, Any] = json.loads(rec.workspace.read_object(env.distributions_sha256))
        return data
    for e in reversed(rec.evidence):
        if e.kind == EVIDENCE_ENVIRONMENT:
            found: dict[str, Any] = json.loads(rec.workspace.read_object(e.sha256))
            return found
    return _current_environment()


def _current_environment() -> dict[str, Any]:
    from aitrace.hooks.capture import capture_environment

    return capture_environment()[1]


def _record_bom(ws: Workspace, steps: Sequence[Step], subject: Step,
                env_doc: Mapping[str, Any] | None, *, stored: bool,
                only: set[str] | None = None) -> dict[str, Any]:
    prior = [s for s in steps if s.seq <= subject.seq]
    producers: dict[str, Step] = {}
    for s in prior:
        if s.status != "succeeded":
            continue
        for a in s.products:
            if a.sha256 and a.sha256 not in producers:
                producers[a.sha256] = s
    model_arts = _model_products(subject, only)
    if not model_arts:
        raise InputError(f"step {subject.seq} ({subject.stage}) has no model among its outputs",
                         hint="declare the model output with role='model' (or a model file "
                              "suffix such as .safetensors, .onnx, .pkl), or pass models=[...]")
    lineage = _lineage(subject, prior, producers)
    cfg = ws.config.section("datasets")
    data, base = _collect_data(lineage, producers, cfg, {a.sha256 for a in model_arts})
    ctx = _CardContext(ws=ws, prior=prior, lineage=lineage, producers=producers,
                       subject=subject, data=data)
    user_card = _user_card(ws)
    models = [_Model(a, mb.bom_ref("model", a), *_record_card(ctx, a, user_card))
              for a in model_arts]
    props = {"aitrace:mode": "record", "aitrace:record-id": ws.record.id,
             "aitrace:record-name": ws.name, "aitrace:step-id": subject.id,
             "aitrace:step-seq": str(subject.seq), "aitrace:step-stage": subject.stage}
    if stored:  # a step in progress has no final digest yet (its evidence still grows)
        props["aitrace:step-digest"] = subject.digest
    refs = {(m.artifact.path, m.artifact.sha256): m.ref for m in models}
    refs.update({(d.artifact.path, d.artifact.sha256): d.ref for d in (*data, *base)})
    ts = datetime.fromisoformat(subject.ended_at.replace("Z", "+00:00"))
    return _assemble(_Parts(
        timestamp=ts, models=models, data=data, base_models=base,
        libraries=_libraries_from_env(env_doc) if env_doc else [], properties=props,
        formulation=_formulation(ws, prior, producers, refs), record_name=ws.name))


def _lineage(subject: Step, prior: Sequence[Step], producers: Mapping[str, Step]) -> list[Step]:
    """Steps whose outputs fed ``subject`` (transitively), evaluations of its models, selection."""
    keep: dict[str, Step] = {subject.id: subject}
    todo = [subject]
    while todo:
        s = todo.pop()
        for a in s.materials:
            p = producers.get(a.sha256 or "")
            if p is not None and p.id not in keep and p.seq < s.seq:
                keep[p.id] = p
                todo.append(p)
    models = {a.sha256 for s in keep.values() for a in s.products
              if a.sha256 and mb.artifact_kind(a, s.stage) == "model"}
    for s in prior:
        if s.stage == "evaluation" and s.status == "succeeded" and \
                any(a.sha256 in models for a in s.materials):
            keep.setdefault(s.id, s)
    # The chosen base model is recorded at selection even when no file links it to training.
    selections = [s for s in prior if s.stage == "selection" and s.status == "succeeded"]
    if selections:
        keep.setdefault(selections[-1].id, selections[-1])
    return sorted(keep.values(), key=lambda s: s.seq)


def _collect_data(lineage: Sequence[Step], producers: Mapping[str, Step],
                  cfg: Mapping[str, Any], model_digests: set[str | None],
                  ) -> tuple[list[_Data], list[_Data]]:
    data: dict[tuple[str, str | None], _Data] = {}
    base: dict[tuple[str, str | None], _Data] = {}
    memo: dict[tuple[str, str | None], tuple[str | None, str | None]] = {}
    for s in lineage:
        for role, arts in (("input", s.materials), ("output", s.products)):
            for a in arts:
                kind = mb.artifact_kind(a, s.stage)
                key = (a.path, a.sha256)
                entry = _dataset_config(cfg, a.path)
                lic, src = _resolve_license(a, entry, producers, cfg, memo)
                if kind == "model":
                    external = (a.origin is not None or a.type == "uri") and \
                        a.sha256 not in producers
                    declared = (a.role or "").lower() == "base-model"
                    if (s.stage == "selection" or external or declared) and \
                            a.sha256 not in model_digests and key not in base:
                        base[key] = _Data(a, mb.bom_ref("base-model", a), "model", s.stage,
                                          lic, src, entry, role)
                    continue
                if kind not in ("dataset", "configuration") or key in data:
                    continue
                if a.sha256 in model_digests:
                    continue
                data[key] = _Data(a, mb.bom_ref("data", a), kind, s.stage, lic, src, entry,
                                  role)
    return list(data.values()), list(base.values())


def _dataset_config(cfg: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    entry = cfg.get(path)
    if entry is None:
        return {}
    if not isinstance(entry, Mapping):
        raise InputError(f"aitrace.yaml: datasets.{path} must be a mapping "
                         "(license, owners, custodians, stewards, classification)",
                         hint=f"write '{path}: {{license: CC-BY-4.0, owners: [data-team]}}'")
    unknown = set(entry) - {"license", "owners", "custodians", "stewards", "classification",
                            "sensitiveData", "description"}
    if unknown:
        raise InputError(f"aitrace.yaml: datasets.{path} has unknown key(s) {sorted(unknown)}",
                         hint="allowed: license, owners, custodians, stewards, classification, "
                              "sensitiveData, description")
    return entry


def _resolve_license(a: Artifact, entry: Mapping[str, Any], producers: Mapping[str, Step],
                     cfg: Mapping[str, Any],
                     memo: dict[tuple[str, str | None], tuple[str | None, str | None]],
                     ) -> tuple[str | None, str | None]:
    """Config > declared on the artifact > inherited from the data a data stage derived it from."""
    key = (a.path, a.sha256)
    if key in memo:
        return memo[key]
    memo[key] = (None, None)  # cycle guard
    if entry.get("license"):
        result: tuple[str | None, str | None] = (str(entry["license"]), "aitrace.yaml datasets")
    elif a.license:
        result = (a.license, "declared")
    else:
        result = (None, None)
        step = producers.get(a.sha256 or "")
        if step is not None and step.stage in mb.DATA_STAGES:
            sources = [m for m in step.materials
                       if mb.artifact_kind(m, step.stage) == "dataset"]
            lics = [_resolve_license(m, _dataset_config(cfg, m.path), producers, cfg, memo)[0]
                    for m in sources]
            known = [x for x in lics if x]
            if sources and len(known) == len(lics):
                uniq = sorted(set(known))
                text = uniq[0] if len(uniq) == 1 else " AND ".join(
                    f"({x})" if " " in x else x for x in uniq)
                result = (text, "inherited from " + ", ".join(m.path for m in sources))
    memo[key] = result
    return result


# --------------------------------------------------------------------------- model card

@dataclass
class _CardContext:
    ws: Workspace
    prior: Sequence[Step]
    lineage: Sequence[Step]
    producers: Mapping[str, Step]
    subject: Step
    data: Sequence[_Data]


def _user_card(ws: Workspace) -> dict[str, Any]:
    section = dict(ws.config.section("modelCard"))
    if not section:
        return {}
    try:
        user: dict[str, Any] = json.loads(json.dumps(section, allow_nan=False, default=str))
    except ValueError as exc:
        raise InputError(f"aitrace.yaml: modelCard is not plain data ({exc})") from None
    err = model_card_error(user)
    if err:
        raise InputError(f"aitrace.yaml: modelCard is not a valid CycloneDX 1.6 model card "
                         f"{err}", hint="use the CycloneDX modelCard keys (modelParameters, "
                         "quantitativeAnalysis, considerations) with their documented shapes")
    return user


def _descriptions(ctx: _CardContext, a: Artifact) -> list[dict[str, Any]]:
    """Plug-in descriptions stored as evidence about these exact bytes (latest first)."""
    out = []
    for s in reversed(ctx.prior):
        for e in reversed(s.evidence):
            if e.kind != EVIDENCE_MODEL_DESCRIPTION:
                continue
            same = e.subject is not None and e.subject.sha256 == a.sha256
            if not same and not (e.subject is None and s.id == ctx.subject.id
                                 and e.summary.get("path") == a.path):
                continue
            try:
                doc = json.loads(ctx.ws.read_object(e.sha256))
            except (ValueError, OSError):
                continue
            if isinstance(doc, dict):
                out.append(doc)
    return out


def _record_card(ctx: _CardContext, a: Artifact,
                 user: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
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
        file_card, file_props = _describe_file(path, a.path)
        card = mb.merge_card(file_card, card)
        for k, v in file_props.items():
            props.setdefault(k, v)
    mp = card.setdefault("modelParameters", {})
    if "approach" not in mp and any(s.stage == "labeling" for s in ctx.prior):
        mp["approach"] = {"type": "supervised"}
    datasets = [{"ref": d.ref} for d in ctx.data if d.kind == "dataset"]
    if datasets:
        mp["datasets"] = datasets
    if not mp:
        del card["modelParameters"]
    metrics = _metrics_for(ctx, a)
    if metrics:
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    env_props = _environment_considerations(ctx)
    if env_props:
        card["considerations"] = {"environmentalConsiderations": {"properties": env_props}}
    return mb.merge_card(card, user), props


def _metrics_for(ctx: _CardContext, a: Artifact) -> list[dict[str, str]]:
    evals = [s for s in ctx.lineage if s.stage == "evaluation" and s.metrics]
    if not evals:
        evals = [s for s in ctx.prior if s.stage == "evaluation" and s.status == "succeeded"
                 and s.metrics]
    if evals:
        return mb.performance_metrics(evals[-1].metrics)
    producer = ctx.producers.get(a.sha256 or "")
    if producer is not None and producer.stage in ("training", "optimization"):
        return mb.performance_metrics(producer.metrics)
    return []


def _environment_considerations(ctx: _CardContext) -> list[dict[str, str]]:
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
                   "value": f"{env.implementation} {env.python}"}]
        if env.memory_bytes:
            props.append({"name": "aitrace:training:memory-bytes",
                          "value": str(env.memory_bytes)})
    props.append({"name": "aitrace:training:energy",
                  "value": "not measured; estimate from duration and hardware above"})
    return props


def _describe_file(path: Path, recorded: str) -> tuple[dict[str, Any], dict[str, str]]:
    info = describe_model_path(path)
    card: dict[str, Any] = {}
    if info.model_parameters:
        card["modelParameters"] = dict(info.model_parameters)
    props = {"aitrace:format": info.format, **info.properties}
    desc = describe_path(path, DescribeContext(path=recorded))
    if desc is not None:
        card = mb.merge_card(dict(desc.model_card), card)
        for k, v in desc.properties.items():
            props.setdefault(k, v)
    return card, props


# --------------------------------------------------------------------------- formulation

def _formulation(ws: Workspace, prior: Sequence[Step], producers: Mapping[str, Step],
                 refs: Mapping[tuple[str, str | None], str]) -> dict[str, Any]:
    tasks = []
    deps = []
    for s in prior:
        feeders = {f"task:{p.id}" for a in s.materials
                   if (p := producers.get(a.sha256 or "")) is not None and p.seq < s.seq}
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


# =========================================================================== assembly

@cache
def _license_factory() -> Any:
    from cyclonedx.contrib.license.factories import LicenseFactory

    return LicenseFactory()


def _licenses(text: str | None) -> list[Any]:
    if not text or not text.strip():
        return []
    return [_license_factory().make_from_string(text.strip()[:200])]


def _libraries_from_env(env_doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    seen: set[str] = set()
    for d in env_doc.get("distributions") or []:
        if not isinstance(d, Mapping) or not d.get("name") or not d.get("version"):
            continue
        key = _normalise(str(d["name"]))
        if key in seen:
            continue
        seen.add(key)
        out.append(dict(d))
    return out


def _normalise(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _display_path(p: Path) -> str:
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.resolve().as_posix()


def _props(mapping: Mapping[str, str]) -> list[Any]:
    from cyclonedx.model import Property

    return [Property(name=k, value=str(v)) for k, v in sorted(mapping.items())]


def _hashes(sha256: str | None) -> list[Any]:
    from cyclonedx.model import HashAlgorithm, HashType

    return [HashType(alg=HashAlgorithm.SHA_256, content=sha256)] if sha256 else []


def _artifact_props(a: Artifact, extra: Mapping[str, str]) -> dict[str, str]:
    props = {"aitrace:path": a.path, **extra}
    if a.sha256:
        props["aitrace:sha256-covers"] = _DIR_NOTE if a.type == "directory" else "file bytes"
    if a.size is not None:
        props["aitrace:size"] = str(a.size)
    if a.origin:
        props["aitrace:origin"] = scrub(a.origin)
    return props


def _external_refs(a: Artifact) -> list[Any]:
    from cyclonedx.model import ExternalReference, ExternalReferenceType, XsUri

    urls = []
    if a.type == "uri":
        urls.append(a.path)
    origin = scrub(a.origin) if a.origin else None
    if origin and "://" in origin and origin not in urls:
        urls.append(origin)
    return [ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(u),
                              comment="source", hashes=_hashes(a.sha256)) for u in urls]


def _assemble(parts: _Parts) -> dict[str, Any]:
    """Build with cyclonedx-python-lib, add what it cannot model, validate, set the serial."""
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    model_comps = []
    for m in parts.models:
        props = _artifact_props(m.artifact, m.properties)
        if parts.record_name:
            props["aitrace:record-name"] = parts.record_name
        model_comps.append(Component(
            type=ComponentType.MACHINE_LEARNING_MODEL, name=Path(m.artifact.path).name,
            bom_ref=m.ref, hashes=_hashes(m.artifact.sha256),
            licenses=_licenses(m.artifact.license), properties=_props(props),
            description=f"model {m.artifact.path}"))
    data_comps = [Component(
        type=ComponentType.DATA, name=d.artifact.path, bom_ref=d.ref,
        hashes=_hashes(d.artifact.sha256), licenses=_licenses(d.license),
        external_references=_external_refs(d.artifact),
        properties=_props(_artifact_props(d.artifact, {
            "aitrace:stage": d.stage, "aitrace:direction": d.role,
            **({"aitrace:license-source": d.license_source} if d.license_source else {})})),
    ) for d in parts.data]
    base_comps = [Component(
        type=ComponentType.MACHINE_LEARNING_MODEL, name=b.artifact.path, bom_ref=b.ref,
        hashes=_hashes(b.artifact.sha256), licenses=_licenses(b.license),
        external_references=_external_refs(b.artifact),
        properties=_props(_artifact_props(b.artifact, {"aitrace:role": "base-model",
                                                      "aitrace:stage": b.stage})),
        description="base model") for b in parts.base_models]
    lib_comps = []
    for d in parts.libraries:
        purl = PackageURL(type="pypi", name=_normalise(str(d["name"])), version=str(d["version"]))
        ref = purl.to_string()
        lib_comps.append(Component(
            type=ComponentType.LIBRARY, name=str(d["name"]), version=str(d["version"]),
            bom_ref=ref, purl=purl, licenses=_licenses(d.get("license")),
            description=str(d["summary"])[:300] if d.get("summary") else None))
    tool = Component(type=ComponentType.APPLICATION, name="aitrace", version=__version__,
                     bom_ref="tool:aitrace", description="AI production records")
    top = model_comps[0] if model_comps else None
    others = model_comps[1:]
    bom = Bom(
        components=[*others, *base_comps, *data_comps, *lib_comps],
        metadata=BomMetaData(component=top, tools=ToolRepository(components=[tool]),
                             timestamp=parts.timestamp,
                             properties=_props({**parts.properties,
                                                "aitrace:hashes": HASH_NOTE})))
    for mc in model_comps:
        bom.register_dependency(mc, [*lib_comps, *data_comps, *base_comps])
    text = JsonV1Dot6(bom).output_as_string()
    doc: dict[str, Any] = json.loads(text)
    _inject(doc, parts)
    if parts.formulation is not None:
        doc["formulation"] = [parts.formulation]
    doc.pop("serialNumber", None)
    doc["serialNumber"] = _serial(doc)
    _check_bom(doc)
    return doc


def _inject(doc: dict[str, Any], parts: _Parts) -> None:
    """Add ``modelCard`` and ``data`` (which the library does not model) by bom-ref."""
    by_ref: dict[str, dict[str, Any]] = {c["bom-ref"]: c for c in doc.get("components") or []}
    top = (doc.get("metadata") or {}).get("component")
    if top:
        by_ref[top["bom-ref"]] = top
    for m in parts.models:
        if m.card:
            by_ref[m.ref]["modelCard"] = m.card
    for d in parts.data:
        entry: dict[str, Any] = {"type": d.kind, "name": d.artifact.path,
                                 "contents": {"url": mb.iri(d.artifact.path)},
                                 "description": f"{d.stage} {d.role}"}
        cfg = d.config
        if cfg.get("classification"):
            entry["classification"] = str(cfg["classification"])
        if cfg.get("description"):
            entry["description"] = str(cfg["description"])
        if cfg.get("sensitiveData"):
            sens = cfg["sensitiveData"]
            entry["sensitiveData"] = [str(x) for x in (sens if isinstance(sens, list) else [sens])]
        gov = {k: mb.parties(cfg[k]) for k in ("owners", "custodians", "stewards") if cfg.get(k)}
        if gov:
            entry["governance"] = gov
        err = _fragment_error({"type": "data", "name": "x", "data": [entry]})
        if err:
            raise InputError(f"aitrace.yaml: datasets.{d.artifact.path} is not valid CycloneDX "
                             f"data {err}", hint="owners/custodians/stewards are names, e-mail "
                             "addresses or {organization: {name: ...}} objects")
        by_ref[d.ref]["data"] = [entry]


def _serial(doc: Mapping[str, Any]) -> str:
    """``urn:uuid:`` from the SHA-256 of the canonical document (RFC 9562 version 8 layout)."""
    raw = bytearray(bytes.fromhex(canonical_digest(doc))[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _license_text(c: Mapping[str, Any]) -> str | None:
    texts = []
    for entry in c.get("licenses") or []:
        if "expression" in entry:
            texts.append(str(entry["expression"]))
        else:
            lic = entry.get("license") or {}
            texts.append(str(lic.get("id") or lic.get("name") or ""))
    texts = [t for t in texts if t]
    return " AND ".join(texts) if texts else None


def write_bom(doc: Mapping[str, Any]) -> bytes:
    """The BOM's bytes as aitrace writes them (stable pretty JSON)."""
    return pretty_bytes(doc)
