"""A recorded data check: one step that validates one data file with several suites and packs.

:func:`check_data` is what ``aitrace check`` calls. It reads the data once, builds and checks
every suite and pack against it *before* the step starts — so bad input (unreadable data,
malformed suite JSON, an unknown expectation, a missing column, bad options) raises
:class:`~aitrace.errors.InputError` and nothing is written to ``.aitrace/`` — then records one
step of the stage with the data as its input and one ``gx-validation`` evidence per suite or
pack. A failed validation is a result, not an error: the step succeeds (the check ran) and
:attr:`CheckRun.success` is false.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitrace.errors import InputError
from aitrace.evidence.gx.data import ENGINES, Engine, read_data
from aitrace.evidence.gx.quality import CheckResult, attach_check, run_check
from aitrace.evidence.gx.suites import prepare_checks
from aitrace.hooks.tracker import StageContext
from aitrace.record.models import EvidenceRef, Step
from aitrace.record.stages import EVIDENCE_GX
from aitrace.store.digest import DigestCache
from aitrace.store.workspace import Workspace


@dataclass(frozen=True)
class CheckOptions:
    """Options of the built-in packs and of redaction, shared by every suite of a run.

    Attributes:
        label_column: labels pack: the label column (``None``: inferred).
        labels: labels pack: the expected classes (``None``: any).
        min_class_share: labels pack: the smallest share of labels any class may have.
        privacy_columns: privacy pack: the columns to scan (``None``: every text column).
        redact: store counts only for every suite (the privacy pack always does).
        task: labels pack: ``classification`` or ``regression`` (``None``: a numeric label with
            more than 100 distinct values is a regression target).
        label_range: labels pack, regression: the allowed ``(min, max)`` of the target.
    """

    label_column: str | None = None
    labels: tuple[str, ...] | None = None
    min_class_share: float = 0.05
    privacy_columns: tuple[str, ...] | None = None
    redact: bool = False
    task: str | None = None
    label_range: tuple[float, float] | None = None

    def as_kwargs(self) -> dict[str, Any]:
        """The keyword options :func:`~aitrace.evidence.gx.quality.prepare_checks` takes."""
        options: dict[str, Any] = {"min_class_share": self.min_class_share,
                                   "redact": self.redact}
        if self.label_column:
            options["label_column"] = self.label_column
        if self.labels is not None:
            options["labels"] = list(self.labels)
        if self.privacy_columns is not None:
            options["columns"] = list(self.privacy_columns)
        if self.task is not None:
            options["task"] = self.task
        if self.label_range is not None:
            options["label_range"] = self.label_range
        return options


@dataclass(frozen=True)
class CheckOutcome:
    """One suite's or pack's validation and the evidence the step holds for it.

    ``evidence`` is the reference as stored in the finished step, so ``bound`` says whether the
    checked data is the step's recorded input.
    """

    result: CheckResult
    evidence: EvidenceRef

    @property
    def success(self) -> bool:
        """Whether every expectation of the suite was met."""
        return self.result.success

    @property
    def summary(self) -> Mapping[str, Any]:
        """The check's summary (counts, failed expectations, pack findings)."""
        return self.result.summary

    def to_dict(self) -> dict[str, Any]:
        """One entry of ``checks`` in the ``aitrace check --json`` document."""
        return {"suite_name": self.summary["suite_name"], "pack": self.summary.get("pack"),
                "success": self.success, "evidence_sha256": self.evidence.sha256,
                "bound": self.evidence.bound, "summary": dict(self.summary)}


@dataclass(frozen=True)
class CheckRun:
    """The recorded step and each of its checks, in the order they were given."""

    step: Step
    checks: tuple[CheckOutcome, ...]

    @property
    def success(self) -> bool:
        """Whether every check passed."""
        return all(c.success for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """The ``aitrace check --json`` document (documented, stable)."""
        return {"step": {"seq": self.step.seq, "id": self.step.id, "stage": self.step.stage},
                "success": self.success, "checks": [c.to_dict() for c in self.checks]}


def check_data(workspace: Workspace, data: str | os.PathLike[str], *, stage: str,
               suites: Sequence[str | os.PathLike[str]] = (), packs: Sequence[str] = (),
               options: CheckOptions | None = None, engine: str = "pandas",
               description: str | None = None, mlflow: bool | None = None) -> CheckRun:
    """Validate ``data`` with every suite and pack and record it all as one step of ``stage``.

    Args:
        workspace: the record to append to.
        data: the data file (CSV, Parquet, JSON Lines; see :func:`read_data`).
        stage: the stage the check belongs to; its evidence requirements are the ones met.
        suites: GX Core 1.x ExpectationSuite JSON files.
        packs: built-in suites (``privacy``, ``labels``).
        options: pack options and redaction.
        engine: ``pandas``, or ``spark`` (needs ``aitrace[spark]``).
        description: what the step checks, in a sentence.
        mlflow: link the step to an MLflow run (``None``: as configured).

    Returns:
        The recorded step and the outcome of each check.

    Raises:
        InputError: an unknown stage or engine, unreadable data, a bad suite or option,
            nothing to check — all found before anything is written.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown engine '{engine}'", hint="use pandas or spark")
    chosen: Engine = "spark" if engine == "spark" else "pandas"
    ctx = StageContext(stage, workspace=workspace, description=description, mlflow=mlflow)
    cache = DigestCache(workspace.digest_cache_path)
    dataset = read_data(data, engine=chosen, cache=cache)
    prepared = prepare_checks(dataset, suites, packs, **(options or CheckOptions()).as_kwargs())
    ctx.inputs = [Path(data)]
    results = []
    with ctx as rec:
        for suite in prepared:
            results.append(attach_check(rec, dataset, run_check(dataset, suite)))
    step = ctx.step
    if step is None:  # pragma: no cover - StageContext sets it whenever the block ends normally
        raise RuntimeError("the check step was not recorded")
    refs = [e for e in step.evidence if e.kind == EVIDENCE_GX]
    return CheckRun(step=step, checks=tuple(
        CheckOutcome(result=r, evidence=ref) for r, ref in zip(results, refs, strict=True)))


__all__ = ["CheckOptions", "CheckOutcome", "CheckRun", "check_data"]
