"""User feedback: redacted, linked to the release, resolved entries reference the original."""

from __future__ import annotations

from pathlib import Path

import pytest

from aitrace.errors import InputError
from aitrace.evidence.monitoring.feedback import (
    by_id,
    make_entry,
    open_entries,
    read_feedback_csv,
)
from aitrace.evidence.monitoring.record import record_feedback, recorded_feedback
from tests.helpers.monitoring import FEEDBACK_PLANTED, Released, planted_in


def test_an_entry_is_redacted_and_gets_a_stable_id() -> None:
    e = make_entry(text="call me on +886 912 345 678 or li.wei@example.org", category="privacy",
                   severity="high", time="2026-12-01T10:00:00Z")
    assert "li.wei" not in e.text and "912 345" not in e.text
    assert e.redacted == {"email": 1, "phone": 1}
    assert e.id.startswith("fb-") and e.status == "open" and e.time == "2026-12-01T10:00:00.000Z"
    again = make_entry(text="call me on +886 912 345 678 or li.wei@example.org",
                       category="privacy", severity="high", time="2026-12-01T10:00:00Z")
    assert again.id == e.id


def test_resolved_entries_reference_a_known_entry() -> None:
    first = make_entry(text="wrong answer", category="accuracy", severity="high", id="T-1")
    with pytest.raises(InputError, match="must reference the entry it resolves"):
        make_entry(text="fixed", category=None, severity=None, status="resolved")
    with pytest.raises(InputError, match="--ref 'T-9' is not a feedback entry"):
        make_entry(text="fixed", category=None, severity=None, status="resolved", ref="T-9",
                   known={"T-1": first})
    with pytest.raises(InputError, match="only a resolved entry references another"):
        make_entry(text="x", category="other", severity="low", ref="T-1", known={"T-1": first})
    done = make_entry(text="fixed", category=None, severity=None, status="resolved", ref="T-1",
                      known={"T-1": first})
    assert (done.category, done.severity, done.ref) == ("accuracy", "high", "T-1")
    assert open_entries([first]) == [first] and open_entries([first, done]) == []
    with pytest.raises(InputError, match="'T-1' is already recorded"):
        make_entry(text="again", category="other", severity="low", id="T-1",
                   known={"T-1": first})


@pytest.mark.parametrize(("value", "field"), [("category", "bogus"), ("severity", "urgent")])
def test_bad_choices_name_the_field(value: str, field: str) -> None:
    kwargs = {"category": "other", "severity": "low", value: field}
    with pytest.raises(InputError, match=f"{value} must be one of"):
        make_entry(text="x", **kwargs)  # type: ignore[arg-type]


def test_a_ticket_export_is_read_with_row_numbers(tmp_path: Path) -> None:
    good = tmp_path / "tickets.csv"
    good.write_text("id,category,severity,status,text,ref\n"
                    "T-1,safety,high,open,The base got hot; card 5500-0055-5555-5559,\n"
                    "T-2,safety,high,resolved,Replaced the base,T-1\n", encoding="utf-8")
    entries = read_feedback_csv(good, {})
    assert [e.id for e in entries] == ["T-1", "T-2"] and open_entries(entries) == []
    assert "5500" not in entries[0].text
    bad = tmp_path / "bad.csv"
    bad.write_text("category,severity,text\nsafety,high,ok\nsafety,sometimes,x\n")
    with pytest.raises(InputError, match=r"bad.csv row 3: severity must be one of"):
        read_feedback_csv(bad, {})
    missing = tmp_path / "missing.csv"
    missing.write_text("category,text\nsafety,x\n")
    with pytest.raises(InputError, match="no column.*severity"):
        read_feedback_csv(missing, {})


def test_recorded_feedback_links_the_release_and_counts_open_high(released: Released,
                                                                  tmp_path: Path) -> None:
    ws = released.ws
    first = make_entry(text="It echoed my ID F131104093", category="privacy", severity="high",
                       id="T-1")
    step, ref, doc = record_feedback(ws, [first], source="command line")
    assert doc.release is not None and doc.release.stage == "deployment"
    assert [a.path for a in doc.release.artifacts] == ["dist/model.json"]
    assert step.metrics["feedback.open_high"] == 1 and ref.summary["severity"] == {"high": 1}
    export = tmp_path / "export.csv"
    export.write_text("id,category,severity,status,text,ref\n"
                      "T-2,accuracy,low,open,Mail li.wei@example.org the manual,\n"
                      "T-3,,,resolved,No longer echoes IDs,T-1\n")
    step2, _ref2, _doc2 = record_feedback(ws, read_feedback_csv(export, by_id(
        recorded_feedback(ws))), source=export.name, source_file=export)
    assert step2.metrics["feedback.open_high"] == 0 and step2.metrics["feedback.open"] == 1
    assert any(p.role == "feedback-export" for p in step2.products)
    assert [e.id for e in recorded_feedback(ws)] == ["T-1", "T-2", "T-3"]
    assert planted_in(ws.dir, FEEDBACK_PLANTED) == {}
