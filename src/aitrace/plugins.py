"""The stable API for third-party plug-ins: evidence sources and model describers.

A plug-in is an ``EvidenceSource`` published as an entry point in the group ``aitrace.plugins``::

    [project.entry-points."aitrace.plugins"]
    sklearn = "aitrace_sklearn:PLUGIN"

It implements the same interface as aitrace's own sources (Great Expectations, CycloneDX,
MLflow, environment, governance): a ``kind`` and ``media_type``; optionally ``begin`` /
``applies`` / ``contribute`` to add evidence to steps as they end (a ``Contribution`` of
``Attachment`` documents); ``summary``, ``facts`` and ``badge`` for the views; and
``validate(doc) -> problem | None`` for verification. A source of a new kind becomes part of the
registry (``aitrace.evidence.registry``) and its evidence is shown and checked like ours.

A ``ModelDescriber`` is the common special case: it describes model objects (the fitted
estimator in the training process) or model files (while building an ML-BOM) and returns a
CycloneDX ``modelCard`` fragment and ``properties``; ``describe(step, model, path)`` records a
live object's description on a step. Plug-ins must never deserialise untrusted files; one that
fails to load, raises or returns something malformed is reported as a ``PluginWarning`` and
ignored — a plug-in never breaks a step.

Nothing inside aitrace imports this module: it is the front door for plug-ins only.
"""

from __future__ import annotations

from aitrace.evidence.interface import (
    Badge,
    DescribeContext,
    EvidenceSource,
    ModelDescriber,
    ModelDescriptionSource,
)
from aitrace.evidence.model.describe import (
    ENTRY_POINT_GROUP,
    Description,
    LoadedPlugin,
    PluginWarning,
    describe,
    describe_path,
    describe_subject,
    discover,
)
from aitrace.hooks.handle import (
    Attachment,
    Contribution,
    FinishingStep,
    StepHandle,
    StepOptions,
)
from aitrace.record.stages import EVIDENCE_MODEL_DESCRIPTION

__all__ = [
    "ENTRY_POINT_GROUP", "EVIDENCE_MODEL_DESCRIPTION", "Attachment", "Badge", "Contribution",
    "DescribeContext", "Description", "EvidenceSource", "FinishingStep", "LoadedPlugin",
    "ModelDescriber", "ModelDescriptionSource", "PluginWarning", "StepHandle", "StepOptions",
    "describe", "describe_path", "describe_subject", "discover",
]
