"""Trace samples from a real MLflow Tracing store: digests always, text only redacted."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aitrace.errors import InputError
from aitrace.evidence.monitoring.record import record_traces
from aitrace.evidence.monitoring.source import TraceSampleSource
from aitrace.evidence.monitoring.traces import parse_since, sample_order, sample_traces
from aitrace.record.jsonio import canonical_bytes, parse_untrusted
from aitrace.record.stages import EVIDENCE_TRACES
from tests.helpers.monitoring import PLANTED, PROMPTS, AppStore, Released, planted_in

WEEK = timedelta(days=7)


def _now() -> datetime:
    return datetime.now(UTC)


def test_a_sample_holds_digests_and_no_text(app_store: AppStore) -> None:
    sample = sample_traces(app_store.uri, app_store.experiment, since=_now() - WEEK, size=4)
    assert sample.population.traces == len(PROMPTS)
    assert sample.population.by_state == {"OK": len(PROMPTS)}
    assert sample.population.tokens.total_tokens == sum(14 + i for i in range(len(PROMPTS)))
    assert len(sample.traces) == 4 and sample.requested == 4 and not sample.kept_text
    # The sample is the first N by sha256(trace_id): anyone can redo the choice.
    keys = [sample_order(t.trace_id) for t in sample.traces]
    assert keys == sorted(keys)
    for t in sample.traces:
        assert t.prompt is None and t.response is None and t.redacted == {}
        assert t.model == "kettle-assistant-1.0" and t.endpoint == "kettle-chat"
        assert t.state == "OK" and t.tokens is not None and t.tokens.output_tokens == 9
    assert not any(p in repr(sample) for p in PLANTED)


def test_digests_are_over_the_root_span_as_canonical_json(app_store: AppStore) -> None:
    from mlflow import MlflowClient

    sample = sample_traces(app_store.uri, app_store.experiment, since=_now() - WEEK, size=1)
    (entry,) = sample.traces
    trace = MlflowClient(app_store.uri).get_trace(entry.trace_id)
    root = next(s for s in trace.data.spans if s.parent_id is None)
    assert entry.request_sha256 == hashlib.sha256(canonical_bytes(root.inputs)).hexdigest()
    assert entry.response_sha256 == hashlib.sha256(canonical_bytes(root.outputs)).hexdigest()


def test_kept_text_is_redacted_and_counted(app_store: AppStore) -> None:
    sample = sample_traces(app_store.uri, app_store.experiment, since=_now() - WEEK,
                           size=len(PROMPTS), keep_text=True)
    assert sample.kept_text
    texts = " ".join(f"{t.prompt} {t.response}" for t in sample.traces)
    assert not [p for p in PLANTED if p in texts]
    assert dict(sample.redacted) == {"card": 1, "email": 1, "phone": 2, "secret": 1, "tw_id": 1}
    assert "how do I descale the kettle" in texts  # text without personal data is kept as is
    assert TraceSampleSource().validate(parse_untrusted(
        canonical_bytes(_json(sample)), "sample")) is None


def _json(sample: object) -> object:
    from aitrace.record._model import to_json

    return to_json(sample)


def test_the_window_selects_traces(app_store: AppStore) -> None:
    future = sample_traces(app_store.uri, app_store.experiment, since=_now() + timedelta(hours=1),
                           until=_now() + timedelta(hours=2), size=5)
    assert future.population.traces == 0 and future.traces == ()


def test_a_missing_store_is_refused_and_not_created(tmp_path: Path) -> None:
    db = tmp_path / "nowhere.db"
    with pytest.raises(InputError, match="there is no MLflow store"):
        sample_traces(f"sqlite:///{db}", "x", since=_now() - WEEK)
    assert not db.exists()


def test_an_unknown_experiment_names_those_there(app_store: AppStore) -> None:
    with pytest.raises(InputError, match="has no experiment 'nope'") as exc:
        sample_traces(app_store.uri, "nope", since=_now() - WEEK)
    assert "assistant-prod" in (exc.value.hint or "")


@pytest.mark.parametrize(("text", "days"), [("7d", 7), ("12h", 0.5), ("2w", 14), ("90m", 1 / 16)])
def test_since_durations(text: str, days: float) -> None:
    now = _now()
    assert abs((now - parse_since(text, now)).total_seconds() - days * 86400) < 1


def test_since_accepts_a_time_and_refuses_nonsense() -> None:
    assert parse_since("2026-01-02", _now()) == datetime(2026, 1, 2, tzinfo=UTC)
    with pytest.raises(InputError, match="not a time"):
        parse_since("last tuesday", _now())


def test_recorded_sample_is_a_monitoring_step_without_text(app_store: AppStore,
                                                           released: Released) -> None:
    sample = sample_traces(app_store.uri, app_store.experiment, since=_now() - WEEK, size=3)
    step, ref = record_traces(released.ws, sample)
    assert step.stage == "monitoring" and step.status == "succeeded" and not step.mlflow
    assert ref.kind == EVIDENCE_TRACES and ref.summary["sampled"] == 3
    assert step.metrics["traces.total"] == len(PROMPTS)
    assert planted_in(released.ws.dir, PLANTED) == {}
