"""``cyclonedx-sbom`` evidence: the ML-BOM of every release-stage step that produced a model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aitrace.evidence.interface import Badge, EvidenceSource
from aitrace.evidence.sbom.validate import CYCLONEDX_MEDIA_TYPE, validate_bom
from aitrace.evidence.sbom.view import sbom_facts
from aitrace.hooks.handle import Attachment, Contribution, FinishingStep
from aitrace.record.jsonio import document_bytes
from aitrace.record.refs import is_uri
from aitrace.record.stages import EVIDENCE_SBOM, RELEASE_STAGES

if TYPE_CHECKING:
    from aitrace.record.models import EvidenceRef


class SbomSource(EvidenceSource):
    """CycloneDX 1.6 ML-BOMs (models, data, libraries, base model, formulation)."""

    kind = EVIDENCE_SBOM
    media_type = CYCLONEDX_MEDIA_TYPE
    title = "CycloneDX ML-BOM"
    check_id = "evidence.sbom-schema"
    check_title = "SBOMs validate against the CycloneDX 1.6 schema"

    def applies(self, step: FinishingStep) -> bool:
        """Release stages that succeeded with outputs, unless turned off (option or config)."""
        s = step.step
        if s.stage not in RELEASE_STAGES or s.status != "succeeded":
            return False
        if step.options.sbom is not None:
            return step.options.sbom
        if not s.products:
            return False
        return bool(step.workspace.config.section("sbom").get("auto", True))

    def contribute(self, step: FinishingStep) -> Contribution:
        """The step's ML-BOM, bound to the released model's bytes."""
        # The builder (and the model-card machinery behind it) loads only when a BOM is made:
        # verification needs this source's validate() alone.
        from aitrace.evidence.sbom.build import bom_for_step, summarize

        doc = bom_for_step(step)
        summary = summarize(doc)
        model = summary.get("model") or {}
        path, sha = model.get("path"), model.get("sha256")
        bound = bool(path and sha and not is_uri(str(path)))
        return Contribution(evidence=(Attachment(
            kind=self.kind, data=document_bytes(doc), media_type=self.media_type,
            name="ml-bom.cdx.json", summary=summary,
            subject_path=str(path) if bound else None, subject_sha256=sha if bound else None),))

    def summary(self, doc: Any) -> Mapping[str, Any]:
        from aitrace.evidence.sbom.build import summarize

        return summarize(doc) if isinstance(doc, Mapping) else {}

    def facts(self, doc: Any) -> Mapping[str, Any] | None:
        return sbom_facts(doc)

    def badge(self, ref: EvidenceRef, facts: Mapping[str, Any] | None) -> Badge | None:
        return ("SBOM", "info")

    def validate(self, doc: Any) -> str | None:
        if not isinstance(doc, Mapping):
            return "is not a JSON object"
        error = validate_bom(doc)
        return f"is not valid CycloneDX 1.6: {error}" if error else None

    def warning(self, stage: str, error: str) -> str:
        return f"SBOM not attached to the {stage} step ({error})"
