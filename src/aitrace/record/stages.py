"""The ten stages of an AI production record, in order (DESIGN.md §1, the seed's appendix §1).

Everything that needs to know about stages (the record, status, completeness, policy, the
report) reads this module, so the list exists exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeGuard, get_args

StageId = Literal[
    "problem",
    "collection",
    "cleaning",
    "labeling",
    "selection",
    "design",
    "training",
    "evaluation",
    "optimization",
    "deployment",
]

STAGE_IDS: tuple[StageId, ...] = get_args(StageId)

EvidenceKind = Literal[
    "environment",
    "gx-validation",
    "cyclonedx-sbom",
    "mlflow-run",
    "risk-register",
    "self-check",
    "model-description",
    "document",
    "note",
    "config",
    "model-scan",
    "quarantine",
]
"""The kinds of evidence aitrace itself writes (plug-ins may add their own kinds)."""

EVIDENCE_KINDS: tuple[EvidenceKind, ...] = get_args(EvidenceKind)

# Evidence kinds, shared by the stages' expectations, the evidence sources, policy and views.
EVIDENCE_ENVIRONMENT: EvidenceKind = "environment"
EVIDENCE_GX: EvidenceKind = "gx-validation"
EVIDENCE_SBOM: EvidenceKind = "cyclonedx-sbom"
EVIDENCE_MLFLOW: EvidenceKind = "mlflow-run"
EVIDENCE_RISK: EvidenceKind = "risk-register"
EVIDENCE_CHECKLIST: EvidenceKind = "self-check"
EVIDENCE_MODEL_DESCRIPTION: EvidenceKind = "model-description"
EVIDENCE_DOCUMENT: EvidenceKind = "document"
EVIDENCE_NOTE: EvidenceKind = "note"
EVIDENCE_CONFIG: EvidenceKind = "config"
EVIDENCE_MODEL_SCAN: EvidenceKind = "model-scan"
EVIDENCE_QUARANTINE: EvidenceKind = "quarantine"

SOURCE_STAGES: tuple[StageId, ...] = ("problem", "collection", "selection", "design")
"""Where data and base models may enter a record from outside (declared with an origin).

Chain of custody accepts an input nothing earlier produced only when it is declared external
at one of these stages (or is code, configuration or a document, at any stage); recording
refuses (``--source``) or warns (``step.input(origin=...)``) elsewhere, so the record does not
wait for ``verify`` to say so.
"""
SOURCE_ANY_STAGE_ROLES: tuple[str, ...] = ("code", "config", "document", "guideline")
"""Roles of declared external inputs that may enter at any stage (scripts and settings)."""

RELEASE_STAGES: tuple[StageId, ...] = ("deployment", "optimization", "training")
"""Where a record's released model comes from, in order of preference.

The latest succeeded step of the first of these stages that has one is the *release step*: its
products are what a bundle signs as released, and these are the stages that get an automatic
ML-BOM. Everything that needs the rule (bundle, SBOM, views, diff) reads it from here.
"""


@dataclass(frozen=True)
class Stage:
    """A stage of the life cycle and what it is expected to leave behind."""

    id: StageId
    number: int
    name: str
    name_zh: str
    leaves: str
    # Things a complete record shows for this stage; each is "products", "materials",
    # "params", "metrics", "mlflow" or an evidence kind above.
    expected: tuple[str, ...]


STAGES: tuple[Stage, ...] = (
    Stage("problem", 1, "Problem definition", "定義問題",
          "problem statement, objective, success criteria, owners, risk assessment, "
          "self-check table",
          ("products", EVIDENCE_RISK, EVIDENCE_CHECKLIST)),
    Stage("collection", 2, "Data collection", "數據收集",
          "data sources, licences/IP status, raw-data digests, schema/quality checks",
          ("materials", "products", EVIDENCE_GX)),
    Stage("cleaning", 3, "Data cleaning", "數據清洗",
          "input and output datasets, cleaning code, quality checks on the result",
          ("materials", "products", EVIDENCE_GX)),
    Stage("labeling", 4, "Data labelling", "數據標記",
          "labelled data, label distribution, labelling guideline, label-quality checks",
          ("materials", "products", EVIDENCE_GX)),
    Stage("selection", 5, "Model selection", "模型選擇",
          "candidate models, chosen base model with source, licence, digest",
          ("products",)),
    Stage("design", 6, "Model design", "模型設計",
          "architecture, hyper-parameters, configuration files",
          ("products", "params")),
    Stage("training", 7, "Model training", "模型訓練",
          "run metadata (params, metrics, code version, environment, hardware, duration), model",
          ("materials", "products", "params", "metrics", "mlflow", EVIDENCE_ENVIRONMENT)),
    Stage("evaluation", 8, "Model evaluation", "模型評估",
          "test-data digest, metrics vs. the success criteria, fairness/robustness slices",
          ("materials", "metrics", "mlflow")),
    Stage("optimization", 9, "Model optimisation", "模型優化",
          "tuned / pruned / quantised model, before-and-after metrics",
          ("materials", "products", "metrics")),
    Stage("deployment", 10, "Model deployment", "模型部署",
          "the released artifact's digest, model SBOM, approvals, target",
          ("materials", "products", EVIDENCE_SBOM)),
)

_BY_ID: dict[str, Stage] = {s.id: s for s in STAGES}


def get_stage(stage_id: str) -> Stage:
    """Look a stage up by id; raise ``KeyError`` for an unknown id."""
    return _BY_ID[stage_id]


def is_stage(value: object) -> TypeGuard[StageId]:
    """Whether ``value`` is one of the ten stage ids (and, for mypy, a ``StageId``)."""
    return isinstance(value, str) and value in _BY_ID
