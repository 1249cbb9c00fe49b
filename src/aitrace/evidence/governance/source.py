"""``risk-register`` and ``self-check`` evidence: the team's own assessments, typed and checked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aitrace.errors import AitraceError
from aitrace.evidence.governance.models import (
    CHECKLIST_MEDIA_TYPE,
    RISK_MEDIA_TYPE,
    checklist_from_json,
    checklist_summary,
    risk_register_from_json,
    risk_summary,
)
from aitrace.evidence.interface import Badge, EvidenceSource
from aitrace.record._model import to_json
from aitrace.record.stages import EVIDENCE_CHECKLIST, EVIDENCE_RISK

if TYPE_CHECKING:
    from aitrace.record.models import EvidenceRef


class RiskRegisterSource(EvidenceSource):
    """The seven risk items of the source guide, each rated with mitigation and owner."""

    kind = EVIDENCE_RISK
    media_type = RISK_MEDIA_TYPE
    title = "Risk register"

    def summary(self, doc: Any) -> Mapping[str, Any]:
        try:
            return risk_summary(risk_register_from_json(doc, source="risk register"))
        except AitraceError:
            return {}

    def facts(self, doc: Any) -> Mapping[str, Any] | None:
        try:
            return {"register": to_json(risk_register_from_json(doc, source="risk register"))}
        except AitraceError as exc:
            return {"error": exc.message}

    def badge(self, ref: EvidenceRef, facts: Mapping[str, Any] | None) -> Badge | None:
        if self.emptiness(ref):
            return ("Risk register: not filled in", "warn")
        return ("Risk register", "info")

    def emptiness(self, ref: EvidenceRef) -> str | None:
        items, unassessed = ref.summary.get("items"), ref.summary.get("not_assessed")
        if isinstance(items, int) and isinstance(unassessed, list) and len(unassessed) >= items:
            return f"not filled in: none of its {items} risk items is assessed"
        return None

    def validate(self, doc: Any) -> str | None:
        try:
            risk_register_from_json(doc, source="risk register")
        except AitraceError as exc:
            return exc.message
        return None


class SelfCheckSource(EvidenceSource):
    """The self-check table (表1): six strategy aspects and four adoption routes."""

    kind = EVIDENCE_CHECKLIST
    media_type = CHECKLIST_MEDIA_TYPE
    title = "Self-check table"

    def summary(self, doc: Any) -> Mapping[str, Any]:
        try:
            return checklist_summary(checklist_from_json(doc, source="self-check table"))
        except AitraceError:
            return {}

    def facts(self, doc: Any) -> Mapping[str, Any] | None:
        try:
            return {"table": to_json(checklist_from_json(doc, source="self-check table"))}
        except AitraceError as exc:
            return {"error": exc.message}

    def badge(self, ref: EvidenceRef, facts: Mapping[str, Any] | None) -> Badge | None:
        if self.emptiness(ref):
            return ("Self-check: not filled in", "warn")
        return ("Self-check", "info")

    def emptiness(self, ref: EvidenceRef) -> str | None:
        counts = ref.summary.get("strategy")
        if not isinstance(counts, Mapping):
            return None
        total = sum(v for v in counts.values() if isinstance(v, int))
        if total and counts.get("not_assessed") == total:
            return f"not filled in: none of its {total} strategy aspects is assessed"
        return None

    def validate(self, doc: Any) -> str | None:
        try:
            checklist_from_json(doc, source="self-check table")
        except AitraceError as exc:
            return exc.message
        return None
