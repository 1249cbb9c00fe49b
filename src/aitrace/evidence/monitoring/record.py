"""Recording monitoring evidence: each call appends one step of the stage ``monitoring``.

The steps link no MLflow run and build no ML-BOM: they record what happened to the model in
use. The file a step records (a filled review sheet, a ticket export) is its product, as the
governance documents are, so the evidence is bound to those exact bytes. The step's
metrics carry the numbers a policy threshold may want (``traces.total``,
``review.correct_rate``, ``feedback.open_high`` …); none of them carries text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from aitrace.errors import AitraceError, WorkspaceError
from aitrace.evidence.monitoring.feedback import open_entries
from aitrace.evidence.monitoring.models import (
    FEEDBACK_FORMAT,
    FEEDBACK_MEDIA_TYPE,
    REVIEW_MEDIA_TYPE,
    TRACES_MEDIA_TYPE,
    FeedbackEntry,
    OutputReview,
    ReleasedArtifact,
    ReleaseRef,
    TraceSample,
    UserFeedback,
    feedback_summary,
    review_summary,
    trace_summary,
)
from aitrace.evidence.monitoring.review import SampleRef, find_samples
from aitrace.record._model import from_json, to_json
from aitrace.record.stages import (
    EVIDENCE_FEEDBACK,
    EVIDENCE_REVIEW,
    EVIDENCE_TRACES,
    RELEASE_STAGES,
)

if TYPE_CHECKING:
    from aitrace.record.models import Command, EvidenceRef, Step
    from aitrace.store.workspace import Workspace

MONITORING = "monitoring"


def _as_recorded(step: Step, ref: EvidenceRef) -> EvidenceRef:
    """The reference as the step holds it (bound to its subject once the step ended)."""
    return next((e for e in step.evidence if e.sha256 == ref.sha256), ref)


def workspace_samples(workspace: Workspace) -> list[SampleRef]:
    """The trace samples recorded in ``workspace``, oldest first."""
    def read(sha: str) -> bytes | None:
        try:
            return workspace.read_object(sha)
        except (WorkspaceError, AitraceError):
            return None

    return find_samples(workspace.steps(), read)


def recorded_feedback(workspace: Workspace) -> list[FeedbackEntry]:
    """Every feedback entry recorded in ``workspace``, in chain order."""
    from aitrace.record.jsonio import parse_untrusted

    out: list[FeedbackEntry] = []
    for s in workspace.steps():
        if s.status != "succeeded":
            continue
        for e in s.evidence:
            if e.kind != EVIDENCE_FEEDBACK:
                continue
            try:
                doc = parse_untrusted(workspace.read_object(e.sha256), "feedback")
                out.extend(from_json(UserFeedback, doc).entries)
            except AitraceError:
                continue
    return out


def release_ref(steps: Sequence[Step]) -> ReleaseRef | None:
    """The release monitoring is about: the latest succeeded step of the first release stage."""
    for stage in RELEASE_STAGES:
        found = [s for s in steps if s.stage == stage and s.status == "succeeded"]
        if found:
            s = found[-1]
            return ReleaseRef(step_id=s.id, seq=s.seq, stage=s.stage, artifacts=tuple(
                ReleasedArtifact(path=a.path, sha256=a.sha256) for a in s.products
                if a.sha256))
    return None


def _own_command(workspace: Workspace) -> Command:
    """This ``aitrace monitor …`` command as its step's command, personal data redacted too.

    A monitoring command carries the user's words on its command line (a feedback entry's
    ``--text``, a ticket id, a reviewer's name): the same detectors that keep personal data out
    of the monitoring evidence (``aitrace.evidence.pii``) keep it out of the recorded argv, on
    top of the secret redaction every step's argv gets.
    """
    from aitrace.evidence.pii import redact
    from aitrace.hooks.capture import capture_process_command
    from aitrace.store.digest import hash_file

    cmd = capture_process_command(workspace.relpath, lambda p: hash_file(p)[0])
    return replace(cmd, argv=tuple(redact(a).text for a in cmd.argv))


def record_traces(workspace: Workspace, sample: TraceSample) -> tuple[Step, EvidenceRef]:
    """Record a trace sample on a new monitoring step."""
    from aitrace.hooks.tracker import stage as record_stage

    pop = sample.population
    metrics: dict[str, float] = {"traces.total": pop.traces,
                                 "traces.sampled": len(sample.traces),
                                 "traces.errors": pop.by_state.get("ERROR", 0)}
    if pop.latency_ms_p95 is not None:
        metrics["traces.latency_ms_p95"] = pop.latency_ms_p95
    if pop.tokens.total_tokens is not None:
        metrics["traces.tokens_total"] = pop.tokens.total_tokens
    kept = "redacted text kept" if sample.kept_text else "digests only"
    ctx = record_stage(MONITORING, workspace=workspace, mlflow=False, sbom=False,
                       command=_own_command(workspace),
                       description=f"{len(sample.traces)} of {pop.traces} traces of experiment "
                                   f"'{sample.source.experiment_name}' sampled ({kept})")
    with ctx as rec:
        rec.log_params({"traces.experiment": sample.source.experiment_name,
                        "traces.since": sample.window.since, "traces.until": sample.window.until})
        rec.log_metrics(metrics)
        ref = rec.attach(EVIDENCE_TRACES, to_json(sample), media_type=TRACES_MEDIA_TYPE,
                         name="trace-sample", summary=trace_summary(sample))
    assert ctx.step is not None  # noqa: S101 - set by a successful __exit__
    return ctx.step, _as_recorded(ctx.step, ref)


def record_review(workspace: Workspace, envelope: bytes, review: OutputReview,
                  sheet: Path) -> tuple[Step, EvidenceRef]:
    """Record a signed review (the DSSE envelope) on a new monitoring step, bound to the sheet."""
    from aitrace.hooks.tracker import stage as record_stage

    t = review.totals
    ctx = record_stage(MONITORING, workspace=workspace, mlflow=False, sbom=False,
                       command=_own_command(workspace),
                       description=f"Human review of {t.rows} sampled outputs by "
                                   f"{review.reviewer.name}")
    with ctx as rec:
        rec.output(sheet, role="review-sheet")
        rec.log_metrics({"review.rows": t.rows, "review.correct_rate": t.correct_rate,
                         "review.appropriate_rate": t.appropriate_rate})
        ref = rec.attach(EVIDENCE_REVIEW, envelope, media_type=REVIEW_MEDIA_TYPE,
                         name="output-review", summary=review_summary(review), subject=sheet,
                         subject_sha256=review.sheet_sha256)
    assert ctx.step is not None  # noqa: S101
    return ctx.step, _as_recorded(ctx.step, ref)


def record_feedback(workspace: Workspace, entries: Sequence[FeedbackEntry], *,
                    source: str, source_file: Path | None = None,
                    ) -> tuple[Step, EvidenceRef, UserFeedback]:
    """Record feedback entries, linked to the current release, on a new monitoring step."""
    from aitrace.hooks.tracker import stage as record_stage

    doc = UserFeedback(format=FEEDBACK_FORMAT, source=source, entries=tuple(entries),
                       release=release_ref(workspace.steps()))
    everything = [*recorded_feedback(workspace), *entries]
    still_open = open_entries(everything)
    ctx = record_stage(MONITORING, workspace=workspace, mlflow=False, sbom=False,
                       command=_own_command(workspace),
                       description=f"{len(entries)} user feedback entr"
                                   f"{'y' if len(entries) == 1 else 'ies'} ({source})")
    with ctx as rec:
        if source_file is not None:
            rec.output(source_file, role="feedback-export")
        rec.log_metrics({"feedback.entries": len(entries), "feedback.open": len(still_open),
                         "feedback.open_high": sum(1 for e in still_open
                                                   if e.severity == "high")})
        ref = rec.attach(EVIDENCE_FEEDBACK, to_json(doc), media_type=FEEDBACK_MEDIA_TYPE,
                         name="user-feedback", summary=feedback_summary(doc),
                         subject=source_file)
    assert ctx.step is not None  # noqa: S101
    return ctx.step, _as_recorded(ctx.step, ref), doc
