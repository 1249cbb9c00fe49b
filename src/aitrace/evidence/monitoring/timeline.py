"""The record after deployment, folded once: what the report draws and the policy judges.

``monitoring_timeline(steps, read)`` collects, from the succeeded ``monitoring`` steps, the trace
samples, output reviews, user feedback, drift checks (GX results) and metrics, in chain order,
each with its step (and so its time). ``as_of=t`` keeps only what had been recorded by ``t`` —
how ``verify --at`` judges a record at another instant — and ``since_release()`` what was
recorded after the release step of that moment. Documents that cannot be read are listed as
problems, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from aitrace.errors import AitraceError
from aitrace.evidence.monitoring.feedback import open_entries
from aitrace.evidence.monitoring.models import (
    FeedbackEntry,
    OutputReview,
    TraceSample,
    UserFeedback,
    review_from_envelope,
)
from aitrace.record._model import from_json
from aitrace.record.models import EvidenceRef, Step
from aitrace.record.stages import (
    EVIDENCE_FEEDBACK,
    EVIDENCE_GX,
    EVIDENCE_REVIEW,
    EVIDENCE_TRACES,
    RELEASE_STAGES,
)
from aitrace.record.times import parse_utc

MONITORING = "monitoring"
Reader = Callable[[str], bytes | None]


@dataclass(frozen=True)
class Point:
    """One piece of monitoring evidence and the step that recorded it."""

    step: Step
    ref: EvidenceRef

    @property
    def time(self) -> str:
        """When it was recorded (the step's end)."""
        return self.step.ended_at


@dataclass(frozen=True)
class TracePoint(Point):
    """A trace sample."""

    sample: TraceSample


@dataclass(frozen=True)
class ReviewPoint(Point):
    """An output review: the envelope's bytes and the review it claims (signature unchecked)."""

    envelope: bytes
    review: OutputReview


@dataclass(frozen=True)
class FeedbackPoint(Point):
    """A batch of user feedback."""

    feedback: UserFeedback


@dataclass(frozen=True)
class DriftPoint(Point):
    """A GX validation on a monitoring step (e.g. a drift check on production data)."""

    success: bool | None


@dataclass(frozen=True)
class Monitoring:
    """Everything recorded after deployment, in chain order."""

    release: Step | None
    steps: tuple[Step, ...] = ()
    traces: tuple[TracePoint, ...] = ()
    reviews: tuple[ReviewPoint, ...] = ()
    feedback: tuple[FeedbackPoint, ...] = ()
    drift: tuple[DriftPoint, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        """Whether nothing was recorded after deployment."""
        return not self.steps

    def entries(self) -> list[FeedbackEntry]:
        """Every feedback entry, in chain order."""
        return [e for f in self.feedback for e in f.feedback.entries]

    def open_feedback(self) -> list[FeedbackEntry]:
        """Entries still open (no later resolved entry references them)."""
        return open_entries(self.entries())

    def metrics(self) -> dict[str, tuple[Step, float]]:
        """The latest value of each metric logged by a monitoring step, with its step."""
        out: dict[str, tuple[Step, float]] = {}
        for s in self.steps:
            for k, v in s.metrics.items():
                out[k] = (s, v)
        return out

    def _keep(self, keep: Callable[[Step], bool]) -> Monitoring:
        def f(points: Sequence[Any]) -> tuple[Any, ...]:
            return tuple(p for p in points if keep(p.step))

        return replace(self, steps=tuple(s for s in self.steps if keep(s)),
                       traces=f(self.traces), reviews=f(self.reviews),
                       feedback=f(self.feedback), drift=f(self.drift))

    def since_release(self) -> Monitoring:
        """What was recorded after the release step (all of it when there is none)."""
        if self.release is None:
            return self
        seq = self.release.seq
        return self._keep(lambda s: s.seq > seq)


def _release(steps: Sequence[Step]) -> Step | None:
    for stage in RELEASE_STAGES:
        found = [s for s in steps if s.stage == stage and s.status == "succeeded"]
        if found:
            return found[-1]
    return None


def _gx_success(ref: EvidenceRef, read: Reader) -> bool | None:
    value = ref.summary.get("success")
    if isinstance(value, bool):
        return value
    data = read(ref.sha256)
    if data is None:
        return None
    from aitrace.record.jsonio import parse_untrusted

    try:
        doc = parse_untrusted(data, "GX result")
    except AitraceError:
        return None
    result = doc.get("success") if isinstance(doc, Mapping) else None
    return result if isinstance(result, bool) else None


def _ended_by(step: Step, moment: datetime) -> bool:
    t = parse_utc(step.ended_at)
    return t is not None and t <= moment


def monitoring_timeline(steps: Sequence[Step], read: Reader, *,
                        as_of: datetime | None = None) -> Monitoring:
    """Fold a record's monitoring steps (``read(sha)`` gives an evidence object's bytes).

    With ``as_of``, only steps that had ended by then count (the release step included).
    """
    from aitrace.record.jsonio import parse_untrusted

    if as_of is not None:
        steps = [s for s in steps if _ended_by(s, as_of)]
    mon = [s for s in steps if s.stage == MONITORING and s.status == "succeeded"]
    traces: list[TracePoint] = []
    reviews: list[ReviewPoint] = []
    feedback: list[FeedbackPoint] = []
    drift: list[DriftPoint] = []
    problems: list[str] = []
    for s in mon:
        for e in s.evidence:
            if e.kind == EVIDENCE_GX:
                drift.append(DriftPoint(s, e, _gx_success(e, read)))
                continue
            if e.kind not in (EVIDENCE_TRACES, EVIDENCE_REVIEW, EVIDENCE_FEEDBACK):
                continue
            label = f"step {s.seq} (monitoring) {e.kind} {e.sha256[:12]}"
            data = read(e.sha256)
            if data is None:
                problems.append(f"{label} is missing")
                continue
            try:
                doc = parse_untrusted(data, label)
                if e.kind == EVIDENCE_TRACES:
                    traces.append(TracePoint(s, e, from_json(TraceSample, doc, source=label)))
                elif e.kind == EVIDENCE_REVIEW:
                    reviews.append(ReviewPoint(s, e, data, review_from_envelope(doc,
                                                                                source=label)))
                else:
                    feedback.append(FeedbackPoint(s, e, from_json(UserFeedback, doc,
                                                                  source=label)))
            except AitraceError as exc:
                problems.append(exc.message)
    return Monitoring(release=_release(steps), steps=tuple(mon), traces=tuple(traces),
                      reviews=tuple(reviews), feedback=tuple(feedback), drift=tuple(drift),
                      problems=tuple(problems))
