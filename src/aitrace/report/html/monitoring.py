"""HTML of the "After deployment" section: the monitoring timeline, reviews, feedback, freshness.

Drawn from ``AuditView.monitoring`` (``aitrace.report.monitoring.monitoring_view``): counts,
rates, ids and digests only — the report never shows prompt, response, note or feedback text.
Every value goes through ``markup.e``.
"""

from __future__ import annotations

from typing import Any

from aitrace.report.html import markup as h
from aitrace.report.view import AuditView


def _rate(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return h.e(f"{value:.0%}")
    return "—"


def _volume_svg(traces: list[dict[str, Any]]) -> str:
    """Trace volume per sample as a small bar chart (inline SVG, no script)."""
    if not traces:
        return ""
    peak = max((t["traces"] for t in traces), default=0) or 1
    width, bar, gap, height = 24 * len(traces) + 8, 16, 8, 64
    bars = []
    for i, t in enumerate(traces):
        tall = max(2, int((height - 16) * t["traces"] / peak))
        x = 8 + i * (bar + gap)
        bars.append(f'<rect x="{x}" y="{height - tall}" width="{bar}" height="{tall}" '
                    f'fill="#4c7bd9"><title>{h.e(t["time"])}: {h.e(t["traces"])} traces'
                    f'</title></rect>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" aria-label="trace volume per sample">{"".join(bars)}</svg>')


def monitoring_section(view: AuditView) -> str:
    """The whole section (a note when nothing was recorded after deployment)."""
    m = view.monitoring
    if not m:
        return ("<p>" + h.pill("none", "warn") + " Nothing is recorded after deployment: no "
                "trace samples, reviews, user feedback or drift checks "
                "(<code>aitrace monitor</code>).</p>")
    rel = m.get("release")
    head = (f"<p class='muted'>{h.e(m['steps'])} monitoring step(s)"
            + (f" since the release, step {h.e(rel['step'])} ({h.e(rel['stage'])}, "
               f"{h.e(h.when(rel['time']))})" if rel else "") + ".</p>")
    tone = {"ok": "ok", "bad": "bad", "warn": "warn"}
    events = "".join(
        f'<li><div class="dot recorded">{h.e(ev["step"])}</div><div><div class="name">'
        f'{h.e(ev["kind"])}</div><div class="when">{h.e(h.when(ev["time"]))}</div></div>'
        f'<div>{h.pill(ev["kind"], tone.get(ev["tone"], "info"))} {h.e(ev["text"])}</div></li>'
        for ev in m["events"])
    parts = [head, f'<ol class="timeline">{events}</ol>']
    traces = m["traces"]
    if traces:
        parts.append("<h4>Trace volume</h4>" + _volume_svg(traces) + h.table(
            ("step", "window", "traces", "sampled", "not OK", "p95 latency ms", "tokens",
             "text kept", "redacted"),
            [(h.e(t["step"]), h.e(f"{h.when(t['since'])} → {h.when(t['until'])}"),
              h.num(t["traces"]), h.num(t["sampled"]), h.num(t["errors"]),
              h.num(t["latency_ms_p95"]) if t["latency_ms_p95"] is not None else "—",
              h.num(t["tokens"]) if t["tokens"] is not None else "—",
              h.e("redacted" if t["kept_text"] else "no (digests only)"),
              h.e(", ".join(f"{k} {v}" for k, v in t["redacted"].items()) or "—"))
             for t in traces]))
    if m["reviews"]:
        parts.append("<h4>Human review of outputs</h4>" + h.table(
            ("step", "when", "reviewer", "outputs", "correct", "appropriate", "signature"),
            [(h.e(r["step"]), h.e(h.when(r["time"])), h.e(r["reviewer"]), h.num(r["rows"]),
              _rate(r["correct_rate"]), _rate(r["appropriate_rate"]),
              h.pill("verified", "ok") if r["signature_ok"] else
              h.pill("not verified", "warn") + " " + h.e(r["signature"]))
             for r in m["reviews"]]))
    fb = m["feedback"]
    if fb["entries"]:
        parts.append(f"<h4>User feedback</h4><p>{h.e(fb['entries'])} entries, "
                     f"{h.e(fb['open'])} open, {h.e(fb['open_high'])} open with high severity."
                     "</p>" + h.table(
                         ("category", "severity", "open", "resolved", "resolutions"),
                         [(h.e(g["category"]), h.pill(g["severity"], "bad" if g["severity"] ==
                                                      "high" else "info"),
                           h.num(g["open"]), h.num(g["resolved"]), h.num(g["resolution"]))
                          for g in fb["groups"]]))
    if m["drift"]:
        parts.append("<h4>Drift and data checks</h4>" + h.table(
            ("step", "when", "data", "result"),
            [(h.e(d["step"]), h.e(h.when(d["time"])), h.code(d["data"]),
              h.pill({True: "passed", False: "failed"}.get(d["success"], "unreadable"),
                     {True: "ok", False: "bad"}.get(d["success"], "warn")))
             for d in m["drift"]]))
    if m["metrics"]:
        parts.append("<h4>Latest monitoring metrics</h4>" + h.table(
            ("metric", "value", "step"),
            [(h.code(k), h.num(v["value"]), h.e(v["step"])) for k, v in m["metrics"].items()]))
    fresh = m["freshness"]
    if fresh:
        parts.append("<h4>Freshness against the policy</h4>" + h.table(
            ("check", "result", "detail"),
            [(h.e(c["title"]), h.pill(c["status"], {"passed": "ok", "failed": "bad"}.get(
                c["status"], "warn")), h.e(c["message"])) for c in fresh]))
    else:
        parts.append("<p class='faint'>The policy has no monitoring section, so freshness "
                     "was not judged.</p>")
    if m["problems"]:
        parts.append("<h4>Unreadable monitoring evidence</h4><ul>"
                     + "".join(f"<li>{h.e(p)}</li>" for p in m["problems"]) + "</ul>")
    return "".join(parts)
