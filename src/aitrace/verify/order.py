"""Time and order along the chain: what a re-linked, re-signed history cannot hide.

Someone holding the release key can reorder steps, re-link the hash chain and sign again, and
every signature and digest then holds. What does not hold is time, and the order of claims:

* ``time_anomalies`` — a step that ends before it starts; a step that ended well before the
  step it follows in the chain (steps are appended as they end, so a later step never ended
  much earlier: concurrent steps differ by the seconds between a step's end and its append,
  bounded here by ``CONCURRENCY_WINDOW``); a time later than now beyond ``CLOCK_TOLERANCE``
  (a post-dated record, or a verifier whose clock is behind the record's).
* ``registered_criteria`` — pre-registration: the success criteria an evaluation is judged by
  are the ones recorded *before* it (a problem step earlier in the chain that ended before the
  evaluation started, within ``CLOCK_TOLERANCE``). Criteria recorded only after the evaluation,
  or changed after it, are anomalies: a target moved to fit the result.

Every anomaly names the steps, their times and what is wrong, as data (``Anomaly``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aitrace.record.models import MLFLOW_VALUE_PREFIX
from aitrace.record.times import parse_utc

if TYPE_CHECKING:
    from aitrace.record.models import Step

SUCCESS_PREFIX = "success."
CLOCK_TOLERANCE = timedelta(minutes=5)
"""How far clocks of the machines that record, bundle and verify may disagree."""
CONCURRENCY_WINDOW = timedelta(minutes=10)
"""How much earlier than its predecessor a step may have ended (concurrent appends)."""


@dataclass(frozen=True)
class Anomaly:
    """One thing wrong with time or order, about one step (``seq``)."""

    seq: int
    message: str


def _span(delta: timedelta) -> str:
    seconds = abs(delta.total_seconds())
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _label(step: Step) -> str:
    return f"step {step.seq} ({step.stage})"


def time_anomalies(steps: Sequence[Step], now: datetime | None = None) -> list[Anomaly]:
    """Where time runs backwards along ``steps`` (chain order), or lies in the future."""
    now = now or datetime.now(UTC)
    out: list[Anomaly] = []
    prev: tuple[Step, datetime] | None = None
    for s in steps:
        start, end = parse_utc(s.started_at), parse_utc(s.ended_at)
        if start is None or end is None:
            continue  # the step schema check reports unreadable times
        if end < start:
            out.append(Anomaly(s.seq, f"{_label(s)} ended at {s.ended_at}, {_span(start - end)} "
                                      f"before it started ({s.started_at})"))
        latest = max(start, end)
        if latest > now + CLOCK_TOLERANCE:
            out.append(Anomaly(s.seq, f"{_label(s)} is dated {s.ended_at}, {_span(latest - now)} "
                                      f"in the future (now {now:%Y-%m-%dT%H:%M:%SZ}): a "
                                      "post-dated step, or this machine's clock is behind"))
        # A step kept in a spool while a shared store was unreachable is appended when it syncs.
        synced = parse_utc(s.origin.synced_at) if s.origin and s.origin.synced_at else None
        if prev is not None and max(end, synced or end) < prev[1] - CONCURRENCY_WINDOW:
            p = prev[0]
            out.append(Anomaly(s.seq, f"{_label(s)} ended at {s.ended_at}, {_span(prev[1] - end)} "
                                      f"before {_label(p)} that precedes it in the chain ended "
                                      f"({p.ended_at}): time runs backwards (steps were "
                                      "reordered, or a clock was wrong)"))
        if prev is None or end > prev[1]:
            prev = (s, end)
    return out


def _criteria(step: Step) -> dict[str, str]:
    return {k[len(SUCCESS_PREFIX):]: v for k, v in sorted(step.params.items())
            if k.startswith(SUCCESS_PREFIX)}


def _before(problem: Step, evaluation: Step) -> bool:
    """Whether ``problem`` was recorded before ``evaluation`` began (chain order and time)."""
    if problem.seq >= evaluation.seq:
        return False
    ended, started = parse_utc(problem.ended_at), parse_utc(evaluation.started_at)
    if ended is None or started is None:
        return False
    return ended <= started + CLOCK_TOLERANCE


@dataclass(frozen=True)
class Criterion:
    """One success criterion and the evaluation it judges.

    ``evaluation`` is the latest succeeded evaluation step that logged ``metric`` (None when
    none did); ``problem`` the latest succeeded problem step recording ``success.<metric>``
    before it — or, without an evaluation, the latest one at all. ``problem`` is None when the
    criterion was recorded only after the evaluation it would judge.
    """

    metric: str
    text: str | None
    problem: Step | None
    evaluation: Step | None


@dataclass(frozen=True)
class Registration:
    """The record's success criteria as registered before their evaluations, and anomalies."""

    criteria: tuple[Criterion, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()
    problems: tuple[Step, ...] = field(default=())


def metric_value(step: Step, metric: str) -> float | None:
    """The value of ``metric`` in ``step``: its own, else the one its user MLflow run logged.

    Metrics read from the user's own MLflow runs are recorded as ``mlflow.<metric>``
    (``aitrace.evidence.mlflow.observe``) so they never overwrite what the step itself declared;
    criteria and thresholds name the plain metric, so both spellings answer.
    """
    for key in (metric, MLFLOW_VALUE_PREFIX + metric):
        if key in step.metrics:
            return step.metrics[key]
    return None


def registered_criteria(steps: Sequence[Step]) -> Registration:
    """Which success criteria judge the record's evaluations, each registered before its own.

    Criteria accumulate: each ``success.<metric>`` is taken from the latest problem step that
    records it before the evaluation that logged the metric. A problem step after that
    evaluation (in the chain, or in time beyond ``CLOCK_TOLERANCE``) that sets the criterion
    — first, or to another value — is an anomaly, and does not count.
    """
    problems = tuple(s for s in steps if s.stage == "problem" and s.status == "succeeded"
                     and _criteria(s))
    evaluations = [s for s in steps if s.stage == "evaluation" and s.status == "succeeded"]
    criteria: list[Criterion] = []
    anomalies: list[Anomaly] = []
    for metric in sorted({m for p in problems for m in _criteria(p)}):
        setting = [p for p in problems if metric in _criteria(p)]
        logged = [e for e in evaluations if metric_value(e, metric) is not None]
        if not logged:
            p = setting[-1]
            criteria.append(Criterion(metric, _criteria(p)[metric], p, None))
            continue
        judged = logged[-1]
        earlier = [p for p in setting if _before(p, judged)]
        chosen = earlier[-1] if earlier else None
        text = _criteria(chosen)[metric] if chosen else None
        criteria.append(Criterion(metric, text, chosen, judged))
        for p in setting:
            if p in earlier or _criteria(p)[metric] == text:
                continue
            name, new = f"{SUCCESS_PREFIX}{metric}", _criteria(p)[metric]
            what = (f"sets success criterion {name} {new!r} only" if chosen is None
                    else f"changes success criterion {name} from {text!r} to {new!r}")
            anomalies.append(Anomaly(p.seq, (
                f"{_label(p)} (ended {p.ended_at}) {what} after evaluation step {judged.seq} "
                f"(started {judged.started_at}) that it judges: criteria must be registered "
                "before the evaluation")))
    return Registration(tuple(criteria), tuple(anomalies), problems)
