"""The review sheet round trip: written from a sample, filled, recorded signed; tampering
refused."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aitrace.errors import InputError
from aitrace.evidence.monitoring.record import record_traces, workspace_samples
from aitrace.evidence.monitoring.review import (
    SHEET_COLUMNS,
    latest_sample,
    sheet_rows,
    write_sheet,
)
from aitrace.evidence.monitoring.traces import read_contents, sample_traces
from aitrace.evidence.pii import findings
from aitrace.record.stages import EVIDENCE_REVIEW
from aitrace.signing.keys import load_public_key, load_signer
from aitrace.signing.reviews import record_signed_review, verify_review
from tests.helpers.monitoring import PLANTED, AppStore, Released, planted_in

Rows = list[dict[str, str]]


def _sample(app_store: AppStore, released: Released, *, keep_text: bool = True) -> None:
    since = datetime.now(UTC) - timedelta(days=7)
    record_traces(released.ws, sample_traces(app_store.uri, app_store.experiment, since=since,
                                             size=6, keep_text=keep_text))


def _read(path: Path) -> Rows:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, rows: Rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _filled(released: Released, size: int = 4) -> Path:
    ref = latest_sample(workspace_samples(released.ws))
    sheet = released.ws.root / "review" / "sheet.csv"
    write_sheet(sheet, sheet_rows(ref, size))
    rows = _read(sheet)
    for i, r in enumerate(rows):
        r["verdict"] = "correct" if i else "incorrect"
        r["appropriate"] = "yes"
        r["notes"] = "customer bob.lin@example.net called" if i == 0 else ""
    _write(sheet, rows)
    return sheet


def test_the_sheet_lists_sampled_outputs_redacted(app_store: AppStore,
                                                  released: Released) -> None:
    _sample(app_store, released)
    ref = latest_sample(workspace_samples(released.ws))
    sheet = released.ws.root / "sheet.csv"
    write_sheet(sheet, sheet_rows(ref, 5))
    rows = _read(sheet)
    assert list(rows[0]) == list(SHEET_COLUMNS) and len(rows) == 5
    assert [r["trace_id"] for r in rows] == [t.trace_id for t in ref.sample.traces[:5]]
    assert all(r["sample"] == ref.sha256 and not r["verdict"] for r in rows)
    assert not [p for p in PLANTED if p in sheet.read_text()]


def test_a_filled_sheet_is_recorded_signed_with_rates(app_store: AppStore,
                                                      released: Released) -> None:
    _sample(app_store, released)
    sheet = _filled(released)
    signer = load_signer(released.reviewer_key)
    step, ref, review = record_signed_review(released.ws, sheet, signer, "Support lead")
    assert step.stage == "monitoring" and ref.kind == EVIDENCE_REVIEW and ref.bound is True
    assert ref.subject is not None and ref.subject.sha256 == review.sheet_sha256
    assert review.totals.rows == 4 and review.totals.correct_rate == 0.75
    assert review.totals.appropriate_rate == 1.0 and step.metrics["review.correct_rate"] == 0.75
    assert "bob.lin@example.net" not in review.rows[0].notes and review.rows[0].redacted
    check = verify_review(released.ws.read_object(ref.sha256),
                          [load_public_key(released.reviewer_pub)])
    assert check.ok and check.reviewer == "Support lead" and check.keyid == signer.keyid
    assert planted_in(released.ws.dir, (*PLANTED, "bob.lin@example.net")) == {}


def _tamper_digest(rows: Rows) -> None:
    rows[1]["response_sha256"] = "0" * 64


def _tamper_trace(rows: Rows) -> None:
    rows[1]["trace_id"] = "tr-00000000000000000000000000000000"


def _tamper_text(rows: Rows) -> None:
    rows[1]["response"] = "A much better answer than the model gave."


def _duplicate(rows: Rows) -> None:
    rows.append(dict(rows[0]))


def _unfilled(rows: Rows) -> None:
    rows[2]["verdict"] = ""


def _other_sample(rows: Rows) -> None:
    for r in rows:
        r["sample"] = "f" * 64


@pytest.mark.parametrize(("tamper", "message"), [
    (_tamper_digest, "row 3: trace .* has response sha256 '0000"),
    (_tamper_trace, "row 3: trace 'tr-0000.*' is not in the sample"),
    (_tamper_text, "row 3: the response text is not the sampled"),
    (_duplicate, "row 6: trace .* appears twice"),
    (_unfilled, "row 4: 'verdict' must be one of correct, incorrect, unsure"),
    (_other_sample, "row 2: sample 'ffff.*is not a trace sample of this record"),
])
def test_a_tampered_sheet_is_refused(app_store: AppStore, released: Released,
                                     tamper: Callable[[Rows], None], message: str) -> None:
    _sample(app_store, released)
    sheet = _filled(released)
    rows = _read(sheet)
    tamper(rows)
    _write(sheet, rows)
    before = len(released.ws.steps())
    with pytest.raises(InputError, match=message):
        record_signed_review(released.ws, sheet, load_signer(released.reviewer_key), "QA")
    assert len(released.ws.steps()) == before  # nothing recorded


def test_a_review_under_another_key_or_altered_does_not_verify(app_store: AppStore,
                                                                released: Released) -> None:
    _sample(app_store, released)
    _step, ref, _review = record_signed_review(released.ws, _filled(released),
                                               load_signer(released.reviewer_key), "QA")
    envelope = released.ws.read_object(ref.sha256)
    other = verify_review(envelope, [load_public_key(released.release_pub)])
    assert not other.ok and "not by a trusted key" in (other.problem or "")
    doc = json.loads(envelope)
    import base64

    statement = json.loads(base64.b64decode(doc["payload"]))
    statement["predicate"]["totals"]["correct_rate"] = 1.0
    doc["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    altered = verify_review(json.dumps(doc).encode(), [load_public_key(released.reviewer_pub)])
    assert not altered.ok and "does not verify" in (altered.problem or "")


def test_without_kept_text_the_sheet_reads_it_from_mlflow(app_store: AppStore,
                                                          released: Released) -> None:
    _sample(app_store, released, keep_text=False)
    ref = latest_sample(workspace_samples(released.ws))
    assert all(r["prompt"] == "" for r in sheet_rows(ref, 3))
    contents = read_contents(app_store.uri, [t.trace_id for t in ref.sample.traces[:3]])
    rows = sheet_rows(ref, 3, contents)
    assert all(r["prompt"] for r in rows)
    assert all(findings(r["prompt"]) == {} for r in rows)


def test_no_sample_no_sheet(released: Released) -> None:
    with pytest.raises(InputError, match="no trace sample to review"):
        latest_sample(workspace_samples(released.ws))
