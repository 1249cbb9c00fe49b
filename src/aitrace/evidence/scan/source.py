"""``model-scan`` evidence: every model-like output of a release-stage step, scanned statically.

At the end of a succeeded training, optimization or deployment step, each output that is a
model (by role, suffix or layout) or whose first bytes are a pickle is scanned — except files
of formats that are plain data (safetensors, ONNX, GGUF …) and do not start like a pickle
(``aitrace.evidence.scan.scan``) and the document is attached bound to the output's recorded
digest, so every later step, bundle and policy that sees the same bytes sees the verdict.
``aitrace.yaml`` can turn it off with ``scan: {auto: false}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from aitrace.evidence.interface import Badge, EvidenceSource
from aitrace.evidence.model.introspect import MODEL_FORMATS
from aitrace.evidence.sbom._mlbom import artifact_kind
from aitrace.evidence.scan.scan import (
    SCAN_FORMAT,
    VERDICT_ORDER,
    file_head,
    scan_path,
    starts_like_pickle,
    top_findings,
)
from aitrace.hooks.handle import Attachment, Contribution, FinishingStep
from aitrace.record.stages import EVIDENCE_MODEL_SCAN, RELEASE_STAGES

if TYPE_CHECKING:
    from aitrace.record.models import Artifact, EvidenceRef

MODEL_SCAN_MEDIA_TYPE = "application/vnd.aitrace.model-scan+json"

_BADGES: dict[str, Badge] = {
    "unsafe": ("unsafe model", "bad"), "error": ("scan incomplete", "bad"),
    "unscanned": ("not scanned", "warn"), "review": ("scan: review", "warn"),
    "safe": ("scanned", "ok"),
}


def scan_candidates(step: FinishingStep) -> list[tuple[Artifact, Path]]:
    """The step's outputs to scan: models, and files whose bytes start like a pickle."""
    out = []
    for a in step.step.products:
        if a.type == "uri" or a.value is None:
            continue
        path = step.workspace.resolve(a.path)
        if not path.exists():
            continue
        pickled = starts_like_pickle(file_head(path))
        if _plain_data_format(a.path) and not pickled:
            continue  # safetensors, ONNX, GGUF …: formats whose loading runs no code
        if artifact_kind(a, step.step.stage) == "model" or pickled:
            out.append((a, path))
    return out


def _plain_data_format(path: str) -> bool:
    suffix = PurePosixPath(path).suffix.lower()
    fmt = MODEL_FORMATS.get(suffix)
    return fmt is not None and not fmt[1] and suffix not in (".h5", ".hdf5", ".keras")


def summarize_scan(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The few values a step's evidence reference keeps: path, verdict, the worst findings."""
    scanners = doc.get("scanners")
    names = [f"{s.get('name')} {s.get('version')}" for s in scanners
             if isinstance(s, Mapping)] if isinstance(scanners, list) else []
    files = doc.get("files")
    count = sum(len(f.get("findings") or []) for f in files
                if isinstance(f, Mapping)) if isinstance(files, list) else 0
    return {"path": doc.get("path"), "verdict": doc.get("verdict"),
            "scanners": ", ".join(names), "findings": count, "top": top_findings(doc)}


class ModelScanSource(EvidenceSource):
    """Static scans of model files (fickling and modelscan): verdict, imports, findings."""

    kind = EVIDENCE_MODEL_SCAN
    media_type = MODEL_SCAN_MEDIA_TYPE
    title = "Model file scan"

    def applies(self, step: FinishingStep) -> bool:
        """Succeeded release-stage steps with model outputs, unless ``scan.auto`` is false."""
        s = step.step
        if s.stage not in RELEASE_STAGES or s.status != "succeeded" or not s.products:
            return False
        if not step.workspace.config.section("scan").get("auto", True):
            return False
        return bool(scan_candidates(step))

    def contribute(self, step: FinishingStep) -> Contribution:
        """One scan document per model output, bound to its recorded digest."""
        out = []
        for a, path in scan_candidates(step):
            doc = scan_path(path, a.path, a.value)
            out.append(Attachment(
                kind=self.kind, data=doc, media_type=self.media_type,
                name=f"model-scan:{a.path}", summary=summarize_scan(doc),
                subject_path=a.path, subject_sha256=a.value))
        return Contribution(evidence=tuple(out))

    def warning(self, stage: str, error: str) -> str:
        return f"model files of the {stage} step were not scanned ({error})"

    def summary(self, doc: Any) -> Mapping[str, Any]:
        return summarize_scan(doc) if isinstance(doc, Mapping) else {}

    def facts(self, doc: Any) -> Mapping[str, Any] | None:
        if not isinstance(doc, Mapping) or doc.get("format") != SCAN_FORMAT:
            return {"error": "not a model scan"}
        files = []
        for f in doc.get("files") or []:
            if not isinstance(f, Mapping):
                continue
            findings = [{"severity": str(x.get("severity")), "what": str(x.get("what")),
                         "scanner": str(x.get("scanner")), "where": str(x.get("where") or "")}
                        for x in (f.get("findings") or [])[:50] if isinstance(x, Mapping)]
            files.append({"path": str(f.get("path")), "container": str(f.get("container")),
                          "verdict": str(f.get("verdict")), "findings": findings,
                          "error": str(f["error"]) if f.get("error") else None})
        return {"path": str(doc.get("path")), "verdict": str(doc.get("verdict")),
                **{k: v for k, v in summarize_scan(doc).items() if k in ("scanners", "top")},
                "files": files}

    def badge(self, ref: EvidenceRef, facts: Mapping[str, Any] | None) -> Badge | None:
        verdict = (facts or {}).get("verdict") or ref.summary.get("verdict")
        return _BADGES.get(str(verdict), ("model scan", "info"))

    def validate(self, doc: Any) -> str | None:
        if not isinstance(doc, Mapping) or doc.get("format") != SCAN_FORMAT:
            return f"is not a model scan ({SCAN_FORMAT})"
        if doc.get("verdict") not in VERDICT_ORDER:
            return f"has an unknown verdict {doc.get('verdict')!r}"
        if not isinstance(doc.get("files"), list):
            return "has no list of scanned files"
        return None
