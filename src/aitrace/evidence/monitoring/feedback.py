"""User feedback: problems users report about the model in use, redacted and linked to a release.

An entry has a category (``accuracy``, ``safety``, ``privacy``, ``ip``, ``fairness``,
``other``), a severity (``low``, ``medium``, ``high``), a status (``open`` or ``resolved``) and
the user's text, redacted like prompts. A ``resolved`` entry references (``ref``) the entry it
resolves, which must already be in the record or earlier in the same batch; an entry is *open*
until a later resolved entry references it. Entries come from the command line or from a CSV
export of a ticket system with the columns ``id, time, category, severity, status, text, ref``
(only ``category``, ``severity`` and ``text`` are required).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from aitrace.errors import InputError
from aitrace.evidence.monitoring.csvtext import CsvHints, read_csv_text
from aitrace.evidence.monitoring.models import (
    CATEGORIES,
    FEEDBACK_STATUSES,
    SEVERITIES,
    FeedbackEntry,
)
from aitrace.evidence.pii import redact
from aitrace.record.times import iso_ms, parse_instant

MAX_FEEDBACK_BYTES = 16 * 2**20
CSV_COLUMNS = ("id", "time", "category", "severity", "status", "text", "ref")
_T = TypeVar("_T", bound=str)


def _choice(value: str, allowed: tuple[_T, ...], what: str, where: str) -> _T:
    v = value.strip().lower()
    for a in allowed:
        if v == a:
            return a
    raise InputError(f"{where}: {what} must be one of {', '.join(allowed)} (got {value!r})",
                     hint=f"use one of: {', '.join(allowed)}")


def _entry_id(time: str, category: str, severity: str, text: str) -> str:
    digest = hashlib.sha256(f"{time}\n{category}\n{severity}\n{text}".encode()).hexdigest()
    return f"fb-{digest[:12]}"


def make_entry(*, text: str, category: str | None, severity: str | None,
               status: str = "open", ref: str | None = None, id: str | None = None,
               time: str | None = None, known: Mapping[str, FeedbackEntry] | None = None,
               where: str = "feedback") -> FeedbackEntry:
    """One feedback entry, redacted and checked against the entries already known.

    A resolved entry without category or severity takes those of the entry it resolves.

    Raises:
        InputError: a bad category, severity, status or time; a resolved entry without a
            known ``ref``; an open entry with a ``ref``; an id that is already recorded.
    """
    known = known or {}
    st = _choice(status or "open", FEEDBACK_STATUSES, "status", where)
    ref = (ref or "").strip() or None
    original = known.get(ref) if ref else None
    if st == "resolved":
        if ref is None:
            raise InputError(f"{where}: a resolved entry must reference the entry it resolves",
                             hint="pass --ref ID (the id of the open entry)")
        if original is None:
            raise InputError(f"{where}: --ref {ref!r} is not a feedback entry of this record",
                             hint="known ids: " + (", ".join(sorted(known)) or "none yet"))
    elif ref is not None:
        raise InputError(f"{where}: only a resolved entry references another (got ref {ref!r} "
                         "with status open)", hint="add --status resolved, or drop --ref")
    cat_text = category or (original.category if original else "")
    sev_text = severity or (original.severity if original else "")
    if not cat_text or not sev_text:
        raise InputError(f"{where}: category and severity are required",
                         hint=f"--category {'|'.join(CATEGORIES)} --severity "
                              f"{'|'.join(SEVERITIES)}")
    cat = _choice(cat_text, CATEGORIES, "category", where)
    sev = _choice(sev_text, SEVERITIES, "severity", where)
    when = iso_ms(parse_instant(time, what=f"{where}: time") if time
                  else datetime.now(UTC))
    clean = redact(text.strip())
    if not clean.text:
        raise InputError(f"{where}: the feedback text is empty", hint="say what was reported")
    entry_id = (id or "").strip() or _entry_id(when, cat, sev, clean.text)
    if entry_id in known:
        raise InputError(f"{where}: feedback id {entry_id!r} is already recorded",
                         hint="give each entry its own id; resolve an entry with --status "
                              f"resolved --ref {entry_id}")
    return FeedbackEntry(id=entry_id, time=when, category=cat, severity=sev, status=st,
                         text=clean.text, ref=ref, redacted=dict(clean.counts))


def read_feedback_csv(path: Path, known: Mapping[str, FeedbackEntry]) -> list[FeedbackEntry]:
    """Entries from a ticket-system export (CSV), each checked as ``make_entry`` does.

    Raises:
        InputError: naming the file, row and column.
    """
    _data, text = read_csv_text(path, MAX_FEEDBACK_BYTES, CsvHints(
        "feedback file", unreadable="give a CSV export with category, severity and text columns",
        too_large="split the export", not_utf8="export the tickets as CSV in UTF-8"))
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in ("category", "severity", "text") if c not in header]
    if missing:
        raise InputError(f"{path}: the feedback file has no column(s) {', '.join(missing)}",
                         hint="columns: " + ", ".join(CSV_COLUMNS))
    seen = dict(known)
    out: list[FeedbackEntry] = []
    try:
        for i, row in enumerate(reader, start=2):
            r = {k: (v or "").strip() for k, v in row.items() if k is not None}
            entry = make_entry(text=r.get("text", ""), category=r.get("category") or None,
                               severity=r.get("severity") or None,
                               status=r.get("status") or "open", ref=r.get("ref") or None,
                               id=r.get("id") or None, time=r.get("time") or None, known=seen,
                               where=f"{path} row {i}")
            seen[entry.id] = entry
            out.append(entry)
    except csv.Error as exc:
        raise InputError(f"{path}: not a valid CSV file ({exc})", hint="export as CSV") from None
    if not out:
        raise InputError(f"{path}: the feedback file has no rows", hint="export some tickets")
    return out


def open_entries(entries: Iterable[FeedbackEntry]) -> list[FeedbackEntry]:
    """The open entries that no resolved entry references (in the order given)."""
    items = list(entries)
    resolved = {e.ref for e in items if e.status == "resolved" and e.ref}
    return [e for e in items if e.status == "open" and e.id not in resolved]


def by_id(entries: Sequence[FeedbackEntry]) -> dict[str, FeedbackEntry]:
    """Entries by id (the first of each id)."""
    out: dict[str, FeedbackEntry] = {}
    for e in entries:
        out.setdefault(e.id, e)
    return out
