"""HTML for the auditor's report: one self-contained page, every value escaped.

Bundles are untrusted, so nothing from them reaches the page unescaped: all text goes through
``markup.e`` (``html.escape`` with quotes), attributes take only values we chose, and the page
carries a Content-Security-Policy that forbids scripts and any fetch — even an escaping bug could
not run code or phone home.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aitrace.record.stages import (
    EVIDENCE_CHECKLIST,
    EVIDENCE_ENVIRONMENT,
    EVIDENCE_GX,
    EVIDENCE_RISK,
    EVIDENCE_SBOM,
    get_stage,
)
from aitrace.report.html import markup as h
from aitrace.report.html.evidence import (
    _approvals,
    _artifacts,
    _environment,
    _gx,
    _sbom,
    checklist_tables,
    risk_table,
)
from aitrace.report.text import signer_label
from aitrace.report.view import AuditView, StageView, StepView

# --------------------------------------------------------------------------- page parts


def banner(view: AuditView) -> str:
    """The verdict at the top of the page: the headline and the three separate answers."""
    v = view.verification
    a = v.answers
    if v.performed and v.ok:
        tone = "ok"
    elif v.performed and v.keys_given and not v.authentic:
        tone = "bad"
    else:
        tone = "warn"  # not verified, or trusted content that fails the policy
    icon = {"ok": "✓", "bad": "✗", "warn": "!"}[tone]
    items = "".join(f"<li><strong style='display:inline;font-size:inherit'>{h.e(c.title)}"
                    f"</strong>: {h.e(c.message)}"
                    f"{' (' + h.code(c.member) + ')' if c.member else ''}</li>"
                    for c in v.failed[:12])
    more = f"<li>… and {len(v.failed) - 12} more</li>" if len(v.failed) > 12 else ""
    listing = f"<ul>{items}{more}</ul>" if items else ""
    if v.authentic:
        detail = ("Every signature, digest and chain check passed: the content below is exactly "
                  "what the signer attested."
                  + ("" if v.ok else " It does not meet the policy; the failed checks are "
                     "listed here."))
    elif v.performed and v.keys_given:
        detail = ("Integrity or signature checks failed: the content below is shown for "
                  "investigation only, and nothing in it is vouched for.")
    else:
        detail = "Nothing below is vouched for: no signature was checked."
    answers = ""
    if a is not None:
        rows = [("Integrity and signature", a.integrity, {"trusted": "ok", "untrusted": "bad"}),
                ("Record completeness", a.completeness, {"complete": "ok"}),
                ("Policy", a.policy, {"passed": "ok", "failed": "bad"})]
        answers = ("<table class='answers'><tbody>" + "".join(
            f"<tr><th>{h.e(label)}</th><td>{h.pill(ans.state, tones.get(ans.state, 'warn'))}"
            f"</td><td class='wrap'>{h.e(ans.summary)}</td></tr>"
            for label, ans, tones in rows)
            + f"<tr><th>Checks</th><td></td><td>{h.e(a.counts)}</td></tr></tbody></table>")
    return (f'<div class="banner {tone}" id="verification" role="status">'
            f'<div class="icon">{icon}</div><div><strong>{h.e(v.headline)}</strong>'
            f'<span>{h.e(detail)}</span>{answers}{listing}</div></div>')


def summary_cards(view: AuditView) -> str:
    """Model, record, signers and completeness at a glance."""
    model = view.model
    score = view.completeness.get("score")
    signers = ", ".join(signer_label(s) for s in view.signers) or "unsigned"
    n_steps = len(view.steps) + len(view.unreadable)
    recorded = sum(1 for st in view.stages if st.steps)
    cards = [
        ("Model", h.e(model["name"]) + (f" <span class='muted'>{h.e(model['version'])}</span>"
                                        if model.get("version") else ""),
         (f"sha256 {h.e((model.get('sha256') or '')[:16])}" if model.get("sha256") else "")),
        ("Record", h.e(view.record_name or "—"), h.e(view.record_id or "")),
        ("Stages", f"{recorded} / 10", f"{n_steps} steps" + (
            f", {len(view.unreadable)} unreadable" if view.unreadable else "")),
        ("Completeness", f"{h.e(_score_text(score))}", "expected evidence present"),
    ]
    html = "".join(f'<div class="card"><div class="label">{h.e(label)}</div>'
                   f'<div class="value">{value}</div><div class="sub">{sub}</div></div>'
                   for label, value, sub in cards)
    return (f'<div class="cards">{html}</div>'
            f'<p class="muted">Signed by: <code>{h.e(signers)}</code></p>')


def _score_text(score: Any) -> str:
    if isinstance(score, (int, float)) and not isinstance(score, bool):
        return f"{score:.0f} / 100"
    return "—"


def timeline(view: AuditView) -> str:
    """The ten stages as a timeline: status, when, who, inputs → outputs, badges."""
    items = []
    for st in view.stages:
        sv = st.latest
        status = st.status
        broken = "".join(f'<div class="flow">{h.pill("unreadable", "bad")} '
                         f'{h.e(u.label)} could not be read</div>' for u in st.unreadable)
        if sv is None and st.unreadable_own:
            items.append(f'<li><div class="dot failed">{st.number}</div><div>'
                         f'<div class="name"><a href="#stage-{h.e(st.id)}">{h.e(st.name)}</a>'
                         f'<span class="zh">{h.e(st.name_zh)}</span></div></div>'
                         f'<div>{h.pill("failed", "bad")}{h.trust("failed")}{broken}</div></li>')
            continue
        if sv is None:
            items.append(f'<li><div class="dot missing">{st.number}</div><div>'
                         f'<div class="name">{h.e(st.name)}<span class="zh">{h.e(st.name_zh)}'
                         f'</span></div><div class="when">not recorded</div></div>'
                         f'<div><div class="faint">Expected: {h.e(get_stage(st.id).leaves)}'
                         f'</div>{broken}</div></li>')
            continue
        s = sv.step
        ins = [a for a, _ in st.inputs()] or list(s.materials)
        outs = [a for a, _ in st.outputs()] or list(s.products)
        flow_in = ", ".join(f"{h.code(a.path)} {h.sha(a.sha256 or a.dirHash, 8)}"
                            for a in ins[:4])
        flow_in += " …" if len(ins) > 4 else ""
        flow_out = ", ".join(f"{h.code(a.path)} {h.sha(a.sha256 or a.dirHash, 8)}"
                             for a in outs[:4])
        flow_out += " …" if len(outs) > 4 else ""
        badges = "".join(h.pill(t, tone) for t, tone in st.badges())
        runs = f" · {len(st.steps)} steps" if len(st.steps) > 1 else ""
        status_pill = h.pill(status, "bad" if status == "failed" else "ok")
        items.append(
            f'<li><div class="dot {status}">{st.number}</div><div>'
            f'<div class="name"><a href="#stage-{h.e(st.id)}">{h.e(st.name)}</a>'
            f'<span class="zh">{h.e(st.name_zh)}</span></div>'
            f'<div class="when">{h.e(h.when(s.ended_at))} · {h.e(s.actor.user)}@{h.e(s.actor.host)}'
            f'{h.e(runs)}</div></div><div>{status_pill}{h.trust(st.trust)}{badges}'
            f'<div class="flow">{flow_in or "<span class=faint>no inputs</span>"} → '
            f'{flow_out or "<span class=faint>no outputs</span>"}</div>{broken}</div></li>')
    return f'<ol class="timeline">{"".join(items)}</ol>'




def stage_section(st: StageView, view: AuditView) -> str:
    """One stage: its steps, and the latest step in detail with all its evidence."""
    info = get_stage(st.id)
    status_tone = {"missing": "none", "failed": "bad"}.get(st.status, "ok")
    has_steps = bool(st.steps or st.unreadable)
    head = (f'<div class="stage-head"><h3><span class="stage-num">{st.number}</span>'
            f'{h.e(st.name)}<span class="zh">{h.e(st.name_zh)}</span></h3>'
            f'<div>{h.pill(st.status, status_tone)}'
            f'{h.trust(st.trust) if has_steps else ""}</div></div>'
            f'<p class="leaves">Should leave behind: {h.e(info.leaves)}</p>')
    broken = [f'<div class="unreadable">{h.pill("cannot be read", "bad")} '
              f'<strong>{h.e(u.label)}</strong> is in the bundle but could not be read, so '
              f'nothing it records is shown: {h.e(u.problem)}</div>' for u in st.unreadable]
    if not st.steps and not broken:
        return (f'<section class="panel" id="stage-{h.e(st.id)}">{head}'
                '<p class="faint">No step of this stage is in the record.</p></section>')
    details = [(sv.step.seq, _step_detail(sv, len(st.steps) > 1)) for sv in st.steps]
    details += [(u.seq, b) for u, b in zip(st.unreadable, broken, strict=True)]
    body = [head] + [html for _seq, html in sorted(details, key=lambda x: x[0])]
    cls = {"failed": "untrusted", "unverified": "unverified"}.get(st.trust, "")
    return f'<section class="panel {cls}" id="stage-{h.e(st.id)}">{"".join(body)}</section>'


def _step_detail(sv: StepView, rerun: bool) -> str:
    s = sv.step
    out = [f'<div class="step-head"><span class="step-no">step {h.e(s.seq)}</span>'
           f'{h.pill(s.status, "ok" if s.status == "succeeded" else "bad")}'
           f'{h.trust(sv.trust)}<span class="muted">{h.e(h.when(s.started_at))} → '
           f'{h.e(h.when(s.ended_at))} · {h.e(s.actor.user)}@{h.e(s.actor.host)}</span>'
           f'<span class="faint">digest {h.sha(s.digest)}</span></div>']
    if s.description:
        out.append(f"<p>{h.e(s.description)}</p>")
    if s.error:
        out.append(f"<p>{h.pill('error', 'bad')} {h.e(s.error)}</p>")
    if s.command is not None:
        argv = " ".join(h.shell_quote(a) for a in s.command.argv)
        exit_code = "" if s.command.exit_code is None else f"  # exit {s.command.exit_code}"
        out.append(f"<h4>Command</h4><pre class='cmd'>{h.e(argv + exit_code)}</pre>")
        if s.command.script is not None:
            out.append(f"<p class='muted'>Script {h.code(s.command.script.path)} "
                       f"sha256 {h.sha(s.command.script.sha256, 16)} (as the step started)</p>")
    out.append(_environment(s, sv.facts(EVIDENCE_ENVIRONMENT)))
    if s.materials:
        out.append("<h4>Inputs</h4>" + _artifacts(s.materials))
    if s.products:
        out.append("<h4>Outputs</h4>" + _artifacts(s.products))
    if s.mlflow:
        out.append("<h4>MLflow runs</h4>" + h.table(("run id", "name", "experiment", "role",
                                                   "tracking URI", "data digest"), [
            (h.code(m.run_id), h.e(m.run_name or ""), h.e(m.experiment_id), h.e(m.role),
             h.any_wrap(m.tracking_uri), h.sha(m.data_sha256)) for m in s.mlflow]))
    if s.params or s.metrics:
        params = h.table(("parameter", "value"), [(h.code(k), h.any_wrap(v)) for k, v in
                                                 sorted(s.params.items())])
        metrics = h.table(("metric", "value"), [(h.code(k), h.num(v)) for k, v in
                                               sorted(s.metrics.items())])
        out.append(f"<div class='cols'><div><h4>Parameters</h4>{params}</div>"
                   f"<div><h4>Metrics</h4>{metrics}</div></div>")
    for e in sv.evidence:
        facts = e.facts or {}
        if not e.present:
            out.append(f"<h4>{h.e(e.ref.kind)}</h4><p>{h.pill('missing from bundle', 'bad')} "
                       f"evidence {h.sha(e.ref.sha256)} is referenced but not present.</p>")
            continue
        trust = "" if e.trust == sv.trust else h.trust(e.trust)
        subject = ""
        if e.ref.subject is not None:
            bound = h.pill("bound to the step's data", "ok") if e.ref.bound else h.pill(
                "subject not among the step's inputs/outputs", "warn")
            subject = (f"<p class='muted'>About {h.code(e.ref.subject.path)} "
                       f"{h.sha(e.ref.subject.sha256)} {bound}</p>")
        if e.ref.kind == EVIDENCE_GX:
            out.append(f"<h4>Data quality (Great Expectations) {trust}</h4>{subject}"
                       + _gx(facts))
        elif e.ref.kind == EVIDENCE_SBOM:
            out.append(f"<h4>SBOM {trust}</h4>" + _sbom(facts))
        elif e.ref.kind == EVIDENCE_RISK:
            out.append(f"<h4>Risk register {trust}</h4>" + (
                risk_table(facts["register"]) if "register" in facts
                else f"<p class='faint'>{h.e(facts.get('error', 'not readable'))}</p>"))
        elif e.ref.kind == EVIDENCE_CHECKLIST:
            out.append(f"<h4>Self-check table 表1 {trust}</h4>" + (
                checklist_tables(facts["table"]) if "table" in facts
                else f"<p class='faint'>{h.e(facts.get('error', 'not readable'))}</p>"))
    others = [e for e in sv.evidence if e.ref.kind not in (
        EVIDENCE_GX, EVIDENCE_SBOM, EVIDENCE_RISK, EVIDENCE_CHECKLIST, EVIDENCE_ENVIRONMENT)]
    if others:
        out.append("<h4>Evidence objects</h4>" + h.table(("kind", "name", "sha256", "size",
                                                         "summary"), [
            (h.e(e.ref.kind), h.e(e.ref.name or ""), h.sha(e.ref.sha256), h.e(h.size(e.ref.size)),
             h.any_wrap(h.summary(e.ref.summary))) for e in others]))
    if sv.approvals:
        out.append("<h4>Approvals</h4>" + _approvals(sv.approvals))
    return "".join(out)




def completeness_section(view: AuditView) -> str:
    """The 0–100 score, per stage, and what is missing."""
    c = view.completeness
    score = c.get("score")
    pct = float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else 0
    per_stage = c.get("per_stage") or {}
    rows = []
    for st in view.stages:
        entry = per_stage.get(st.id)
        if isinstance(entry, Mapping):
            present = entry.get("present") or []
            missing = entry.get("missing") or []
            # aitrace.record.completeness's weighting: one point for the step, one per item
            frac = 0.0 if entry.get("status") == "missing" else (
                100 * (1 + len(present)) / (1 + len(present) + len(missing)))
            rows.append((f"{st.number}. {h.e(st.name)}",
                         f'<span class="minibar"><span style="width:{float(frac):.0f}%">'
                         f'</span></span>{float(frac):.0f}%',
                         h.e(", ".join(map(str, present))),
                         h.e(", ".join(map(str, missing))) or h.pill("complete", "ok")))
    missing_list = c.get("missing") or []
    items = "".join(f"<li>{h.e(_missing_text(m))}</li>" for m in missing_list[:60])
    return (f'<div class="score"><div class="big">{h.e(_score_text(score))}</div>'
            f'<div class="bar"><span style="width:{max(0.0, min(pct, 100.0)):.0f}%"></span>'
            f'</div></div>'
            + h.table(("stage", "score", "present", "missing"), rows)
            + (f"<h4>Missing evidence</h4><ul>{items}</ul>" if items else ""))


def _missing_text(m: Any) -> str:
    if isinstance(m, Mapping):
        return " — ".join(str(v) for v in m.values() if v)
    return str(m)


def annex_section(rows: Sequence[Mapping[str, Any]]) -> str:
    """The evidence map to EU AI Act Annex IV headings."""
    tone = {"covered": "ok", "partial": "warn", "missing": "bad"}
    body = []
    for r in rows:
        evidence = "".join(f"<li>{h.e(x)}</li>" for x in r["evidence"])
        missing = "".join(f"<li>{h.e(x)}</li>" for x in r["missing"])
        body.append((
            f"<strong>{h.e(r['number'])}. {h.e(r['heading'])}</strong>"
            f"<div class='faint'>{h.e(r['asks'])}</div>",
            h.pill(r["status"], tone[r["status"]]),
            (f"<ul>{evidence}</ul>" if evidence else "<span class='faint'>none</span>")
            + (f"<div class='muted'>Missing:</div><ul>{missing}</ul>" if missing else "")))
    return (
        "<p class='note'><strong>Not a compliance statement.</strong> This map shows which "
        "evidence in this record relates to each heading of the technical documentation listed "
        "in Annex IV of the EU AI Act (Regulation (EU) 2024/1689). It is an aid for a reviewer, "
        "not an assessment: aitrace does not and cannot determine whether the documentation is "
        "sufficient or whether the system complies.</p>"
        + h.table(("Annex IV heading", "in the record", "evidence held · missing"), body, "annex"))


def page(view: AuditView, *, lineage: str, annex: Sequence[Mapping[str, Any]],
         generated_at: str, version: str) -> str:
    """The whole report page."""
    title = f"aitrace report — {view.record_name or view.model['name']}"
    risk = view.evidence_of(EVIDENCE_RISK)
    check = view.evidence_of(EVIDENCE_CHECKLIST)
    governance = []
    if risk and risk[-1][1].facts and "register" in risk[-1][1].facts:
        governance.append("<h3>Risk register</h3>" + risk_table(risk[-1][1].facts["register"]))
    else:
        governance.append("<h3>Risk register</h3><p>" + h.pill("missing", "bad")
                          + " No risk register is recorded "
                          "(<code>aitrace assess risk</code>).</p>")
    if check and check[-1][1].facts and "table" in check[-1][1].facts:
        governance.append("<h3>Self-check table 表1</h3>"
                          + checklist_tables(check[-1][1].facts["table"]))
    else:
        governance.append("<h3>Self-check table 表1</h3><p>" + h.pill("missing", "bad")
                          + " No self-check table is recorded "
                          "(<code>aitrace assess checklist</code>).</p>")
    governance.append("<h3>Approvals</h3>" + (_approvals(view.approvals) if view.approvals else
                      "<p>" + h.pill("none", "warn") + " No reviewer has signed off any "
                      "stage (<code>aitrace approve</code>).</p>"))
    failed = view.verification.failed
    checks = h.table(("check", "status", "message", "member"), [
        (h.e(c.title), h.pill(c.status, {"passed": "ok", "failed": "bad"}.get(c.status, "none")),
         h.e(c.message), h.code(c.member) if c.member else "") for c in view.verification.checks])
    licences = h.table(("artifact / component", "what", "stage", "licence", "trust"), [
        (h.code(x["name"]), h.e(x["what"]), h.e(x["stage"]),
         h.e(x["license"]) if x["license"] else h.pill("unknown", "warn"), h.trust(x["trust"]))
        for x in view.licences()])
    stages = "".join(stage_section(st, view) for st in view.stages)
    after = _after_deployment(view)
    toc = "".join(f'<a href="#{a}">{h.e(t)}</a>' for a, t in (
        ("overview", "Overview"), ("lineage", "Lineage"), ("stages", "Stages"),
        ("monitoring", "After deployment"), ("governance", "Governance"),
        ("completeness", "Completeness"), ("annex-iv", "Annex IV map"), ("checks", "Checks")))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{h.e(h.CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="aitrace {h.e(version)}">
<title>{h.e(title)}</title>
<style>{_css()}</style>
</head>
<body>
<main>
<header class="top"><div><div class="kicker">AI production record · AI 生產履歷</div>
<h1>{h.e(view.record_name or view.model['name'])}</h1>
<div class="muted">Bundle <code>{h.e(view.label)}</code></div></div>
<div class="meta">Generated {h.e(generated_at)}<br>aitrace {h.e(version)}
{('<br>policy ' + h.code(view.policy)) if view.policy else ''}</div></header>
{banner(view)}
<nav class="toc">{toc}</nav>
<h2 class="first" id="overview">Overview</h2>
{summary_cards(view)}
{timeline(view)}
<h2 id="lineage">Lineage</h2>
<p class="muted">Latest step of each stage. Solid arrows: a stage produced the artifact.
Dashed arrows: a later stage consumed exactly those bytes (same sha256). Grey dashed boxes are
declared external sources; red ones are inputs no recorded step produced.</p>
<div class="lineage">{lineage}</div>
<h2 id="stages">The ten stages</h2>
{stages}
<h2 id="monitoring">After deployment: monitoring 監控</h2>
{after}
<h2 id="governance">Governance evidence</h2>
<section class="panel">{''.join(governance)}</section>
<h2 id="licences">Licences</h2>
<section class="panel">{licences}</section>
<h2 id="completeness">Completeness</h2>
<section class="panel">{completeness_section(view)}</section>
<h2 id="annex-iv">Evidence map: EU AI Act Annex IV</h2>
<section class="panel">{annex_section(annex)}</section>
<h2 id="checks">Verification checks</h2>
<section class="panel">{checks if view.verification.checks else
    '<p>' + h.pill('not run', 'warn') + ' No verification was performed.</p>'}
{'' if not failed else f'<p>{len(failed)} check(s) failed.</p>'}</section>
<footer>Generated by aitrace {h.e(version)} from <code>{h.e(view.label)}</code>. This page is
self-contained: no scripts, fonts, images or network requests. Values from the bundle are
shown as recorded; trust labels say whether verification vouches for them.</footer>
</main>
</body>
</html>
"""


def _after_deployment(view: AuditView) -> str:
    """The monitoring section, then each post-deployment stage's steps in detail."""
    from aitrace.report.html.monitoring import monitoring_section

    body = f'<section class="panel">{monitoring_section(view)}</section>'
    return body + "".join(stage_section(st, view) for st in view.post_deployment if st.steps)


def _css() -> str:
    from aitrace.report.html.css import CSS

    return CSS


