"""The review sheet: sampled outputs out to a person as CSV, their verdicts back as evidence.

``aitrace monitor review --sample N -o sheet.csv`` writes one row per sampled output of the
latest trace sample: the sample's digest, the trace id, the response digest, redacted prompt
and response text, and empty ``verdict`` (``correct`` / ``incorrect`` / ``unsure``),
``appropriate`` (``yes`` / ``no``) and ``notes`` columns. The filled sheet comes back with
``--file``; ``read_sheet`` refuses it unless every row matches the sample it names — the trace
is in that sample, its response digest is the sampled one, no trace appears twice, and (when the
sample kept text) the text shown is the sampled text. Notes are redacted like prompts. The
signature over the result is made by ``aitrace.signing.reviews``.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aitrace.errors import AitraceError, InputError
from aitrace.evidence.monitoring.csvtext import CsvHints, read_csv_text
from aitrace.evidence.monitoring.models import (
    REVIEW_FORMAT,
    VERDICTS,
    OutputReview,
    ReviewerRef,
    ReviewRow,
    ReviewTotals,
    TraceSample,
    Verdict,
)
from aitrace.evidence.pii import redact
from aitrace.record._model import from_json
from aitrace.record.stages import EVIDENCE_TRACES
from aitrace.store.files import atomic_write

if TYPE_CHECKING:
    from aitrace.evidence.monitoring.traces import TraceContent
    from aitrace.record.models import Step

SHEET_COLUMNS = ("sample", "trace_id", "response_sha256", "time", "prompt", "response",
                 "verdict", "appropriate", "notes")
REQUIRED_COLUMNS = ("sample", "trace_id", "response_sha256", "verdict", "appropriate")
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}
MAX_SHEET_BYTES = 16 * 2**20


@dataclass(frozen=True)
class SampleRef:
    """A trace sample found in the record: its evidence digest, its step, its document."""

    sha256: str
    step: Step
    sample: TraceSample


def find_samples(steps: Sequence[Step],
                 read: Callable[[str], bytes | None]) -> list[SampleRef]:
    """Every readable trace sample of the record's succeeded steps, in chain order."""
    from aitrace.record.jsonio import parse_untrusted

    out = []
    for s in steps:
        if s.status != "succeeded":
            continue
        for e in s.evidence:
            if e.kind != EVIDENCE_TRACES:
                continue
            data = read(e.sha256)
            if data is None:
                continue
            try:
                doc = parse_untrusted(data, f"trace sample {e.sha256[:12]}", error=InputError)
                out.append(SampleRef(e.sha256, s, from_json(TraceSample, doc)))
            except AitraceError:
                continue
    return out


def latest_sample(samples: Sequence[SampleRef]) -> SampleRef:
    """The most recent trace sample (``InputError`` when the record has none)."""
    if not samples:
        raise InputError("the record holds no trace sample to review",
                         hint="record one first: aitrace monitor traces --tracking-uri URI "
                              "--experiment NAME")
    return samples[-1]


# --------------------------------------------------------------------------- writing


def sheet_rows(ref: SampleRef, size: int,
               contents: Mapping[str, TraceContent] | None = None) -> list[dict[str, str]]:
    """The rows of a review sheet for the first ``size`` outputs of a sample (text redacted).

    Text comes from the sample when it kept some, else from ``contents`` (read from the
    application's MLflow), which must still hash to the sampled digests.

    Raises:
        InputError: a bad size, or a trace whose content no longer matches the sample.
    """
    if size < 1:
        raise InputError(f"--sample must be at least 1 (got {size})",
                         hint="give the number of outputs to review")
    rows = []
    for t in ref.sample.traces[:size]:
        prompt, response = t.prompt or "", t.response or ""
        if not ref.sample.kept_text:
            content = (contents or {}).get(t.trace_id)
            if content is None:
                prompt = response = ""
            elif (content.request_sha256, content.response_sha256) != (t.request_sha256,
                                                                        t.response_sha256):
                raise InputError(f"trace {t.trace_id} no longer matches the sampled digests "
                                 "(it changed in MLflow after it was sampled)",
                                 hint="record a new sample with `aitrace monitor traces`")
            else:
                prompt, response = redact(content.prompt).text, redact(content.response).text
        rows.append({"sample": ref.sha256, "trace_id": t.trace_id,
                     "response_sha256": t.response_sha256 or "", "time": t.time,
                     "prompt": prompt, "response": response, "verdict": "", "appropriate": "",
                     "notes": ""})
    return rows


def write_sheet(path: Path, rows: Sequence[Mapping[str, str]]) -> None:
    """Write a review sheet (CSV, UTF-8, one header row)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SHEET_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, buf.getvalue().encode("utf-8"), mode=0o644)


# --------------------------------------------------------------------------- reading back


@dataclass(frozen=True)
class FilledSheet:
    """A filled review sheet that matched its sample."""

    path: Path
    sha256: str
    sample: SampleRef
    rows: tuple[ReviewRow, ...]


def _read_csv(path: Path) -> tuple[bytes, list[dict[str, str]], list[str]]:
    # spreadsheets like to add a byte-order mark: read_csv_text takes it off
    data, text = read_csv_text(path, MAX_SHEET_BYTES, CsvHints(
        "review sheet", unreadable="give the filled sheet written by `aitrace monitor review -o`",
        too_large="review a smaller sample", not_utf8="save the sheet as CSV in UTF-8"))
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    try:
        rows = [{k: (v or "").strip() for k, v in r.items() if k is not None}
                for r in reader]
    except csv.Error as exc:
        raise InputError(f"{path}: not a valid CSV file ({exc})",
                         hint="save the sheet as CSV") from None
    return data, rows, header


def _appropriate(value: str, where: str) -> bool:
    v = value.lower()
    if v in _YES:
        return True
    if v in _NO:
        return False
    raise InputError(f"{where}: 'appropriate' must be yes or no (got {value!r})",
                     hint="fill every row's appropriate column with yes or no")


def _verdict(value: str, where: str) -> Verdict:
    v = value.lower()
    for verdict in VERDICTS:
        if v == verdict:
            return verdict
    raise InputError(f"{where}: 'verdict' must be one of {', '.join(VERDICTS)} (got {value!r})",
                     hint="fill every row's verdict, or delete rows you did not review")


def read_sheet(path: Path, samples: Sequence[SampleRef]) -> FilledSheet:
    """Read a filled sheet and check it against the sample it names.

    Raises:
        InputError: naming the row and column — a missing column, an unknown sample or trace,
            a response digest or text that is not the sampled one, a repeated trace, an
            unfilled verdict.
    """
    data, raw_rows, header = _read_csv(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{path}: the review sheet has no column(s) {', '.join(missing)}",
                         hint="fill the sheet written by `aitrace monitor review -o` and keep "
                              "its columns")
    if not raw_rows:
        raise InputError(f"{path}: the review sheet has no rows", hint="review some outputs")
    by_sha = {s.sha256: s for s in samples}
    names = {raw_rows[0]["sample"]}
    ref = by_sha.get(raw_rows[0]["sample"])
    if ref is None:
        raise InputError(f"{path} row 2: sample {raw_rows[0]['sample'][:16]!r}… is not a trace "
                         "sample of this record",
                         hint="write the sheet from this record with `aitrace monitor review -o`")
    entries = {t.trace_id: t for t in ref.sample.traces}
    rows: list[ReviewRow] = []
    seen: set[str] = set()
    for i, r in enumerate(raw_rows, start=2):  # row 1 is the header
        where = f"{path} row {i}"
        names.add(r["sample"])
        if len(names) > 1:
            raise InputError(f"{where}: names sample {r['sample'][:16]!r}…, but the sheet "
                             f"started with {ref.sha256[:16]}…", hint="review one sample per "
                                                                        "sheet")
        entry = entries.get(r["trace_id"])
        if entry is None:
            raise InputError(f"{where}: trace {r['trace_id']!r} is not in the sample",
                             hint="the row was changed or added; restore it from the sheet "
                                  "aitrace wrote")
        if r["response_sha256"] != (entry.response_sha256 or ""):
            raise InputError(f"{where}: trace {entry.trace_id} has response sha256 "
                             f"{r['response_sha256'][:16]!r}…, but the sampled digest is "
                             f"{(entry.response_sha256 or '')[:16]}…: the row was changed",
                             hint="restore the row from the sheet aitrace wrote")
        if entry.trace_id in seen:
            raise InputError(f"{where}: trace {entry.trace_id} appears twice",
                             hint="keep one row per sampled output")
        seen.add(entry.trace_id)
        if ref.sample.kept_text:
            for column, sampled in (("prompt", entry.prompt), ("response", entry.response)):
                if column in r and r[column] != (sampled or "").strip():
                    raise InputError(f"{where}: the {column} text is not the sampled "
                                     f"(redacted) {column} of trace {entry.trace_id}",
                                     hint="reviewers fill verdict, appropriate and notes; "
                                          "restore the text from the sheet aitrace wrote")
        notes = redact(r.get("notes", ""))
        rows.append(ReviewRow(trace_id=entry.trace_id,
                              response_sha256=entry.response_sha256 or "",
                              verdict=_verdict(r["verdict"], where),
                              appropriate=_appropriate(r["appropriate"], where),
                              notes=notes.text, redacted=dict(notes.counts)))
    return FilledSheet(path=path, sha256=hashlib.sha256(data).hexdigest(), sample=ref,
                       rows=tuple(rows))


def review_totals(rows: Sequence[ReviewRow]) -> ReviewTotals:
    """Counts and rates of a review (rates over all rows: ``unsure`` is not correct)."""
    n = len(rows)
    correct = sum(1 for r in rows if r.verdict == "correct")
    appropriate = sum(1 for r in rows if r.appropriate)
    return ReviewTotals(rows=n, correct=correct,
                        incorrect=sum(1 for r in rows if r.verdict == "incorrect"),
                        unsure=sum(1 for r in rows if r.verdict == "unsure"),
                        appropriate=appropriate,
                        correct_rate=round(correct / n, 6) if n else 0.0,
                        appropriate_rate=round(appropriate / n, 6) if n else 0.0)


def build_review(sheet: FilledSheet, *, record_id: str, reviewer: str, keyid: str,
                 time: str) -> OutputReview:
    """The review predicate a reviewer signs for a filled sheet."""
    if not reviewer.strip():
        raise InputError("the reviewer name is empty", hint="pass --name 'Name'")
    return OutputReview(format=REVIEW_FORMAT, record_id=record_id,
                        sample_sha256=sheet.sample.sha256, sheet_sha256=sheet.sha256,
                        reviewer=ReviewerRef(name=reviewer.strip(), keyid=keyid), time=time,
                        rows=sheet.rows, totals=review_totals(sheet.rows))
