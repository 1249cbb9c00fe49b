"""CycloneDX 1.6 ML-BOMs: which data, libraries and base model went into a model, and how.

Built with cyclonedx-python-lib (imported lazily) for what it models — components, hashes,
licences, purls, dependencies, metadata — then completed as JSON with what it does not model yet:
the model's ``modelCard``, the data components' ``data`` and the record's ``formulation``. Every
document is validated against the CycloneDX 1.6 JSON schema shipped in the library before it is
returned; an invalid BOM is a bug and raises, it is never an output.

Three entry points:

* ``bom_for_step(step)`` — the ML-BOM of a step as it ends, which ``SbomSource`` attaches as
  evidence (automatically at the end of release-stage steps with outputs, or by ``rec.sbom()``);
* ``bom_from_record(workspace, step)`` — ``aitrace sbom [--step]`` from the stored record;
* ``bom_from_files(models, include_env)`` — ``aitrace sbom --model PATH --env`` in CI, no record.

Determinism: the serial number is a UUID derived from the SHA-256 of the document's canonical
JSON (without the serial), and the timestamp is the step's end (record) or ``SOURCE_DATE_EPOCH``
when set (CI) — the same input gives the same BOM, byte for byte.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aitrace.errors import InputError, IntegrityError
from aitrace.evidence.licenses import component_license_text, flag_reason
from aitrace.evidence.sbom import _mlbom as mb
from aitrace.evidence.sbom.assemble import (
    BomParts,
    DataPart,
    ModelPart,
    assemble,
    display_path,
    libraries_from_env,
)
from aitrace.evidence.sbom.card import (
    CardContext,
    base_model_artifact,
    card_licenses_and_bases,
    describe_file,
    formulation,
    record_card,
    user_card,
)
from aitrace.hooks.handle import FinishingStep
from aitrace.record.jsonio import parse_untrusted
from aitrace.record.models import Artifact, Step
from aitrace.record.refs import is_uri
from aitrace.record.stages import EVIDENCE_ENVIRONMENT, RELEASE_STAGES
from aitrace.record.times import parse_utc

if TYPE_CHECKING:
    from aitrace.store.workspace import Workspace

# =========================================================================== public API

def bom_for_step(step: FinishingStep) -> dict[str, Any]:
    """The ML-BOM of a step as it ends (its products so far are the candidate models).

    ``step.options.sbom_models`` narrows the models to those outputs (``rec.sbom(models=...)``).
    """
    ws = step.workspace
    prior = ws.steps()
    current = replace(step.step, seq=len(prior) + 1, prev=prior[-1].digest if prior else None)
    env_doc = _environment_doc(ws, current)
    return _record_bom(ws, (*prior, current), current, env_doc, stored=False,
                       only=_rel_paths(ws, step.options.sbom_models))


def bom_from_record(workspace: Workspace, step: str | None = None) -> dict[str, Any]:
    """The ML-BOM of a recorded step (default: the latest deployment, optimization or training).

    Raises ``InputError`` when the record has no such step or the step produced no model.
    """
    steps = workspace.steps()
    subject = workspace.get_step(step) if step is not None else _default_subject(steps)
    env_doc = None
    if subject.environment is not None and subject.environment.distributions_sha256:
        env_doc = _environment_doc(workspace, subject)
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
    built: list[ModelPart] = []
    files: dict[str, Path] = {}
    seen: set[str] = set()
    for p, d in zip(models, hasher.digest_many(list(models)), strict=True):
        art = Artifact(path=display_path(p), type=d.type, sha256=d.sha256, size=d.size,
                       role="model")
        ref = mb.bom_ref("model", art)
        if ref in seen:
            continue
        seen.add(ref)
        files[art.path] = p
        card, props = describe_file(p, art.path)
        built.append(ModelPart(art, ref, card, props))
    built, bases = _card_extras(built, files, [])
    libs = libraries_from_env(_current_environment()) if include_env else []
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    try:
        ts = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    except (ValueError, OverflowError, OSError):
        raise InputError(f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix timestamp",
                         hint="set it to whole seconds since 1970, or unset it") from None
    return assemble(BomParts(timestamp=ts.replace(microsecond=0), models=built, libraries=libs,
                            base_models=bases, properties={"aitrace:mode": "files"}))


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
    model_lic: dict[str, str | None] = {}
    for c in ([top] if top else []) + comps:
        props = {p["name"]: p.get("value") for p in c.get("properties") or []}
        lic = component_license_text(c)
        if c["type"] == "data" and any(d.get("type") == "dataset" for d in c.get("data") or []):
            data_lic[c["name"]] = lic
        elif c["type"] == "machine-learning-model" and props.get("aitrace:role") == "base-model":
            base_lic[c["name"]] = lic
        elif c["type"] == "machine-learning-model" and lic:
            model_lic[c["name"]] = lic
        else:
            continue
        reason = flag_reason(lic)
        if reason:
            flagged.append({"component": c["name"], "bom-ref": c.get("bom-ref", ""),
                            "license": lic or "", "reason": reason})
    out: dict[str, Any] = {
        "spec_version": doc.get("specVersion"), "serial_number": doc.get("serialNumber"),
        "components": {"total": len(everything), **dict(sorted(counts.items()))},
        "licenses": {"data": data_lic, "base_models": base_lic, "models": model_lic},
        "flagged_licenses": flagged,
    }
    if top:
        sha = next((h["content"] for h in top.get("hashes") or [] if h["alg"] == "SHA-256"),
                   None)
        path = next((p["value"] for p in top.get("properties") or []
                     if p["name"] == "aitrace:path"), None)
        out["model"] = {"name": top["name"], "path": path, "sha256": sha}
    return out


# =========================================================================== record mode

def _default_subject(steps: Sequence[Step]) -> Step:
    for stage in RELEASE_STAGES:
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
    return {ws.relpath(p) if not is_uri(os.fspath(p)) else os.fspath(p) for p in paths}


def _environment_doc(ws: Workspace, step: Step) -> dict[str, Any] | None:
    """The environment evidence of ``step`` (its summary's object, else its latest capture).

    A step without one lists no libraries: aitrace's own interpreter is not the step's.
    """
    env = step.environment
    sha = env.distributions_sha256 if env is not None else None
    if sha is None:
        sha = next((e.sha256 for e in reversed(step.evidence)
                    if e.kind == EVIDENCE_ENVIRONMENT), None)
    if sha is None:
        return None
    doc = parse_untrusted(ws.read_object(sha), f"environment evidence {sha[:12]}",
                          error=IntegrityError, hint="the workspace's evidence store is damaged")
    return doc if isinstance(doc, dict) else None


def _current_environment() -> dict[str, Any]:
    from aitrace.evidence.environment import capture_environment

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
            if a.value and a.value not in producers:
                producers[a.value] = s
    model_arts = _model_products(subject, only)
    if not model_arts:
        raise InputError(f"step {subject.seq} ({subject.stage}) has no model among its outputs",
                         hint="declare the model output with role='model' (or a model file "
                              "suffix such as .safetensors, .onnx, .pkl), or pass models=[...]")
    lineage = _lineage(subject, prior, producers)
    cfg = ws.config.section("datasets")
    declared = {a.value: a for s in prior if s.status == "succeeded" for a in s.materials
                if a.value and a.origin is not None and a.license}
    data, base = _collect_data(lineage, producers, cfg, {a.value for a in model_arts},
                               declared)
    ctx = CardContext(ws=ws, prior=prior, lineage=lineage, producers=producers,
                       subject=subject, data=data)
    configured = user_card(ws)
    models = [ModelPart(a, mb.bom_ref("model", a), *record_card(ctx, a, configured))
              for a in model_arts]
    models, base = _card_extras(models, {a.path: ws.resolve(a.path) for a in model_arts
                                         if a.type != "uri"}, base, subject.stage)
    props = {"aitrace:mode": "record", "aitrace:record-id": ws.record.id,
             "aitrace:record-name": ws.name, "aitrace:step-id": subject.id,
             "aitrace:step-seq": str(subject.seq), "aitrace:step-stage": subject.stage}
    if stored:  # a step in progress has no final digest yet (its evidence still grows)
        props["aitrace:step-digest"] = subject.digest
    refs = {(m.artifact.path, m.artifact.value): m.ref for m in models}
    refs.update({(d.artifact.path, d.artifact.value): d.ref for d in (*data, *base)})
    ts = parse_utc(subject.ended_at) or datetime.now(UTC)
    return assemble(BomParts(
        timestamp=ts, models=models, data=data, base_models=base,
        libraries=libraries_from_env(env_doc) if env_doc else [], properties=props,
        formulation=formulation(ws, prior, producers, refs), record_name=ws.name))


def _lineage(subject: Step, prior: Sequence[Step], producers: Mapping[str, Step]) -> list[Step]:
    """Steps whose outputs fed ``subject`` (transitively), evaluations of its models, selection."""
    keep: dict[str, Step] = {subject.id: subject}
    todo = [subject]
    while todo:
        s = todo.pop()
        for a in s.materials:
            p = producers.get(a.value or "")
            if p is not None and p.id not in keep and p.seq < s.seq:
                keep[p.id] = p
                todo.append(p)
    models = {a.value for s in keep.values() for a in s.products
              if a.value and mb.artifact_kind(a, s.stage) == "model"}
    for s in prior:
        if s.stage == "evaluation" and s.status == "succeeded" and \
                any(a.value in models for a in s.materials):
            keep.setdefault(s.id, s)
    # The chosen base model is recorded at selection even when no file links it to training.
    selections = [s for s in prior if s.stage == "selection" and s.status == "succeeded"]
    if selections:
        keep.setdefault(selections[-1].id, selections[-1])
    return sorted(keep.values(), key=lambda s: s.seq)


def _collect_data(lineage: Sequence[Step], producers: Mapping[str, Step],
                  cfg: Mapping[str, Any], model_digests: set[str | None],
                  declared: Mapping[str, Artifact] | None = None,
                  ) -> tuple[list[DataPart], list[DataPart]]:
    data: dict[tuple[str, str | None], DataPart] = {}
    base: dict[tuple[str, str | None], DataPart] = {}
    memo: dict[tuple[str, str | None], tuple[str | None, str | None]] = {}
    for s in lineage:
        for role, arts in (("input", s.materials), ("output", s.products)):
            for a in arts:
                kind = mb.artifact_kind(a, s.stage)
                key = (a.path, a.value)
                entry = _dataset_config(cfg, a.path)
                lic, src = resolve_license(a, entry, producers, cfg, memo, declared)
                if kind == "model":
                    external = (a.origin is not None or a.type == "uri") and \
                        a.value not in producers
                    base_role = (a.role or "").lower() == "base-model"
                    if (s.stage == "selection" or external or base_role) and \
                            a.value not in model_digests and key not in base:
                        base[key] = DataPart(a, mb.bom_ref("base-model", a), "model", s.stage,
                                          lic, src, entry, role)
                    continue
                if kind not in ("dataset", "configuration") or key in data:
                    continue
                if a.value in model_digests:
                    continue
                data[key] = DataPart(a, mb.bom_ref("data", a), kind, s.stage, lic, src, entry,
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


def resolve_license(a: Artifact, entry: Mapping[str, Any], producers: Mapping[str, Step],
                     cfg: Mapping[str, Any],
                     memo: dict[tuple[str, str | None], tuple[str | None, str | None]],
                     declared: Mapping[str, Artifact] | None = None,
                     ) -> tuple[str | None, str | None]:
    """Config > declared > declared where the same bytes entered > inherited from its sources.

    "Declared where the same bytes entered" is a ``--source …,license=`` given when the data
    entered the record (at collection); inherited is from the data a data stage derived it from.
    """
    declared = declared or {}
    key = (a.path, a.value)
    if key in memo:
        return memo[key]
    memo[key] = (None, None)  # cycle guard
    if entry.get("license"):
        result: tuple[str | None, str | None] = (str(entry["license"]), "aitrace.yaml datasets")
    elif a.license:
        result = (a.license, "declared")
    elif a.value is not None and a.value in declared:
        source = declared[a.value]
        result = (source.license, f"declared with {source.path} from {source.origin}")
    else:
        result = (None, None)
        step = producers.get(a.value or "")
        if step is not None and step.stage in mb.DATA_STAGES:
            sources = [m for m in step.materials
                       if mb.artifact_kind(m, step.stage) == "dataset"]
            lics = [resolve_license(m, _dataset_config(cfg, m.path), producers, cfg, memo,
                                    declared)[0] for m in sources]
            known = [x for x in lics if x]
            if sources and len(known) == len(lics):
                uniq = sorted(set(known))
                text = uniq[0] if len(uniq) == 1 else " AND ".join(
                    f"({x})" if " " in x else x for x in uniq)
                result = (text, "inherited from " + ", ".join(m.path for m in sources))
    memo[key] = result
    return result


# --------------------------------------------------------------------------- model card

def _card_extras(models: list[ModelPart], paths: Mapping[str, Path], base: list[DataPart],
                 stage: str = "deployment") -> tuple[list[ModelPart], list[DataPart]]:
    """What the models' own cards add: their licence, and the base models they name.

    A licence declared on the artifact wins; the card's licence fills it in otherwise (it then
    reaches the licence policy through the SBOM summary). Each base model becomes a
    base-model component the model depends on.
    """
    out: list[ModelPart] = []
    known = {b.artifact.path for b in base}
    extra: list[DataPart] = []
    for m in models:
        path = paths.get(m.artifact.path)
        lic, bases = card_licenses_and_bases(path) if path is not None else (None, [])
        a = m.artifact
        if lic and not a.license:
            a = replace(a, license=lic)
            m.properties.setdefault("aitrace:license-source", "model card (README.md)")
        out.append(ModelPart(a, m.ref, m.card, m.properties))
        for name in bases:
            b = base_model_artifact(name)
            if b.path in known:
                continue
            known.add(b.path)
            extra.append(DataPart(b, mb.bom_ref("base-model", b), "model", stage, None,
                                  None, {}, "input"))
    return out, [*base, *extra]


