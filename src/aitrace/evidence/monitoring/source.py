"""``trace-sample``, ``output-review`` and ``user-feedback`` evidence: read, shown, checked.

``validate`` is what verification asks of each document (``aitrace.verify.monitoring``): it
parses into its model, and **no stored text holds personal data the detectors find** — so a
bundle whose monitoring evidence was written without redaction fails verification. ``facts``
give views digests, counts and rates, never prompt, response or feedback text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aitrace.errors import AitraceError
from aitrace.evidence.interface import Badge, EvidenceSource
from aitrace.evidence.monitoring.models import (
    FEEDBACK_MEDIA_TYPE,
    REVIEW_MEDIA_TYPE,
    TRACES_MEDIA_TYPE,
    OutputReview,
    TraceSample,
    UserFeedback,
    feedback_summary,
    review_from_envelope,
    review_summary,
    trace_summary,
)
from aitrace.evidence.pii import findings
from aitrace.record._model import from_json, to_json
from aitrace.record.stages import EVIDENCE_FEEDBACK, EVIDENCE_REVIEW, EVIDENCE_TRACES

if TYPE_CHECKING:
    from aitrace.record.models import EvidenceRef


def _leaks(texts: list[tuple[str, str | None]]) -> str | None:
    for where, text in texts:
        if text:
            found = findings(text)
            if found:
                kinds = ", ".join(f"{n} {k}" for k, n in sorted(found.items()))
                return f"{where} holds unredacted personal data ({kinds})"
    return None


class TraceSampleSource(EvidenceSource):
    """A sample of the application's MLflow traces: digests, times, latency, tokens."""

    kind = EVIDENCE_TRACES
    media_type = TRACES_MEDIA_TYPE
    title = "Trace sample"

    @staticmethod
    def parse(doc: Any) -> TraceSample:
        """The sample (``InputError`` naming the field when malformed)."""
        return from_json(TraceSample, doc, source="trace sample")

    def summary(self, doc: Any) -> Mapping[str, Any]:
        try:
            return trace_summary(self.parse(doc))
        except AitraceError:
            return {}

    def facts(self, doc: Any) -> Mapping[str, Any] | None:
        try:
            sample = self.parse(doc)
        except AitraceError as exc:
            return {"error": exc.message}
        data = to_json(sample)
        for t in data.get("traces", []):  # views show digests, never text
            t.pop("prompt", None)
            t.pop("response", None)
        return {"sample": data}

    def badge(self, ref: EvidenceRef, facts: Mapping[str, Any] | None) -> Badge | None:
        s = ref.summary
        return (f"Traces {s.get('sampled', '?')} of {s.get('traces', '?')}", "info")

    def validate(self, doc: Any) -> str | None:
        try:
            sample = self.parse(doc)
        except AitraceError as exc:
            return exc.message
        if not sample.kept_text and any(t.prompt or t.response for t in sample.traces):
            return "holds prompt or response text although kept_text is false"
        return _leaks([(f"trace {t.trace_id} {what}", text) for t in sample.traces
                       for what, text in (("prompt", t.prompt), ("response", t.response))])


class OutputReviewSource(EvidenceSource):
    """A reviewer's signed verdicts on sampled outputs (a DSSE envelope)."""

    kind = EVIDENCE_REVIEW
    media_type = REVIEW_MEDIA_TYPE
    title = "Output review"

    @staticmethod
    def parse(doc: Any) -> OutputReview:
        """The review the envelope claims (signatures are checked by ``signing.reviews``)."""
        return review_from_envelope(doc, source="output review")

    def summary(self, doc: Any) -> Mapping[str, Any]:
        try:
            return review_summary(self.parse(doc))
        except AitraceError:
            return {}

    def facts(self, doc: Any) -> Mapping[str, Any] | None:
        try:
            review = self.parse(doc)
        except AitraceError as exc:
            return {"error": exc.message}
        sigs = doc.get("signatures") if isinstance(doc, Mapping) else None
        keyids = [s.get("keyid") for s in sigs if isinstance(s, Mapping)] \
            if isinstance(sigs, list) else []
        data = to_json(review)
        for row in data.get("rows", []):
            row.pop("notes", None)
        return {"review": data, "envelope_keyids": [k for k in keyids if isinstance(k, str)]}

    def badge(self, ref: EvidenceRef, facts: Mapping[str, Any] | None) -> Badge | None:
        rate = ref.summary.get("correct_rate")
        if isinstance(rate, (int, float)) and not isinstance(rate, bool):
            return (f"Review {rate:.0%} correct", "ok" if rate >= 0.9 else "warn")
        return ("Review", "info")

    def validate(self, doc: Any) -> str | None:
        from aitrace.evidence.monitoring.review import review_totals

        try:
            review = self.parse(doc)
        except AitraceError as exc:
            return exc.message
        if not review.rows:
            return "reviews no outputs"
        if review.totals != review_totals(review.rows):
            return "its totals do not add up to its rows"
        return _leaks([(f"review notes of trace {r.trace_id}", r.notes) for r in review.rows])


class UserFeedbackSource(EvidenceSource):
    """Problems users reported about the model in use, linked to the release."""

    kind = EVIDENCE_FEEDBACK
    media_type = FEEDBACK_MEDIA_TYPE
    title = "User feedback"

    @staticmethod
    def parse(doc: Any) -> UserFeedback:
        """The feedback document (``InputError`` naming the field when malformed)."""
        return from_json(UserFeedback, doc, source="user feedback")

    def summary(self, doc: Any) -> Mapping[str, Any]:
        try:
            return feedback_summary(self.parse(doc))
        except AitraceError:
            return {}

    def facts(self, doc: Any) -> Mapping[str, Any] | None:
        try:
            feedback = self.parse(doc)
        except AitraceError as exc:
            return {"error": exc.message}
        data = to_json(feedback)
        for e in data.get("entries", []):
            e.pop("text", None)
        return {"feedback": data}

    def badge(self, ref: EvidenceRef, facts: Mapping[str, Any] | None) -> Badge | None:
        n = ref.summary.get("entries", "?")
        high = (ref.summary.get("severity") or {}).get("high", 0) \
            if isinstance(ref.summary.get("severity"), Mapping) else 0
        return (f"Feedback {n}", "warn" if high else "info")

    def validate(self, doc: Any) -> str | None:
        try:
            feedback = self.parse(doc)
        except AitraceError as exc:
            return exc.message
        for e in feedback.entries:
            if e.status == "resolved" and not e.ref:
                return f"resolved entry {e.id} references no entry it resolves"
        return _leaks([(f"feedback {e.id} text", e.text) for e in feedback.entries])
