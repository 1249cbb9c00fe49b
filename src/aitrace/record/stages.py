"""The stages of an AI production record (DESIGN.md §1, the seed's appendix §1 and §五).

The ten *development* stages (``STAGES``, ``STAGE_IDS``), from problem definition to deployment,
are the appendix's life cycle: completeness is scored over them and the default policy asks for
them. After deployment the record keeps going: the *post-deployment* stage ``monitoring`` (監控,
the guide's 監控方式 — outputs checked by people, prompts and results kept with protection, user
feedback, regular checks) is listed separately (``POST_DEPLOYMENT``), so a development-stage
list never grows by accident. ``StageId`` names any stage a step may record; ``is_stage``
accepts all of them, ``is_development_stage`` only the ten.

Everything that needs to know about stages (the record, status, completeness, policy, the
report) reads this module, so each list exists exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeGuard, get_args

DevelopmentStageId = Literal[
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
"""The ten development stages, in order."""

PostDeploymentStageId = Literal["monitoring"]
"""Stages recorded after deployment, while the model is in use."""

StageId = Literal[DevelopmentStageId, PostDeploymentStageId]
"""Any stage a step may record: the ten development stages and the post-deployment ones."""

STAGE_IDS: tuple[DevelopmentStageId, ...] = get_args(DevelopmentStageId)
"""The ten development stages (what completeness and the default policy are about)."""

POST_DEPLOYMENT_IDS: tuple[PostDeploymentStageId, ...] = get_args(PostDeploymentStageId)

ALL_STAGE_IDS: tuple[StageId, ...] = (*STAGE_IDS, *POST_DEPLOYMENT_IDS)
"""Every stage id, development stages first (what ``--stage`` accepts)."""

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
    "trace-sample",
    "output-review",
    "user-feedback",
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
EVIDENCE_TRACES: EvidenceKind = "trace-sample"
EVIDENCE_REVIEW: EvidenceKind = "output-review"
EVIDENCE_FEEDBACK: EvidenceKind = "user-feedback"

SOURCE_STAGES: tuple[StageId, ...] = ("problem", "collection", "selection", "design",
                                      "monitoring")
"""Where data and base models may enter a record from outside (declared with an origin).

Monitoring is one: production samples, traces and review sheets come from the world in use.

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


# The ten development stages, in order (completeness and the default policy are about these).
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

POST_DEPLOYMENT: tuple[Stage, ...] = (
    Stage("monitoring", 11, "Monitoring", "監控",
          "sampled traces (prompts and results by digest, redacted), human review of outputs, "
          "user feedback, drift checks on production data",
          (EVIDENCE_TRACES, EVIDENCE_REVIEW, EVIDENCE_FEEDBACK)),
)
"""Stages after deployment: not part of completeness; freshness policies ask for them."""

ALL_STAGES: tuple[Stage, ...] = (*STAGES, *POST_DEPLOYMENT)

_BY_ID: dict[str, Stage] = {s.id: s for s in ALL_STAGES}
_DEVELOPMENT: frozenset[str] = frozenset(STAGE_IDS)


def get_stage(stage_id: str) -> Stage:
    """Look a stage up by id (any stage); raise ``KeyError`` for an unknown id."""
    return _BY_ID[stage_id]


def is_stage(value: object) -> TypeGuard[StageId]:
    """Whether ``value`` is a stage id, development or post-deployment (for mypy, a ``StageId``)."""
    return isinstance(value, str) and value in _BY_ID


def is_development_stage(value: object) -> TypeGuard[DevelopmentStageId]:
    """Whether ``value`` is one of the ten development stage ids."""
    return isinstance(value, str) and value in _DEVELOPMENT
