"""Freshness: a release's record goes stale unless monitoring keeps it current.

A policy's ``monitoring`` section (``schemas/policy.schema.json``)::

    monitoring:
      max_age_days: 30          # each required item was recorded within the last 30 days
      require: [traces, review, gx-validation]   # traces | review | feedback | any evidence kind
      min_review_correct: 0.9   # the latest trusted review's correct rate
      min_review_appropriate: 1.0
      max_open_high_feedback: 0 # high-severity feedback entries still open
      meets_success_criteria: true  # monitoring metrics meet the problem's success.<metric>

Every rule is evaluated **as of** ``PolicyContext.now`` — the current time, or ``verify --at
TIMESTAMP`` — and counts only what had been recorded by then, after the release step of that
moment (the latest succeeded deployment, else optimization, else training), so an audit can
reproduce a verdict for any instant. A review counts only when it verifies
(``aitrace.signing.reviews.verify_review``) under the trusted keys given to ``verify``; a drift
check (GX results on a monitoring step) counts only when it passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from aitrace.record._model import field, model
from aitrace.record.stages import EVIDENCE_FEEDBACK, EVIDENCE_GX, EVIDENCE_REVIEW, EVIDENCE_TRACES
from aitrace.record.times import parse_utc
from aitrace.verify.checks import Check

if TYPE_CHECKING:
    from aitrace.evidence.monitoring.timeline import Monitoring, ReviewPoint
    from aitrace.record.models import Step
    from aitrace.verify.rules import PolicyContext

REQUIREMENT_ALIASES: dict[str, str] = {
    "traces": EVIDENCE_TRACES, "review": EVIDENCE_REVIEW, "feedback": EVIDENCE_FEEDBACK,
    "drift": EVIDENCE_GX,
}
"""Short names a policy may use in ``monitoring.require`` for evidence kinds."""


@model
class MonitoringRules:
    """What a release's record must show after deployment, and how recently."""

    max_age_days: float | None = field(
        default=None, description="each required item recorded at most this many days ago")
    require: tuple[str, ...] = field(
        default=(), description="traces, review, feedback, drift or an evidence kind")
    min_review_correct: float | None = field(
        default=None, description="0-1: the latest trusted review's correct rate")
    min_review_appropriate: float | None = field(
        default=None, description="0-1: the latest trusted review's appropriate rate")
    max_open_high_feedback: int | None = field(
        default=None, description="high-severity feedback entries still open")
    meets_success_criteria: bool = field(
        default=False, description="monitoring metrics meet the problem's success.<metric>")


def requirement_kind(name: str) -> str:
    """The evidence kind a ``require`` entry names (``review`` → ``output-review``)."""
    return REQUIREMENT_ALIASES.get(name, name)


def _days(now: datetime, when: str) -> float | None:
    t = parse_utc(when)
    return (now - t).total_seconds() / 86400 if t is not None else None


def _at(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Freshness:
    """The ``monitoring`` section of a policy as one rule (see the module docstring)."""

    rules: MonitoringRules

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """One check per part of the section that is set."""
        from aitrace.evidence.monitoring.timeline import monitoring_timeline

        now = ctx.now or datetime.now(UTC)
        mon = monitoring_timeline(ctx.steps, ctx.object_bytes, as_of=now).since_release()
        trusted = self._trusted_reviews(mon, ctx)
        out: list[Check] = []
        r = self.rules
        if r.require or r.max_age_days is not None:
            out.extend(self._fresh(mon, trusted, now, ctx))
        if r.min_review_correct is not None or r.min_review_appropriate is not None:
            out.append(self._review(mon, trusted, now))
        if r.max_open_high_feedback is not None:
            out.append(self._feedback(mon, now))
        if r.meets_success_criteria:
            out.extend(self._criteria(mon, ctx, now))
        return out

    @staticmethod
    def _trusted_reviews(mon: Monitoring, ctx: PolicyContext) -> list[tuple[ReviewPoint,
                                                                             str | None]]:
        from aitrace.signing.reviews import verify_review

        out = []
        for p in mon.reviews:
            check = verify_review(p.envelope, ctx.approver_keys,
                                  source=f"review of step {p.step.seq}")
            out.append((p, None if check.ok else check.problem))
        return out

    def _where(self, mon: Monitoring) -> str:
        rel = mon.release
        return f"after the release (step {rel.seq}, {rel.stage})" if rel else "in the record"

    def _fresh(self, mon: Monitoring, trusted: Sequence[tuple[ReviewPoint, str | None]],
               now: datetime, ctx: PolicyContext) -> list[Check]:
        limit = self.rules.max_age_days
        cid = "policy.monitoring.fresh"
        title = ("Monitoring is current" if limit is None else
                 f"Monitoring was recorded within {limit:g} days (as of {_at(now)})")
        kinds = [requirement_kind(k) for k in self.rules.require] or ["monitoring step"]
        out: list[Check] = []
        for kind in kinds:
            latest: Step | None = None
            why_not = ""
            if kind == "monitoring step":
                latest = mon.steps[-1] if mon.steps else None
            elif kind == EVIDENCE_REVIEW:
                ok = [p for p, problem in trusted if problem is None]
                latest = ok[-1].step if ok else None
                bad = [problem for _, problem in trusted if problem]
                if latest is None and bad:
                    why_not = f" (a review is recorded but {bad[-1]})"
            elif kind == EVIDENCE_GX:
                passed = [p for p in mon.drift if p.success is True]
                latest = passed[-1].step if passed else None
                if latest is None and mon.drift:
                    why_not = f" (the drift check of step {mon.drift[-1].step.seq} did not pass)"
            else:
                with_kind = [s for s in mon.steps if any(e.kind == kind for e in s.evidence)]
                latest = with_kind[-1] if with_kind else None
            if latest is None:
                out.append(Check(cid, title, "failed", f"no {kind} recorded {self._where(mon)} "
                                 f"by {_at(now)}{why_not}", ctx.step_member(mon.steps[-1])
                                 if mon.steps else None))
                continue
            age = _days(now, latest.ended_at)
            status: Literal["passed", "failed"] = (
                "passed" if limit is None or (age is not None and age <= limit) else "failed")
            age_text = f"{age:.1f} days before {_at(now)}" if age is not None else "at an " \
                "unreadable time"
            bound = f" (at most {limit:g})" if limit is not None else ""
            out.append(Check(cid, title, status, f"{kind}: step {latest.seq} recorded "
                             f"{latest.ended_at}, {age_text}{bound}",
                             ctx.step_member(latest)))
        return out

    def _review(self, mon: Monitoring, trusted: Sequence[tuple[ReviewPoint, str | None]],
                now: datetime) -> Check:
        r = self.rules
        wants = []
        if r.min_review_correct is not None:
            wants.append(f"correct ≥ {r.min_review_correct:.0%}")
        if r.min_review_appropriate is not None:
            wants.append(f"appropriate ≥ {r.min_review_appropriate:.0%}")
        cid, title = "policy.monitoring.review", "Human review: " + ", ".join(wants)
        ok = [p for p, problem in trusted if problem is None]
        if not ok:
            bad = [f"step {p.step.seq}: {problem}" for p, problem in trusted if problem]
            detail = ("; not counted: " + "; ".join(bad)) if bad else ""
            return Check(cid, title, "failed", f"no trusted output review {self._where(mon)} by "
                         f"{_at(now)}{detail}")
        p = ok[-1]
        t = p.review.totals
        fails = []
        if r.min_review_correct is not None and t.correct_rate < r.min_review_correct:
            fails.append(f"correct {t.correct_rate:.0%} < {r.min_review_correct:.0%}")
        if r.min_review_appropriate is not None and t.appropriate_rate < r.min_review_appropriate:
            fails.append(f"appropriate {t.appropriate_rate:.0%} < "
                         f"{r.min_review_appropriate:.0%}")
        text = (f"review of step {p.step.seq} by {p.review.reviewer.name}: {t.rows} outputs, "
                f"{t.correct_rate:.0%} correct, {t.appropriate_rate:.0%} appropriate")
        return Check(cid, title, "failed" if fails else "passed",
                     text + (" — " + "; ".join(fails) if fails else ""))

    def _feedback(self, mon: Monitoring, now: datetime) -> Check:
        limit = self.rules.max_open_high_feedback or 0
        cid = "policy.monitoring.feedback"
        title = f"At most {limit} high-severity feedback entr{'y' if limit == 1 else 'ies'} open"
        still = [e for e in mon.open_feedback() if e.severity == "high"]
        total = len(mon.entries())
        ids = ", ".join(f"{e.id} ({e.category})" for e in still[:10])
        status: Literal["passed", "failed"] = "passed" if len(still) <= limit else "failed"
        return Check(cid, title, status, f"{len(still)} open high-severity of {total} feedback "
                     f"entr{'y' if total == 1 else 'ies'} as of {_at(now)}"
                     + (f": {ids}" if ids else ""))

    def _criteria(self, mon: Monitoring, ctx: PolicyContext, now: datetime) -> list[Check]:
        from aitrace.verify.criteria import criteria_of
        from aitrace.verify.order import SUCCESS_PREFIX
        from aitrace.verify.rules import compare, parse_comparison

        cid = "policy.monitoring.success-criteria"
        title = "Monitoring metrics meet the problem's success criteria"
        _problem, criteria = criteria_of(ctx)
        if not criteria:
            return [Check(cid, title, "failed", "no succeeded problem step records success "
                          f"criteria ('{SUCCESS_PREFIX}<metric>' params)")]
        metrics = mon.metrics()
        out = []
        for metric, text in criteria.items():
            parsed = parse_comparison(text)
            if parsed is None:
                out.append(Check(cid, title, "failed", f"criterion {metric} = {text!r} is not a "
                                 "comparison like '>= 0.9'"))
                continue
            op, bound = parsed
            got = metrics.get(metric)
            if got is None:
                out.append(Check(cid, title, "failed", f"{metric} {op} {bound:g}: no monitoring "
                                 f"step {self._where(mon)} logged {metric} by {_at(now)}"))
                continue
            step, value = got
            out.append(Check(cid, title, "passed" if compare(op, value, bound) else "failed",
                             f"{metric} {op} {bound:g}: monitoring step {step.seq} has "
                             f"{value:g}", ctx.step_member(step)))
        return out
