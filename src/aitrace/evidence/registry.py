"""Every kind of evidence and the source that knows it: the one place that names them all.

The tracker's finish path (through ``contributors``), verification's evidence checks and the
views' per-kind reading all iterate this registry instead of naming sources. Built-in sources
cover every ``aitrace.record.stages.EvidenceKind`` (a test checks the map is exhaustive);
plug-ins published under ``aitrace.plugins`` add their own kinds (a built-in kind is never
replaced by a plug-in). A kind nobody knows is read by ``OpaqueSource``: listed, never parsed.

Order matters for contributors: the environment first (the ML-BOM lists its libraries), the
user's own MLflow runs next (their values and model folders feed the ML-BOM), the ML-BOM, the
model-file scans, the GX totals, and aitrace's MLflow step run last (it records the final
values).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import ClassVar

from aitrace.evidence.environment import EnvironmentSource
from aitrace.evidence.governance.source import RiskRegisterSource, SelfCheckSource
from aitrace.evidence.gx.source import GxSource
from aitrace.evidence.interface import EvidenceSource, ModelDescriptionSource
from aitrace.evidence.mlflow.source import MlflowSource, UserRunsSource
from aitrace.evidence.monitoring.source import (
    OutputReviewSource,
    TraceSampleSource,
    UserFeedbackSource,
)
from aitrace.evidence.sbom.source import SbomSource
from aitrace.evidence.scan.source import ModelScanSource
from aitrace.record.stages import (
    EVIDENCE_CONFIG,
    EVIDENCE_DOCUMENT,
    EVIDENCE_NOTE,
    EVIDENCE_QUARANTINE,
    EvidenceKind,
)


class _PlainSource(EvidenceSource):
    """Evidence attached as-is (documents, notes, configuration): listed, not interpreted."""

    media_type = "application/octet-stream"


class DocumentSource(_PlainSource):
    """A document attached to a step (a guideline, a report)."""

    kind = EVIDENCE_DOCUMENT
    title = "Document"


class NoteSource(_PlainSource):
    """A free-text note attached to a step."""

    kind = EVIDENCE_NOTE
    title = "Note"


class ConfigSource(_PlainSource):
    """A configuration file attached to a step."""

    kind = EVIDENCE_CONFIG
    title = "Configuration"


class QuarantineSource(_PlainSource):
    """Step files ``aitrace doctor --repair`` set aside, listed with their digests."""

    kind = EVIDENCE_QUARANTINE
    media_type = "application/vnd.aitrace.quarantine+json"
    title = "Quarantined step files"


class OpaqueSource(_PlainSource):
    """Evidence of a kind no installed source knows: shown by kind, never parsed."""

    kind = "unknown"
    title = "Unknown evidence"

    def __init__(self, kind: str = "unknown") -> None:
        self.stands_for = kind


BUILTIN: dict[EvidenceKind, type[EvidenceSource]] = {
    "environment": EnvironmentSource,
    "model-description": ModelDescriptionSource,
    "cyclonedx-sbom": SbomSource,
    "model-scan": ModelScanSource,
    "gx-validation": GxSource,
    "risk-register": RiskRegisterSource,
    "self-check": SelfCheckSource,
    "document": DocumentSource,
    "note": NoteSource,
    "config": ConfigSource,
    "quarantine": QuarantineSource,
    "trace-sample": TraceSampleSource,
    "output-review": OutputReviewSource,
    "user-feedback": UserFeedbackSource,
    "mlflow-run": MlflowSource,
}
"""Built-in kinds to sources, in contribution order (the MLflow link last)."""

_BY_KIND: dict[str, type[EvidenceSource]] = {str(k): v for k, v in BUILTIN.items()}


class _Registry:
    """Sources by kind: built-ins, then plug-ins of other kinds (discovered once)."""

    _plugins: ClassVar[dict[str, EvidenceSource] | None] = None

    @classmethod
    def plugins(cls) -> dict[str, EvidenceSource]:
        if cls._plugins is None:
            from aitrace.evidence.model.describe import plugin_sources

            cls._plugins = {s.kind: s for s in plugin_sources() if s.kind not in BUILTIN}
        return cls._plugins


@cache
def _instance(kind: str) -> EvidenceSource:
    cls = _BY_KIND.get(kind)
    return cls() if cls is not None else OpaqueSource(kind)


def source_for(kind: str) -> EvidenceSource:
    """The source that reads and checks evidence of ``kind`` (``OpaqueSource`` if none does)."""
    if kind in BUILTIN:
        return _instance(kind)
    return _Registry.plugins().get(kind) or _instance(kind)


def sources() -> tuple[EvidenceSource, ...]:
    """One instance of every known source: built-ins in order, then plug-ins."""
    return (*(_instance(k) for k in BUILTIN), *_Registry.plugins().values())


def contributors() -> Sequence[EvidenceSource]:
    """Sources for one step, in contribution order (what the tracker is wired with).

    Built-in sources are fresh instances (they may keep state between ``begin`` and
    ``contribute``); the user's MLflow runs are observed right after the environment, and
    plug-in sources that add evidence to steps come before aitrace's MLflow step run.
    """
    built = [cls() for kind, cls in BUILTIN.items() if kind not in ("mlflow-run", "environment")]
    extra = [p for p in _Registry.plugins().values()
             if type(p).applies is not EvidenceSource.applies]
    return [EnvironmentSource(), UserRunsSource(), *built, *extra, MlflowSource()]


def checked_sources() -> tuple[EvidenceSource, ...]:
    """Sources whose ``validate`` feeds a verification check of its own (``check_id``)."""
    return tuple(s for s in sources() if s.check_id)
