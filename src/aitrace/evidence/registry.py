"""Every kind of evidence and the source that knows it: the one place that names them all.

The tracker's finish path (through ``contributors``), verification's evidence checks and the
views' per-kind reading all iterate this registry instead of naming sources. Built-in sources
cover every ``aitrace.record.stages.EvidenceKind`` (a test checks the map is exhaustive);
plug-ins published under ``aitrace.plugins`` add their own kinds (a built-in kind is never
replaced by a plug-in). A kind nobody knows is read by ``OpaqueSource``: listed, never parsed.
A built-in source's module is imported when its kind is first asked for, so a command that needs
one source (``aitrace verify``: the ML-BOM's) does not load the others.

Order matters for contributors: the environment first (the ML-BOM lists its libraries), the
user's own MLflow runs next (their values and model folders feed the ML-BOM), the ML-BOM, the
model-file scans, the GX totals, and aitrace's MLflow step run last (it records the final
values).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import ClassVar, assert_never

from aitrace.evidence.interface import EvidenceSource
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


def _builtin_class(kind: EvidenceKind) -> type[EvidenceSource]:
    """The built-in source class of ``kind``, imported on first use.

    Verifying a bundle needs the ML-BOM source only; recording a step needs them all. Importing
    a source's module only when its kind is asked for keeps ``aitrace verify`` from loading the
    recording machinery of every kind of evidence.
    """
    if kind == "environment":
        from aitrace.evidence.environment import EnvironmentSource
        return EnvironmentSource
    if kind == "model-description":
        from aitrace.evidence.interface import ModelDescriptionSource
        return ModelDescriptionSource
    if kind == "cyclonedx-sbom":
        from aitrace.evidence.sbom.source import SbomSource
        return SbomSource
    if kind == "model-scan":
        from aitrace.evidence.scan.source import ModelScanSource
        return ModelScanSource
    if kind == "gx-validation":
        from aitrace.evidence.gx.source import GxSource
        return GxSource
    if kind == "risk-register":
        from aitrace.evidence.governance.source import RiskRegisterSource
        return RiskRegisterSource
    if kind == "self-check":
        from aitrace.evidence.governance.source import SelfCheckSource
        return SelfCheckSource
    if kind == "document":
        return DocumentSource
    if kind == "note":
        return NoteSource
    if kind == "config":
        return ConfigSource
    if kind == "quarantine":
        return QuarantineSource
    if kind == "trace-sample":
        from aitrace.evidence.monitoring.source import TraceSampleSource
        return TraceSampleSource
    if kind == "output-review":
        from aitrace.evidence.monitoring.source import OutputReviewSource
        return OutputReviewSource
    if kind == "user-feedback":
        from aitrace.evidence.monitoring.source import UserFeedbackSource
        return UserFeedbackSource
    if kind == "mlflow-run":
        from aitrace.evidence.mlflow.source import MlflowSource
        return MlflowSource
    assert_never(kind)


class _Builtins(Mapping[EvidenceKind, type[EvidenceSource]]):
    """Built-in kinds to source classes, in contribution order; classes load on first use."""

    def __getitem__(self, kind: EvidenceKind) -> type[EvidenceSource]:
        if kind not in _ORDER:
            raise KeyError(kind)
        return _builtin_class(kind)

    def __contains__(self, kind: object) -> bool:
        return kind in _ORDER  # without importing the class

    def __iter__(self) -> Iterator[EvidenceKind]:
        return iter(_ORDER)

    def __len__(self) -> int:
        return len(_ORDER)


_ORDER: tuple[EvidenceKind, ...] = (
    "environment", "model-description", "cyclonedx-sbom", "model-scan", "gx-validation",
    "risk-register", "self-check", "document", "note", "config", "quarantine", "trace-sample",
    "output-review", "user-feedback", "mlflow-run")

BUILTIN: Mapping[EvidenceKind, type[EvidenceSource]] = _Builtins()
"""Built-in kinds to sources, in contribution order (the MLflow link last)."""

CHECKED_BUILTINS: tuple[EvidenceKind, ...] = ("cyclonedx-sbom",)
"""The built-in kinds whose source has a ``check_id`` (a test keeps this list exact)."""


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
    builtin = next((k for k in _ORDER if k == kind), None)
    return _builtin_class(builtin)() if builtin is not None else OpaqueSource(kind)


def source_for(kind: str) -> EvidenceSource:
    """The source that reads and checks evidence of ``kind`` (``OpaqueSource`` if none does)."""
    if kind in BUILTIN:
        return _instance(kind)
    return _Registry.plugins().get(kind) or _instance(kind)


def sources() -> tuple[EvidenceSource, ...]:
    """One instance of every known source: built-ins in order, then plug-ins."""
    return (*(_instance(k) for k in BUILTIN), *_Registry.plugins().values())


CONTRIBUTING: tuple[EvidenceKind, ...] = ("cyclonedx-sbom", "model-scan", "gx-validation")
"""Built-in kinds whose sources add evidence to a finishing step, besides the environment and
the MLflow links (which ``contributors`` places first and last). The other kinds are attached by
the commands that make them (``assess``, ``monitor``, ``doctor``…): a step never imports their
modules. ``tests/evidence/test_registry.py`` keeps this list equal to the sources that override
``begin``, ``applies`` or ``contribute``."""


def contributors() -> Sequence[EvidenceSource]:
    """Sources for one step, in contribution order (what the tracker is wired with).

    Built-in sources are fresh instances (they may keep state between ``begin`` and
    ``contribute``); the user's MLflow runs are observed right after the environment, and
    plug-in sources that add evidence to steps come before aitrace's MLflow step run.
    """
    built = [BUILTIN[kind]() for kind in CONTRIBUTING]
    extra = [p for p in _Registry.plugins().values()
             if type(p).applies is not EvidenceSource.applies]
    from aitrace.evidence.environment import EnvironmentSource
    from aitrace.evidence.mlflow.source import MlflowSource, UserRunsSource

    return [EnvironmentSource(), UserRunsSource(), *built, *extra, MlflowSource()]


def checked_sources() -> tuple[EvidenceSource, ...]:
    """Sources whose ``validate`` feeds a verification check of its own (``check_id``)."""
    return (*(_instance(k) for k in CHECKED_BUILTINS),
            *(s for s in _Registry.plugins().values() if s.check_id))
