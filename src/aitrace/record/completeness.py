"""How complete a record is: what each stage shows against what it is expected to leave behind.

Each stage of ``aitrace.stages.STAGES`` lists what a complete record shows for it (``expected``):
``"materials"``, ``"products"``, ``"params"``, ``"metrics"``, ``"mlflow"`` (a linked MLflow run)
or an evidence kind (``"gx-validation"``, ``"cyclonedx-sbom"``, ...). Only *succeeded* steps
count, and a stage shows an item when any of its succeeded steps does (a stage recorded in
several steps — the stage itself, then ``aitrace check --stage`` — is judged as a whole).

Score (0-100): every stage weighs the same; a stage counts one point for having a succeeded step
plus one per expected item shown, out of ``1 + len(expected)``; the score is the mean of the
stages' fractions, rounded down to a whole percent — so 100 means every stage is fully shown.
Used by the policy's ``min_completeness`` and by the auditor's report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from aitrace.record._model import field, json_schema, model
from aitrace.record.models import EvidenceRef, Step
from aitrace.record.stages import STAGES

StageStatus = Literal["complete", "partial", "missing"]


@model
class StageCompleteness:
    """What one stage shows and lacks."""

    status: StageStatus = field(
        description="missing: no succeeded step; partial: some expected items absent")
    present: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


@model
class Completeness:
    """How complete a record is, overall and per stage."""

    score: int = field(description="0-100, the mean over the ten stages")
    per_stage: Mapping[str, StageCompleteness] = field(default_factory=dict)
    missing: tuple[str, ...] = field(
        default=(), description="'<stage>: <item>' for every absent item, 'stage' when no step")


EvidenceCounts = Callable[[EvidenceRef], bool]
"""Whether a piece of evidence counts (views pass one that refuses evidence showing nothing)."""


def shows(steps: Sequence[Step], item: str, counts: EvidenceCounts | None = None) -> bool:
    """Whether any of ``steps`` shows the expected ``item`` (see the module docstring)."""
    for s in steps:
        if item == "materials" and s.materials:
            return True
        if item == "products" and s.products:
            return True
        if item == "params" and s.params:
            return True
        if item == "metrics" and s.metrics:
            return True
        if item == "mlflow" and s.mlflow:
            return True
        if any(e.kind == item and (counts is None or counts(e)) for e in s.evidence):
            return True
    return False


def completeness(steps: Sequence[Step], *, counts: EvidenceCounts | None = None) -> Completeness:
    """Score ``steps`` (a record's steps, in any order) against the stages' expectations.

    ``counts`` decides whether a piece of evidence counts at all: empty is not evidence, so
    the views and the policy pass one that refuses a check of nothing or a blank template.
    """
    by_stage: dict[str, list[Step]] = {}
    for s in steps:
        if s.status == "succeeded":
            by_stage.setdefault(s.stage, []).append(s)
    per_stage: dict[str, StageCompleteness] = {}
    missing_all: list[str] = []
    total = 0.0
    for stage in STAGES:
        got = by_stage.get(stage.id, [])
        if not got:
            per_stage[stage.id] = StageCompleteness(status="missing",
                                                    missing=("step", *stage.expected))
            missing_all.append(f"{stage.id}: no succeeded step")
            continue
        present = tuple(i for i in stage.expected if shows(got, i, counts))
        absent = tuple(i for i in stage.expected if i not in present)
        per_stage[stage.id] = StageCompleteness(
            status="complete" if not absent else "partial", present=present, missing=absent)
        missing_all.extend(f"{stage.id}: {i}" for i in absent)
        total += (1 + len(present)) / (1 + len(stage.expected))
    score = int(100 * total / len(STAGES) + 1e-9)
    return Completeness(score=score, per_stage=per_stage, missing=tuple(missing_all))


def completeness_schema() -> dict[str, Any]:
    """JSON Schema of the completeness document (part of ``report --json``)."""
    return json_schema(Completeness, schema_id="https://aitrace.dev/schemas/completeness/v1",
                       title="aitrace record completeness")
