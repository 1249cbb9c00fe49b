"""The ``evidence.monitoring`` check: monitoring evidence is well-formed, redacted and consistent.

Run by ``verify_bundle`` only when the record holds monitoring evidence. Every trace sample,
output review and user-feedback document must pass its source's ``validate`` (which includes:
no stored text holds personal data the detectors find); every review must be about a trace
sample recorded earlier in this record, with each row's trace and response digest in it, for
this record, bound to the sheet its step recorded; every resolved feedback entry must reference an
earlier entry, and ids must not repeat. Who signed a review is the freshness policy's question
(it needs the reviewers' keys).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from aitrace.errors import AitraceError
from aitrace.record.refs import bytes_match
from aitrace.record.stages import EVIDENCE_FEEDBACK, EVIDENCE_REVIEW, EVIDENCE_TRACES
from aitrace.verify.checks import Checks

if TYPE_CHECKING:
    from aitrace.bundle.read import OpenedBundle
    from aitrace.evidence.monitoring.models import TraceSample
    from aitrace.record.models import Step

KINDS = (EVIDENCE_TRACES, EVIDENCE_REVIEW, EVIDENCE_FEEDBACK)
TITLE = "Monitoring evidence is well-formed, redacted and consistent"


def monitoring_problems(steps: Sequence[Step], read: Callable[[str], bytes | None],
                        record_id: str | None,
                        member: Callable[[Step], str | None] = lambda _s: None,
                        ) -> tuple[int, list[tuple[str, str | None]]]:
    """How many monitoring documents there are, and every problem with them."""
    if not any(e.kind in KINDS for s in steps for e in s.evidence):
        return 0, []  # the common case: nothing to check, nothing to import
    from aitrace.evidence.monitoring.models import review_from_envelope
    from aitrace.evidence.registry import source_for
    from aitrace.record._model import from_json
    from aitrace.record.jsonio import parse_untrusted

    n = 0
    problems: list[tuple[str, str | None]] = []
    samples: dict[str, TraceSample] = {}
    feedback_ids: set[str] = set()
    for s in steps:
        if s.status != "succeeded":
            continue
        for e in s.evidence:
            if e.kind not in KINDS:
                continue
            n += 1
            label = f"step {s.seq} ({s.stage}) {e.kind} {e.sha256[:12]}"
            where = member(s)
            data = read(e.sha256)
            if data is None or not bytes_match(data, e.sha256):
                continue  # reported by evidence.objects
            try:
                doc = parse_untrusted(data, label)
            except AitraceError as exc:
                problems.append((exc.message, where))
                continue
            problem = source_for(e.kind).validate(doc)
            if problem:
                problems.append((f"{label} {problem}", where))
                continue
            if e.kind == EVIDENCE_TRACES:
                from aitrace.evidence.monitoring.models import TraceSample

                samples[e.sha256] = from_json(TraceSample, doc)
            elif e.kind == EVIDENCE_REVIEW:
                review = review_from_envelope(doc, source=label)
                sample = samples.get(review.sample_sha256)
                if record_id is not None and review.record_id != record_id:
                    problems.append((f"{label} reviews record {review.record_id!r}, not "
                                     f"{record_id!r}", where))
                if e.subject is None or e.subject.sha256 != review.sheet_sha256 \
                        or e.bound is not True:
                    problems.append((f"{label} is not bound to the review sheet its step recorded "
                                     f"(sheet sha256 {review.sheet_sha256[:12]}…)", where))
                if sample is None:
                    problems.append((f"{label} reviews trace sample "
                                     f"{review.sample_sha256[:12]}…, which no earlier step of "
                                     "this record holds", where))
                    continue
                sampled = {t.trace_id: t.response_sha256 for t in sample.traces}
                for row in review.rows:
                    if sampled.get(row.trace_id, "") != row.response_sha256:
                        problems.append((f"{label} row for trace {row.trace_id} does not match "
                                         "the sampled trace and response digest", where))
            else:
                from aitrace.evidence.monitoring.models import UserFeedback

                for entry in from_json(UserFeedback, doc).entries:
                    if entry.id in feedback_ids:
                        problems.append((f"{label} repeats feedback id {entry.id!r}", where))
                    if entry.ref is not None and entry.ref not in feedback_ids:
                        problems.append((f"{label} entry {entry.id} resolves {entry.ref!r}, "
                                         "which no earlier entry is", where))
                    feedback_ids.add(entry.id)
    return n, problems


def check_monitoring(ob: OpenedBundle, c: Checks, steps: Sequence[Step]) -> None:
    """Add ``evidence.monitoring`` to ``c`` when the bundle's record holds monitoring evidence."""
    n, problems = monitoring_problems(steps, ob.object_bytes, ob.record_id, ob.step_member)
    if n:
        c.outcome("evidence.monitoring", TITLE, problems,
                  f"{n} monitoring document(s) valid, redacted and consistent")
