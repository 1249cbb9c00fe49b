"""The monitoring documents as typed models: trace samples, output reviews, user feedback.

Each is a frozen model (``aitrace.record._model``), so the JSON written to the record, the
schemas under ``schemas/`` and the parsing of untrusted copies from bundles come from one
definition. None of them holds raw personal data: text fields are redacted before a document
is built (``aitrace.evidence.pii.redact``), digests stand in for everything else.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Literal, get_args

from aitrace.errors import InputError
from aitrace.record._model import field, from_json, json_schema, model
from aitrace.record.refs import SHA256_HEX
from aitrace.record.times import RFC3339_UTC

TRACES_FORMAT: Literal["aitrace.trace-sample/v1"] = "aitrace.trace-sample/v1"
REVIEW_FORMAT: Literal["aitrace.output-review/v1"] = "aitrace.output-review/v1"
FEEDBACK_FORMAT: Literal["aitrace.user-feedback/v1"] = "aitrace.user-feedback/v1"
TRACES_MEDIA_TYPE = "application/vnd.aitrace.trace-sample+json"
REVIEW_MEDIA_TYPE = "application/vnd.aitrace.output-review.dsse+json"
FEEDBACK_MEDIA_TYPE = "application/vnd.aitrace.user-feedback+json"
REVIEW_PREDICATE = "https://aitrace.dev/output-review/v1"
"""predicateType of the in-toto statement a reviewer signs over a filled review sheet."""
REVIEW_SHEET_SUBJECT = "review-sheet"
TRACE_SAMPLE_SUBJECT = "trace-sample"
SAMPLE_METHOD = "the first N traces of the window ordered by sha256(trace_id)"

Verdict = Literal["correct", "incorrect", "unsure"]
Category = Literal["accuracy", "safety", "privacy", "ip", "fairness", "other"]
Severity = Literal["low", "medium", "high"]
FeedbackStatus = Literal["open", "resolved"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
CATEGORIES: tuple[Category, ...] = get_args(Category)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
FEEDBACK_STATUSES: tuple[FeedbackStatus, ...] = get_args(FeedbackStatus)


# --------------------------------------------------------------------------- traces


@model
class TokenUsage:
    """Token counts of a call (MLflow's ``mlflow.chat.tokenUsage``), when the app logged them."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


@model
class TraceEntry:
    """One sampled trace: what happened, by digest; text only redacted and only when kept."""

    trace_id: str
    time: str = field(pattern=RFC3339_UTC, description="request time, UTC")
    state: str = field(description="MLflow trace state: OK, ERROR, IN_PROGRESS, ...")
    request_sha256: str = field(
        pattern=SHA256_HEX, description="sha256 of the canonical JSON of the root span's inputs")
    response_sha256: str | None = field(
        default=None, pattern=SHA256_HEX,
        description="sha256 of the canonical JSON of the root span's outputs")
    latency_ms: int | None = None
    endpoint: str | None = field(default=None, description="the trace's name")
    model: str | None = field(default=None, description="span attribute mlflow.llm.model")
    tokens: TokenUsage | None = None
    prompt: str | None = field(default=None, description="redacted; only with --keep-text")
    response: str | None = field(default=None, description="redacted; only with --keep-text")
    redacted: Mapping[str, int] = field(
        default_factory=dict, description="detector -> findings removed from this trace's text")


@model
class TraceSource:
    """Where the traces were read (the application's MLflow, credentials stripped)."""

    tracking_uri: str
    experiment_id: str
    experiment_name: str


@model
class TraceWindow:
    """The time window the traces were read from."""

    since: str = field(pattern=RFC3339_UTC)
    until: str = field(pattern=RFC3339_UTC)


@model
class TracePopulation:
    """Every trace in the window, summarised (the sample is drawn from these)."""

    traces: int
    by_state: Mapping[str, int] = field(default_factory=dict)
    latency_ms_p50: float | None = None
    latency_ms_p95: float | None = None
    latency_ms_max: float | None = None
    tokens: TokenUsage = field(default_factory=TokenUsage)


@model
class TraceSample:
    """A sample of an application's generative-model traces (``trace-sample`` evidence)."""

    format: Literal["aitrace.trace-sample/v1"]
    source: TraceSource
    window: TraceWindow
    population: TracePopulation
    requested: int = field(description="the sample size asked for (--sample)")
    kept_text: bool = field(description="whether redacted prompt/response text is kept")
    method: str = SAMPLE_METHOD
    redacted: Mapping[str, int] = field(
        default_factory=dict, description="detector -> findings removed, over the whole sample")
    traces: tuple[TraceEntry, ...] = ()


# --------------------------------------------------------------------------- review


@model
class ReviewRow:
    """A reviewer's verdict on one sampled output."""

    trace_id: str
    response_sha256: str = field(pattern=SHA256_HEX)
    verdict: Verdict
    appropriate: bool
    notes: str = field(default="", description="the reviewer's notes, redacted")
    redacted: Mapping[str, int] = field(default_factory=dict)


@model
class ReviewTotals:
    """The rates a freshness policy judges (``min_review_correct``)."""

    rows: int
    correct: int
    incorrect: int
    unsure: int
    appropriate: int
    correct_rate: float = field(description="correct / rows")
    appropriate_rate: float = field(description="appropriate / rows")


@model
class ReviewerRef:
    """Who reviewed, and the key they signed with."""

    name: str
    keyid: str = field(pattern=SHA256_HEX, description="sha256 of the signing key's DER SPKI")


@model
class OutputReview:
    """A filled review sheet (the predicate the reviewer signs; ``output-review`` evidence)."""

    format: Literal["aitrace.output-review/v1"]
    record_id: str
    sample_sha256: str = field(pattern=SHA256_HEX,
                               description="the trace-sample evidence the rows were drawn from")
    sheet_sha256: str = field(pattern=SHA256_HEX, description="the filled sheet's bytes")
    reviewer: ReviewerRef
    time: str = field(pattern=RFC3339_UTC)
    rows: tuple[ReviewRow, ...]
    totals: ReviewTotals


def review_from_envelope(doc: Any, *, source: str) -> OutputReview:
    """The review a DSSE envelope (parsed JSON) *claims* — its signatures are not checked here.

    ``aitrace.signing.reviews.verify_review`` checks who signed it; views use this to show an
    unverified claim as such.

    Raises:
        InputError: not an envelope over an output-review statement (the field is named).
    """
    from aitrace.record.jsonio import parse_untrusted

    def bad(what: str) -> InputError:
        return InputError(f"{source}: {what}", hint="the review evidence is damaged; record the "
                                                    "review sheet again")

    if not isinstance(doc, Mapping) or not isinstance(doc.get("payload"), str):
        raise bad("is not a DSSE envelope (no payload)")
    try:
        payload = base64.b64decode(doc["payload"], validate=True)
    except (binascii.Error, ValueError):
        raise bad("the envelope's payload is not base64") from None
    statement = parse_untrusted(payload, f"{source}: statement", error=InputError)
    if not isinstance(statement, Mapping) or statement.get("predicateType") != REVIEW_PREDICATE:
        raise bad(f"the statement's predicateType is not {REVIEW_PREDICATE}")
    return from_json(OutputReview, statement.get("predicate"), source=f"{source} predicate")


# --------------------------------------------------------------------------- feedback


@model
class FeedbackEntry:
    """One user-reported problem (or its resolution), redacted like prompts."""

    id: str
    time: str = field(pattern=RFC3339_UTC)
    category: Category
    severity: Severity
    status: FeedbackStatus
    text: str = field(description="what the user reported, redacted")
    ref: str | None = field(default=None, description="a resolved entry: the id it resolves")
    redacted: Mapping[str, int] = field(default_factory=dict)


@model
class ReleasedArtifact:
    """A released file the feedback is about."""

    path: str
    sha256: str = field(pattern=SHA256_HEX)


@model
class ReleaseRef:
    """The release the feedback is linked to: the latest succeeded deployment step."""

    step_id: str
    seq: int
    stage: str
    artifacts: tuple[ReleasedArtifact, ...] = ()


@model
class UserFeedback:
    """User-reported problems (``user-feedback`` evidence)."""

    format: Literal["aitrace.user-feedback/v1"]
    source: str = field(description="'command line' or the name of the imported file")
    entries: tuple[FeedbackEntry, ...]
    release: ReleaseRef | None = None


# --------------------------------------------------------------------------- summaries


def trace_summary(sample: TraceSample) -> dict[str, Any]:
    """The few values a step's evidence reference keeps about a trace sample (no text)."""
    return {"traces": sample.population.traces, "sampled": len(sample.traces),
            "by_state": dict(sample.population.by_state), "kept_text": sample.kept_text,
            "redacted": dict(sample.redacted), "since": sample.window.since,
            "until": sample.window.until, "experiment": sample.source.experiment_name}


def review_summary(review: OutputReview) -> dict[str, Any]:
    """The review's totals and reviewer, for the evidence reference."""
    t = review.totals
    return {"rows": t.rows, "correct_rate": t.correct_rate,
            "appropriate_rate": t.appropriate_rate, "reviewer": review.reviewer.name,
            "keyid": review.reviewer.keyid, "sample_sha256": review.sample_sha256}


def feedback_summary(feedback: UserFeedback) -> dict[str, Any]:
    """Counts by status, severity and category, for the evidence reference."""
    by: dict[str, dict[str, int]] = {"status": {}, "severity": {}, "category": {}}
    for e in feedback.entries:
        for key, value in (("status", e.status), ("severity", e.severity),
                           ("category", e.category)):
            by[key][value] = by[key].get(value, 0) + 1
    return {"entries": len(feedback.entries), **{k: dict(sorted(v.items()))
                                                  for k, v in by.items()}}


# --------------------------------------------------------------------------- schemas


def trace_sample_schema() -> dict[str, Any]:
    """JSON Schema of ``trace-sample`` evidence (``schemas/trace-sample.schema.json``)."""
    return json_schema(TraceSample, schema_id="https://aitrace.dev/schemas/trace-sample/v1",
                       title="aitrace trace sample (monitoring)")


def output_review_schema() -> dict[str, Any]:
    """JSON Schema of the signed review predicate (``schemas/output-review.schema.json``)."""
    return json_schema(OutputReview, schema_id="https://aitrace.dev/schemas/output-review/v1",
                       title="aitrace output review predicate (monitoring)")


def user_feedback_schema() -> dict[str, Any]:
    """JSON Schema of ``user-feedback`` evidence (``schemas/user-feedback.schema.json``)."""
    return json_schema(UserFeedback, schema_id="https://aitrace.dev/schemas/user-feedback/v1",
                       title="aitrace user feedback (monitoring)")
