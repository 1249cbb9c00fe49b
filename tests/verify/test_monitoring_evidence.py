"""``evidence.monitoring``: monitoring documents must be redacted and consistent to verify."""

from __future__ import annotations

from pathlib import Path

import aitrace
from aitrace.bundle.write import build_bundle
from aitrace.evidence.monitoring.models import (
    TRACES_FORMAT,
    TRACES_MEDIA_TYPE,
    TraceEntry,
    TracePopulation,
    TraceSample,
    TraceSource,
    TraceWindow,
)
from aitrace.record._model import to_json
from aitrace.record.stages import EVIDENCE_TRACES
from aitrace.signing.keys import load_public_key, load_signer
from aitrace.verify.bundle import verify_bundle
from tests.helpers.monitoring import make_released

T = "2026-12-01T10:00:00.000Z"


def _sample(prompt: str | None, *, kept: bool = True) -> TraceSample:
    return TraceSample(
        format=TRACES_FORMAT, source=TraceSource("sqlite:///app.db", "1", "assistant-prod"),
        window=TraceWindow(since=T, until=T), population=TracePopulation(traces=1),
        requested=1, kept_text=kept,
        traces=(TraceEntry(trace_id="tr-1", time=T, state="OK", request_sha256="a" * 64,
                           response_sha256="b" * 64, prompt=prompt, response="ok"),))


def _verify(tmp_path: Path, sample: TraceSample) -> dict[str, list[str]]:
    root = tmp_path / "p"
    rel = make_released(root)
    with aitrace.stage("monitoring", workspace=rel.ws) as step:  # written without redaction
        step.attach(EVIDENCE_TRACES, to_json(sample), media_type=TRACES_MEDIA_TYPE)
    out = tmp_path / "b.aitrace"
    build_bundle(rel.ws, [load_signer(rel.release_key)], out)
    report = verify_bundle(out, [load_public_key(rel.release_pub)])
    found: dict[str, list[str]] = {}
    for c in report.checks:
        found.setdefault(c.id, []).append(f"{c.status}: {c.message}")
    return found


def test_a_redacted_sample_verifies(tmp_path: Path) -> None:
    checks = _verify(tmp_path, _sample("mail me at [REDACTED:email]"))
    assert checks["evidence.monitoring"] == ["passed: 1 monitoring document(s) valid, redacted "
                                             "and consistent"]


def test_unredacted_personal_data_fails_verification(tmp_path: Path) -> None:
    checks = _verify(tmp_path, _sample("mail me at jane.chen@example.com"))
    (msg,) = checks["evidence.monitoring"]
    assert msg.startswith("failed: step 3 (monitoring) trace-sample")
    assert "trace tr-1 prompt holds unredacted personal data (1 email)" in msg


def test_text_kept_against_its_own_flag_fails(tmp_path: Path) -> None:
    checks = _verify(tmp_path, _sample("hello", kept=False))
    assert "holds prompt or response text although kept_text is false" in \
        checks["evidence.monitoring"][0]


def test_a_record_without_monitoring_has_no_such_check(tmp_path: Path) -> None:
    rel = make_released(tmp_path / "p")
    out = tmp_path / "b.aitrace"
    build_bundle(rel.ws, [load_signer(rel.release_key)], out)
    report = verify_bundle(out, [load_public_key(rel.release_pub)])
    assert report.ok and not [c for c in report.checks if c.id == "evidence.monitoring"]
