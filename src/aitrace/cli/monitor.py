"""After deployment: ``monitor traces``, ``monitor review`` and ``monitor feedback``.

Each records one step of the post-deployment stage ``monitoring``. ``traces`` reads the
application's own MLflow (read-only); ``review`` writes a review sheet (``-o``) or records a
filled one signed by the reviewer (``--file --key``); ``feedback`` records user-reported
problems from the command line or a ticket export (``--file``). Text from users or the model is
redacted before anything is written; without ``--keep-text`` no prompt text is kept at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from aitrace.cli._common import emit_json, short
from aitrace.cli.options import Passphrases, json_option, passphrase_option

_FILE = click.Path(dir_okay=False, path_type=Path)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing"


def _step_json(step: Any, ref: Any) -> dict[str, Any]:
    return {"step": {"seq": step.seq, "id": step.id, "stage": step.stage,
                     "digest": step.digest},
            "evidence": {"kind": ref.kind, "sha256": ref.sha256, "size": ref.size,
                         "summary": dict(ref.summary)}}


@click.group("monitor", short_help="Record monitoring after deployment: traces, review, "
                                   "feedback.")
def monitor_group() -> None:
    """Record what happens to the model in use (the post-deployment stage 'monitoring')."""


@monitor_group.command("traces")
@click.option("--tracking-uri", required=True, metavar="URI",
              help="The application's MLflow tracking URI (read, never written).")
@click.option("--experiment", required=True, metavar="NAME",
              help="The MLflow experiment the application logs its traces to.")
@click.option("--since", default="7d", show_default=True, metavar="DURATION|TIME",
              help="Start of the window: 90m, 12h, 7d, 2w back from now, or a time.")
@click.option("--until", "until", metavar="TIME", help="End of the window (default: now).")
@click.option("--sample", "size", type=int, default=20, show_default=True,
              help="How many traces to keep (the first N by sha256 of the trace id).")
@click.option("--keep-text", is_flag=True,
              help="Keep prompt and response text, redacted (default: digests only).")
@json_option
def traces_cmd(tracking_uri: str, experiment: str, since: str, until: str | None, size: int,
               keep_text: bool, as_json: bool) -> None:
    """Sample the application's MLflow traces as evidence: ids, times, latency, digests."""
    from datetime import UTC, datetime

    from aitrace.evidence.monitoring.record import record_traces
    from aitrace.evidence.monitoring.traces import parse_since, sample_traces
    from aitrace.record.times import parse_instant
    from aitrace.store.workspace import Workspace

    ws = Workspace.find()
    end = parse_instant(until, what="--until") if until else datetime.now(UTC)
    sample = sample_traces(tracking_uri, experiment, since=parse_since(since, end), until=end,
                           size=size, keep_text=keep_text)
    step, ref = record_traces(ws, sample)
    if as_json:
        emit_json(_step_json(step, ref))
        return
    kept = (f"redacted text kept (removed: {_counts(dict(sample.redacted))})"
            if keep_text else "digests only, no text")
    click.echo(f"Recorded {len(sample.traces)} of {sample.population.traces} traces of "
               f"'{experiment}' ({sample.window.since[:19]} → {sample.window.until[:19]}) on "
               f"step {step.seq} (monitoring): {kept}; evidence {short(ref.sha256)}")


@monitor_group.command("review")
@click.option("--sample", "size", type=int, default=20, show_default=True,
              help="With -o: how many sampled outputs the sheet lists.")
@click.option("-o", "--output", type=_FILE, help="Write a review sheet (CSV) to fill in.")
@click.option("--tracking-uri", metavar="URI",
              help="With -o, when the sample kept no text: read it (redacted) from here.")
@click.option("--file", "-f", "file", type=_FILE, help="Record this filled review sheet.")
@click.option("--key", "-k", "key", type=_FILE, help="With --file: the reviewer's private key.")
@click.option("--name", "--reviewer", "name", help="With --file: who reviewed.")
@passphrase_option
@json_option
def review_cmd(size: int, output: Path | None, tracking_uri: str | None, file: Path | None,
               key: Path | None, name: str | None, passphrases: Passphrases,
               as_json: bool) -> None:
    """Write a review sheet of sampled outputs (-o), or record a filled one, signed (--file)."""
    from aitrace.errors import InputError
    from aitrace.store.workspace import Workspace

    if (output is None) == (file is None):
        raise InputError("give either -o SHEET.csv (write a sheet) or --file SHEET.csv "
                         "(record a filled one)", hint="see aitrace monitor review --help")
    ws = Workspace.find()
    if output is not None:
        _write_sheet(ws, output, size, tracking_uri, as_json)
        return
    if key is None or not (name or "").strip():
        raise InputError("recording a review needs the reviewer's --key and --name",
                         hint="aitrace monitor review --file sheet.csv --key reviewer.key "
                              "--name 'Name'")
    from aitrace.signing.keys import load_signer
    from aitrace.signing.reviews import record_signed_review

    assert file is not None  # noqa: S101 - checked above
    signer = load_signer(key, passphrases.for_key(key))
    step, ref, review = record_signed_review(ws, file, signer, name or "")
    if as_json:
        emit_json(_step_json(step, ref))
        return
    t = review.totals
    click.echo(f"Recorded the review of {t.rows} outputs by {review.reviewer.name} on step "
               f"{step.seq} (monitoring): {t.correct_rate:.0%} correct, "
               f"{t.appropriate_rate:.0%} appropriate; signed by key "
               f"{short(signer.keyid, 16)}")


def _write_sheet(ws: Any, output: Path, size: int, tracking_uri: str | None,
                 as_json: bool) -> None:
    from aitrace.evidence.monitoring.record import workspace_samples
    from aitrace.evidence.monitoring.review import latest_sample, sheet_rows, write_sheet

    ref = latest_sample(workspace_samples(ws))
    contents = None
    if not ref.sample.kept_text and tracking_uri:
        from aitrace.evidence.monitoring.traces import read_contents

        contents = read_contents(tracking_uri, [t.trace_id for t in ref.sample.traces[:size]])
    rows = sheet_rows(ref, size, contents)
    write_sheet(output, rows)
    if as_json:
        emit_json({"sheet": str(output), "rows": len(rows), "sample": ref.sha256,
                   "step": ref.step.seq})
        return
    note = "" if ref.sample.kept_text or contents else (
        " (the sample kept no text: pass --tracking-uri to show it, redacted)")
    click.echo(f"Wrote {output}: {len(rows)} sampled outputs of step {ref.step.seq} to review"
               f"{note}. Fill verdict (correct/incorrect/unsure), appropriate (yes/no) and "
               "notes, then: aitrace monitor review --file " + str(output)
               + " --key REVIEWER.key --name NAME")


@monitor_group.command("feedback")
@click.option("--category", type=click.Choice(["accuracy", "safety", "privacy", "ip",
                                               "fairness", "other"]))
@click.option("--severity", type=click.Choice(["low", "medium", "high"]))
@click.option("--text", help="What the user reported (redacted before it is recorded).")
@click.option("--status", type=click.Choice(["open", "resolved"]), default="open",
              show_default=True)
@click.option("--ref", help="With --status resolved: the id of the entry it resolves.")
@click.option("--id", "entry_id", help="The entry's id (default: derived from its content).")
@click.option("--file", "-f", "file", type=_FILE,
              help="A ticket export (CSV: id, time, category, severity, status, text, ref).")
@json_option
def feedback_cmd(category: str | None, severity: str | None, text: str | None, status: str,
                 ref: str | None, entry_id: str | None, file: Path | None,
                 as_json: bool) -> None:
    """Record user-reported problems, redacted and linked to the release."""
    from aitrace.errors import InputError
    from aitrace.evidence.monitoring.feedback import by_id, make_entry, read_feedback_csv
    from aitrace.evidence.monitoring.record import record_feedback, recorded_feedback
    from aitrace.store.workspace import Workspace

    ws = Workspace.find()
    known = by_id(recorded_feedback(ws))
    if file is not None:
        if text is not None:
            raise InputError("--file and --text exclude each other", hint="choose one")
        entries = read_feedback_csv(file, known)
        source = file.name
    else:
        if not text:
            raise InputError("no feedback given", hint="pass --text '…' with --category and "
                                                       "--severity, or --file export.csv")
        entries = [make_entry(text=text, category=category, severity=severity, status=status,
                              ref=ref, id=entry_id, known=known, where="--text")]
        source = "command line"
    step, evidence, doc = record_feedback(ws, entries, source=source, source_file=file)
    if as_json:
        emit_json({**_step_json(step, evidence), "ids": [e.id for e in entries]})
        return
    redacted: dict[str, int] = {}
    for e in entries:
        for k, v in e.redacted.items():
            redacted[k] = redacted.get(k, 0) + v
    rel = f" for release step {doc.release.seq}" if doc.release else ""
    click.echo(f"Recorded {len(entries)} feedback entr{'y' if len(entries) == 1 else 'ies'}"
               f"{rel} on step {step.seq} (monitoring): "
               + ", ".join(f"{e.id} {e.severity} {e.category} {e.status}" for e in entries[:5])
               + (" …" if len(entries) > 5 else "")
               + (f"; redacted {_counts(redacted)}" if redacted else ""))
