"""Reading an application's generative-model traces from MLflow Tracing, read-only.

The application logs its calls as MLflow traces to its own tracking store; aitrace never
redirects or writes to it (*observe, don't redirect*). ``sample_traces`` reads every trace of an
experiment in a time window (without spans, for the population's counts, latencies and token
totals), draws a reproducible sample — the first N by ``sha256(trace_id)`` — and reads those
traces in full to digest their requests and responses. Text is kept only when asked, and then
only through ``aitrace.evidence.pii.redact``; without it no prompt or response text leaves this
module.

Digests are over the root span's inputs and outputs as canonical JSON (README "Formats"), so an
auditor with access to the application's MLflow can recompute them from ``trace.data.spans``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aitrace.errors import InputError
from aitrace.evidence.monitoring.models import (
    TRACES_FORMAT,
    TokenUsage,
    TraceEntry,
    TracePopulation,
    TraceSample,
    TraceSource,
    TraceWindow,
)
from aitrace.evidence.pii import add_counts, redact
from aitrace.hooks.redact import scrub
from aitrace.record.jsonio import canonical_bytes
from aitrace.record.times import iso_ms, parse_instant

MODEL_ATTRIBUTE = "mlflow.llm.model"
TRACE_NAME_TAG = "mlflow.traceName"
PAGE_SIZE = 500
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: datetime) -> datetime:
    """``--since``: a duration back from ``now`` (``90m``, ``12h``, ``7d``, ``2w``) or a time."""
    m = _DURATION.match(text)
    if m:
        return now - timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])
    return parse_instant(text, what="--since")


def public_uri(uri: str) -> str:
    """A tracking URI as the record may keep it: credentials and secret values removed."""
    return scrub(uri)


def _check_store(uri: str) -> None:
    """Refuse a local store that does not exist: opening it would create an empty one."""
    path: str | None = None
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):]
        path = "/" + path.lstrip("/") if uri.startswith("sqlite:////") else path
    elif uri.startswith("file://"):
        path = uri[len("file://"):]
    elif "://" not in uri:
        path = uri
    if path is not None and not Path(path).exists():
        raise InputError(f"--tracking-uri {public_uri(uri)}: there is no MLflow store at {path}",
                         hint="give the tracking URI the application logs its traces to "
                              "(aitrace reads it and never creates or changes it)")


def _client(uri: str) -> Any:
    try:
        from mlflow import MlflowClient
    except ImportError:  # pragma: no cover - mlflow is a dependency
        from aitrace.errors import MissingDependencyError

        raise MissingDependencyError("reading traces needs mlflow",
                                     hint="pip install mlflow") from None
    _check_store(uri)
    return MlflowClient(tracking_uri=uri)


def _experiment(client: Any, name: str, uri: str) -> Any:
    exp = client.get_experiment_by_name(name)
    if exp is None:
        names = sorted(e.name for e in client.search_experiments(max_results=50))
        raise InputError(f"the MLflow store {public_uri(uri)} has no experiment {name!r}",
                         hint="experiments there: " + (", ".join(names) or "none"))
    return exp


# --------------------------------------------------------------------------- text and digests


def _digest(value: Any) -> str:
    try:
        data = canonical_bytes(value)
    except (TypeError, ValueError):
        data = str(value).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def _content(message: Any) -> str | None:
    if isinstance(message, Mapping):
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
            parts = [p.get("text") for p in content if isinstance(p, Mapping)]
            return " ".join(p for p in parts if isinstance(p, str)) or None
    return None


def as_text(value: Any) -> str:
    """The human-readable text of a span's inputs or outputs (chat messages, choices, strings).

    Anything not recognised is shown as its JSON, so nothing is hidden from redaction.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        messages = value.get("messages")
        if isinstance(messages, list):
            texts = [_content(m) for m in messages]
            if any(texts):
                return "\n".join(t for t in texts if t)
        choices = value.get("choices")
        if isinstance(choices, list):
            texts = [_content(c.get("message")) if isinstance(c, Mapping) else None
                     for c in choices]
            if any(texts):
                return "\n".join(t for t in texts if t)
        strings = [v for v in value.values() if isinstance(v, str)]
        if len(value) == 1 and strings:
            return strings[0]
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return str(value)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Info:
    trace_id: str
    time_ms: int
    state: str
    latency_ms: int | None
    tokens: TokenUsage | None
    name: str | None


def _state(info: Any) -> str:
    state = getattr(info, "state", None)
    return str(getattr(state, "value", state) or "UNKNOWN")


def _tokens(raw: Any) -> TokenUsage | None:
    if not isinstance(raw, Mapping):
        return None

    def n(key: str) -> int | None:
        v = raw.get(key)
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    return TokenUsage(input_tokens=n("input_tokens"), output_tokens=n("output_tokens"),
                      total_tokens=n("total_tokens"))


def _info(trace: Any) -> _Info:
    info = trace.info
    duration = getattr(info, "execution_duration", None)
    tags = getattr(info, "tags", None) or {}
    return _Info(trace_id=str(info.trace_id), time_ms=int(info.request_time), state=_state(info),
                 latency_ms=int(duration) if isinstance(duration, (int, float)) else None,
                 tokens=_tokens(getattr(info, "token_usage", None)),
                 name=tags.get(TRACE_NAME_TAG) if isinstance(tags, Mapping) else None)


def _population(client: Any, exp_id: str, since: datetime, until: datetime) -> list[_Info]:
    lo, hi = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
    found: list[_Info] = []
    token: str | None = None
    while True:
        page = client.search_traces(locations=[exp_id], filter_string=f"timestamp_ms >= {lo}",
                                    include_spans=False, max_results=PAGE_SIZE,
                                    page_token=token, flush=True)
        found.extend(i for t in page if lo <= (i := _info(t)).time_ms <= hi)
        token = getattr(page, "token", None)
        if not token:
            return found


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(q * len(ordered)) - 1)])


def _sum_tokens(infos: Sequence[_Info]) -> TokenUsage:
    def total(attr: str) -> int | None:
        vals = [getattr(i.tokens, attr) for i in infos if i.tokens is not None]
        vals = [v for v in vals if v is not None]
        return sum(vals) if vals else None

    return TokenUsage(input_tokens=total("input_tokens"), output_tokens=total("output_tokens"),
                      total_tokens=total("total_tokens"))


def sample_order(trace_id: str) -> str:
    """The sort key of the sample: ``sha256(trace_id)`` (uniform, and anyone can redo it)."""
    return hashlib.sha256(trace_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TraceContent:
    """A trace's root-span inputs and outputs, digested (text for redaction, never stored)."""

    request_sha256: str
    response_sha256: str | None
    prompt: str
    response: str
    model: str | None
    endpoint: str | None


def _content_of(trace: Any) -> TraceContent:
    spans = list(getattr(trace.data, "spans", None) or [])
    root = next((s for s in spans if getattr(s, "parent_id", None) is None),
                spans[0] if spans else None)
    inputs = getattr(root, "inputs", None) if root is not None else None
    outputs = getattr(root, "outputs", None) if root is not None else None
    model = None
    for s in spans:
        value = (getattr(s, "attributes", None) or {}).get(MODEL_ATTRIBUTE)
        if isinstance(value, str) and value:
            model = value
            break
    if model is None and isinstance(inputs, Mapping) and isinstance(inputs.get("model"), str):
        model = inputs["model"]
    return TraceContent(request_sha256=_digest(inputs),
                        response_sha256=_digest(outputs) if outputs is not None else None,
                        prompt=as_text(inputs) if inputs is not None else "",
                        response=as_text(outputs) if outputs is not None else "",
                        model=model, endpoint=getattr(root, "name", None))


def read_contents(tracking_uri: str, trace_ids: Sequence[str]) -> dict[str, TraceContent]:
    """The full content of some traces (for a review sheet when the sample kept no text)."""
    client = _client(tracking_uri)
    out: dict[str, TraceContent] = {}
    for tid in trace_ids:
        trace = client.get_trace(tid)
        if trace is not None:
            out[tid] = _content_of(trace)
    return out


def sample_traces(tracking_uri: str, experiment: str, *, since: datetime,
                  until: datetime | None = None, size: int = 20,
                  keep_text: bool = False) -> TraceSample:
    """Read the traces of ``experiment`` logged in ``[since, until]`` and sample ``size``.

    Raises:
        InputError: a local store that does not exist, an unknown experiment, a bad size.
    """
    if size < 1:
        raise InputError(f"--sample must be at least 1 (got {size})",
                         hint="ask for the number of traces to keep, e.g. --sample 20")
    end = until or datetime.now(UTC)
    if since > end:
        raise InputError(f"--since {iso_ms(since)} is after {iso_ms(end)}",
                         hint="give a window that ends now or later, e.g. --since 7d")
    client = _client(tracking_uri)
    exp = _experiment(client, experiment, tracking_uri)
    infos = _population(client, exp.experiment_id, since, end)
    by_state: dict[str, int] = {}
    for i in infos:
        by_state[i.state] = by_state.get(i.state, 0) + 1
    latencies = [float(i.latency_ms) for i in infos if i.latency_ms is not None]
    chosen = sorted(infos, key=lambda i: sample_order(i.trace_id))[:size]
    entries: list[TraceEntry] = []
    for info in chosen:
        content = _content_of(client.get_trace(info.trace_id))
        prompt = response = None
        counts: dict[str, int] = {}
        if keep_text:
            p, r = redact(content.prompt), redact(content.response)
            prompt, response, counts = p.text, r.text, add_counts(p.counts, r.counts)
        entries.append(TraceEntry(
            trace_id=info.trace_id,
            time=iso_ms(datetime.fromtimestamp(info.time_ms / 1000, UTC)), state=info.state,
            request_sha256=content.request_sha256, response_sha256=content.response_sha256,
            latency_ms=info.latency_ms, endpoint=info.name or content.endpoint,
            model=content.model, tokens=info.tokens, prompt=prompt, response=response,
            redacted=counts))
    return TraceSample(
        format=TRACES_FORMAT,
        source=TraceSource(tracking_uri=public_uri(tracking_uri),
                           experiment_id=str(exp.experiment_id), experiment_name=exp.name),
        window=TraceWindow(since=iso_ms(since), until=iso_ms(end)),
        population=TracePopulation(
            traces=len(infos), by_state=dict(sorted(by_state.items())),
            latency_ms_p50=_percentile(latencies, 0.5),
            latency_ms_p95=_percentile(latencies, 0.95),
            latency_ms_max=max(latencies) if latencies else None, tokens=_sum_tokens(infos)),
        requested=size, kept_text=keep_text,
        redacted=add_counts(*(e.redacted for e in entries)), traces=tuple(entries))
