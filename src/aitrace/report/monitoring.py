"""The auditor's view of what happened after deployment: a monitoring timeline and freshness.

``monitoring_view`` turns the record's monitoring steps (``aitrace.evidence.monitoring
.timeline``) into plain data for ``inspect``, ``report`` and the Annex IV map: trace volume per
sample, review rates (and whether each review's signature verifies under the given keys), user
feedback by category, severity and status, drift checks, the latest monitoring metrics, and the
freshness checks of the policy (``policy.monitoring.*``). It holds counts, rates, ids and
digests — never prompt, response, note or feedback text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aitrace.record.models import Step

Reader = Callable[[str], bytes | None]


def _review_status(envelope: bytes, keys: Sequence[Any]) -> tuple[bool, str]:
    from aitrace.signing.reviews import verify_review

    if not keys:
        return False, "no key given to check the reviewer's signature"
    check = verify_review(envelope, keys)
    return check.ok, "signature verified" if check.ok else (check.problem or "not verified")


def monitoring_view(steps: Sequence[Step], read: Reader, keys: Sequence[Any] = (),
                    freshness: Sequence[Any] = ()) -> dict[str, Any] | None:
    """The monitoring section's data, or ``None`` when nothing was recorded after deployment.

    ``freshness`` are the verification checks whose id starts with ``policy.monitoring``.
    """
    from aitrace.evidence.monitoring.timeline import monitoring_timeline

    mon = monitoring_timeline(steps, read)
    if mon.empty:
        return None
    events: list[dict[str, Any]] = []
    traces = []
    for p in mon.traces:
        pop = p.sample.population
        row = {"time": p.time, "step": p.step.seq, "experiment": p.sample.source.experiment_name,
               "since": p.sample.window.since, "until": p.sample.window.until,
               "traces": pop.traces, "sampled": len(p.sample.traces),
               "errors": sum(v for k, v in pop.by_state.items() if k != "OK"),
               "latency_ms_p95": pop.latency_ms_p95, "tokens": pop.tokens.total_tokens,
               "kept_text": p.sample.kept_text, "redacted": dict(p.sample.redacted)}
        traces.append(row)
        events.append({"time": p.time, "step": p.step.seq, "kind": "traces", "tone": "info",
                       "text": f"{len(p.sample.traces)} of {pop.traces} traces sampled"})
    reviews = []
    for r in mon.reviews:
        ok, status = _review_status(r.envelope, keys)
        t = r.review.totals
        reviews.append({"time": r.time, "step": r.step.seq, "reviewer": r.review.reviewer.name,
                        "keyid": r.review.reviewer.keyid, "rows": t.rows,
                        "correct_rate": t.correct_rate, "appropriate_rate": t.appropriate_rate,
                        "signature_ok": ok, "signature": status})
        events.append({"time": r.time, "step": r.step.seq, "kind": "review",
                       "tone": "ok" if ok else "warn",
                       "text": f"{t.rows} outputs reviewed: {t.correct_rate:.0%} correct, "
                               f"{t.appropriate_rate:.0%} appropriate"})
    entries = mon.entries()
    still_open = {e.id for e in mon.open_feedback()}
    groups: dict[tuple[str, str], dict[str, int]] = {}
    for e in entries:
        g = groups.setdefault((e.category, e.severity), {"open": 0, "resolved": 0,
                                                         "resolution": 0})
        if e.status == "resolved":
            g["resolution"] += 1
        elif e.id in still_open:
            g["open"] += 1
        else:
            g["resolved"] += 1
    for f in mon.feedback:
        n = len(f.feedback.entries)
        events.append({"time": f.time, "step": f.step.seq, "kind": "feedback",
                       "tone": "warn" if any(e.severity == "high" and e.id in still_open
                                             for e in f.feedback.entries) else "info",
                       "text": f"{n} feedback entr{'y' if n == 1 else 'ies'} "
                               f"({f.feedback.source})"})
    drift = []
    for d in mon.drift:
        what = d.ref.subject.path if d.ref.subject else (d.ref.name or d.ref.sha256[:12])
        drift.append({"time": d.time, "step": d.step.seq, "data": what, "success": d.success})
        events.append({"time": d.time, "step": d.step.seq, "kind": "drift",
                       "tone": "warn" if d.success is None else ("ok" if d.success else "bad"),
                       "text": f"data check of {what}: " + (
                           "unreadable" if d.success is None else
                           ("passed" if d.success else "failed"))})
    rel = mon.release
    return {
        "release": ({"step": rel.seq, "stage": rel.stage, "time": rel.ended_at}
                    if rel is not None else None),
        "steps": len(mon.steps),
        "events": sorted(events, key=lambda x: (x["step"], x["kind"])),
        "traces": traces, "reviews": reviews, "drift": drift,
        "feedback": {
            "entries": len(entries), "open": len(still_open),
            "open_high": sum(1 for e in entries if e.id in still_open and e.severity == "high"),
            "groups": [{"category": c, "severity": s, **v}
                       for (c, s), v in sorted(groups.items())],
            "list": [{"id": e.id, "time": e.time, "category": e.category,
                      "severity": e.severity, "status": e.status, "ref": e.ref,
                      "open": e.id in still_open} for e in entries],
        },
        "metrics": {k: {"value": v, "step": s.seq} for k, (s, v) in sorted(mon.metrics().items())},
        "freshness": [{"id": c.id, "title": c.title, "status": c.status, "message": c.message}
                      for c in freshness],
        "problems": list(mon.problems),
    }


def monitoring_lines(data: dict[str, Any] | None, clean: Callable[[object], str]) -> list[str]:
    """The terminal lines of the monitoring section (``inspect``)."""
    if not data:
        return []
    rel = data.get("release")
    head = f"After deployment ({data['steps']} monitoring step(s)"
    head += f", since release step {rel['step']})" if rel else ")"
    lines = ["", head]
    for ev in data["events"]:
        lines.append(f"  step {ev['step']:>3}  {clean(ev['time'][:19]).replace('T', ' ')}  "
                     f"{ev['kind']:<8} {clean(ev['text'])}")
    fb = data["feedback"]
    if fb["entries"]:
        lines.append(f"  feedback: {fb['entries']} entries, {fb['open']} open "
                     f"({fb['open_high']} high)")
    for c in data["freshness"]:
        mark = {"passed": "✓", "failed": "✗"}.get(c["status"], "-")
        lines.append(f"  {mark} {clean(c['title'])}: {clean(c['message'])}")
    return lines
