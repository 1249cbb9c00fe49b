"""HTML for the auditor's report: one self-contained page, every value escaped.

Bundles are untrusted, so nothing from them reaches the page unescaped: all text goes through
``_e`` (``html.escape`` with quotes), attributes take only values we chose, and the page carries
a Content-Security-Policy that forbids scripts and any fetch — even an escaping bug could not
run code or phone home.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from aitrace.evidence.governance.models import (
    READINESS_ASPECT_LABELS,
    READINESS_ASPECTS,
    READINESS_LABELS,
    RISK_LABELS,
    ROUTE_LABELS,
    STRATEGY_LABELS,
    STRATEGY_STATUS_LABELS,
)
from aitrace.record.stages import (
    EVIDENCE_CHECKLIST,
    EVIDENCE_ENVIRONMENT,
    EVIDENCE_GX,
    EVIDENCE_RISK,
    EVIDENCE_SBOM,
    get_stage,
)
from aitrace.report.view import AuditView, StageView, StepView

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
MAX_LIBRARIES = 400


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _pill(text: str, tone: str) -> str:
    tone = tone if tone in ("ok", "bad", "warn", "info", "none") else "info"
    return f'<span class="pill {tone}">{_e(text)}</span>'


def _code(value: object) -> str:
    return f"<code>{_e(value)}</code>"


def _sha(value: str | None, n: int = 12) -> str:
    if not value:
        return '<span class="faint">—</span>'
    return f'<code title="sha256:{_e(value)}">{_e(value[:n])}</code>'


def _size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _e(value)
    if isinstance(value, int) or float(value).is_integer():
        return _e(f"{value:,.0f}")
    return _e(f"{value:.4g}")


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table; ``head`` is plain text (escaped), cells are already-safe HTML."""
    body = "".join("<tr>" + "".join(f"<td{_cell_cls(c)}>{c}</td>" for c in row) + "</tr>"
                   for row in rows)
    if not body:
        return '<p class="faint">None recorded.</p>'
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f'<table class="{_e(cls)}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _cell_cls(cell: str) -> str:
    return ' class="num"' if cell[:1].isdigit() and len(cell) < 24 and " " not in cell.strip(
    ) else ""


def _kv(pairs: Iterable[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td class='wrap'>{v}</td></tr>" for k, v in pairs if v)
    return f'<table class="kv"><tbody>{rows}</tbody></table>' if rows else ""


_TRUST_PILL = {"verified": ("verified", "ok"), "unverified": ("unverified", "warn"),
               "failed": ("FAILED VERIFICATION", "bad")}


def _trust(trust: str) -> str:
    text, tone = _TRUST_PILL.get(trust, ("unverified", "warn"))
    return _pill(text, tone)


# --------------------------------------------------------------------------- page parts


def banner(view: AuditView) -> str:
    """The verification verdict at the top of the page."""
    v = view.verification
    if v.performed and v.ok:
        tone = "ok"
    elif not v.performed or not v.keys_given:
        tone = "warn"
    else:
        tone = "bad"
    icon = {"ok": "✓", "bad": "✗", "warn": "!"}[tone]
    items = "".join(f"<li><strong style='display:inline;font-size:inherit'>{_e(c.title)}"
                    f"</strong>: {_e(c.message)}"
                    f"{' (' + _code(c.member) + ')' if c.member else ''}</li>"
                    for c in v.failed[:12])
    more = f"<li>… and {len(v.failed) - 12} more</li>" if len(v.failed) > 12 else ""
    listing = f"<ul>{items}{more}</ul>" if items else ""
    detail = ("Every signature, digest and chain check passed; the content below is what the "
              "signer attested." if tone == "ok" else
              "Content below is shown for investigation only and is marked as untrusted.")
    return (f'<div class="banner {tone}" id="verification" role="status">'
            f'<div class="icon">{icon}</div><div><strong>{_e(v.headline)}</strong>'
            f'<span>{_e(detail)}</span>{listing}</div></div>')


def summary_cards(view: AuditView) -> str:
    """Model, record, signers and completeness at a glance."""
    model = view.model
    score = view.completeness.get("score")
    signers = ", ".join(s["keyid"][:16] + "…" for s in view.signers) or "unsigned"
    n_steps = len(view.steps)
    recorded = sum(1 for st in view.stages if st.status != "missing")
    cards = [
        ("Model", _e(model["name"]) + (f" <span class='muted'>{_e(model['version'])}</span>"
                                        if model.get("version") else ""),
         (f"sha256 {_e((model.get('sha256') or '')[:16])}" if model.get("sha256") else "")),
        ("Record", _e(view.record_name or "—"), _e(view.record_id or "")),
        ("Stages", f"{recorded} / 10", f"{n_steps} steps"),
        ("Completeness", f"{_e(_score_text(score))}", "expected evidence present"),
    ]
    html = "".join(f'<div class="card"><div class="label">{_e(label)}</div>'
                   f'<div class="value">{value}</div><div class="sub">{sub}</div></div>'
                   for label, value, sub in cards)
    return (f'<div class="cards">{html}</div>'
            f'<p class="muted">Signed by: <code>{_e(signers)}</code></p>')


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
        if sv is None:
            items.append(f'<li><div class="dot missing">{st.number}</div><div>'
                         f'<div class="name">{_e(st.name)}<span class="zh">{_e(st.name_zh)}'
                         f'</span></div><div class="when">not recorded</div></div>'
                         f'<div class="faint">Expected: {_e(get_stage(st.id).leaves)}</div>'
                         "</li>")
            continue
        s = sv.step
        ins = [a for a, _ in st.inputs()] or list(s.materials)
        outs = [a for a, _ in st.outputs()] or list(s.products)
        flow_in = ", ".join(f"{_code(a.path)} {_sha(a.sha256, 8)}" for a in ins[:4])
        flow_in += " …" if len(ins) > 4 else ""
        flow_out = ", ".join(f"{_code(a.path)} {_sha(a.sha256, 8)}" for a in outs[:4])
        flow_out += " …" if len(outs) > 4 else ""
        badges = "".join(_pill(t, tone) for t, tone in st.badges())
        runs = f" · {len(st.steps)} steps" if len(st.steps) > 1 else ""
        status_pill = _pill(status, "bad" if status == "failed" else "ok")
        items.append(
            f'<li><div class="dot {status}">{st.number}</div><div>'
            f'<div class="name"><a href="#stage-{_e(st.id)}">{_e(st.name)}</a>'
            f'<span class="zh">{_e(st.name_zh)}</span></div>'
            f'<div class="when">{_e(_when(s.ended_at))} · {_e(s.actor.user)}@{_e(s.actor.host)}'
            f'{_e(runs)}</div></div><div>{status_pill}{_trust(st.trust)}{badges}'
            f'<div class="flow">{flow_in or "<span class=faint>no inputs</span>"} → '
            f'{flow_out or "<span class=faint>no outputs</span>"}</div></div></li>')
    return f'<ol class="timeline">{"".join(items)}</ol>'


def _when(ts: str | None) -> str:
    if not ts:
        return ""
    text = ts.replace("T", " ").replace("Z", "")
    return text.split(".")[0] + " UTC"


def _artifacts(arts: Sequence[Any]) -> str:
    rows = [(_code(a.path), _e(a.role or a.type), _sha(a.sha256), _e(_size(a.size)),
             _e(a.license or ""), _e(a.origin or "")) for a in arts]
    return _table(("path", "role", "sha256", "size", "licence", "origin"), rows)


def _gx(facts: Mapping[str, Any]) -> str:
    if facts.get("error"):
        return f'<p class="faint">GX result not readable: {_e(facts["error"])}</p>'
    ok = facts.get("success")
    ev, good = facts.get("evaluated"), facts.get("successful")
    head = (f"<p>{_pill('passed' if ok else 'FAILED', 'ok' if ok else 'bad')} "
            f"Suite {_code(facts.get('suite') or '—')}"
            + (f" · {_num(good)} of {_num(ev)} expectations met" if ev is not None else "")
            + "</p>")
    rows = []
    for x in facts.get("expectations", []):
        unexpected = ""
        if x.get("unexpected_count") is not None:
            unexpected = _num(x["unexpected_count"])
            if x.get("unexpected_percent") is not None:
                unexpected += f" ({x['unexpected_percent']:.2f}%)"
        rows.append((_pill("pass", "ok") if x["success"] else _pill("fail", "bad"),
                     _code(x["type"]), _e(x.get("column") or ""), _e(x.get("kwargs") or ""),
                     _e(x.get("observed") or ""), unexpected))
    return head + _table(("status", "expectation", "column", "arguments", "observed",
                          "unexpected"), rows)


def _sbom(facts: Mapping[str, Any]) -> str:
    if facts.get("error"):
        return f'<p class="faint">SBOM not readable: {_e(facts["error"])}</p>'
    parts = [f'<p class="muted">CycloneDX {_e(facts.get("spec_version"))} · '
             f'{len(facts.get("models", []))} model(s), {len(facts.get("datasets", []))} '
             f'dataset(s), {_e(facts.get("library_count", 0))} libraries</p>']
    for m in facts.get("models", []):
        card = m.get("model_card") or {}
        pairs = [("model", _code(m["name"]) + (" " + _e(m["version"]) if m["version"] else "")),
                 ("sha256", _sha(m.get("sha256"), 64) if m.get("sha256") else ""),
                 ("licence", _e(", ".join(m["licenses"]))),
                 ("task", _e(card.get("task", ""))),
                 ("architecture", _e(card.get("modelArchitecture")
                                     or card.get("architectureFamily") or "")),
                 ("approach", _e(card.get("approach", "")))]
        for key in ("users", "useCases", "technicalLimitations", "ethicalConsiderations"):
            if card.get(key):
                pairs.append((key, _e("; ".join(card[key]))))
        parts.append("<h4>Model card</h4>" + _kv(pairs))
        if card.get("metrics"):
            parts.append(_table(("metric", "value", "slice"), [
                (_e(x["type"]), _e(x["value"]), _e(x["slice"])) for x in card["metrics"]]))
    if facts.get("datasets"):
        parts.append("<h4>Datasets</h4>" + _table(("dataset", "version", "licence", "sha256"), [
            (_code(d["name"]), _e(d["version"]),
             _e(", ".join(d["licenses"])) or _pill("no licence", "warn"), _sha(d.get("sha256")))
            for d in facts["datasets"]]))
    libs = facts.get("libraries", [])
    if libs:
        table = _table(("library", "version", "licence"), [
            (_e(x["name"]), _e(x["version"]), _e(", ".join(x["licenses"])))
            for x in libs[:MAX_LIBRARIES]])
        parts.append(f"<details><summary>Libraries ({len(libs)})</summary>{table}</details>")
    return "".join(parts)


def _environment(step: Any, facts: Sequence[Mapping[str, Any]]) -> str:
    env = step.environment
    pairs = []
    if env is not None:
        mem = f" · {_size(env.memory_bytes)} RAM" if env.memory_bytes else ""
        pairs.append(("environment", _e(f"{env.implementation} {env.python} · {env.platform} "
                                        f"({env.machine}) · {env.cpu_count} CPUs{mem}")))
    if step.code is not None:
        c = step.code
        code = _code((c.commit or "")[:12] or "no commit")
        if c.branch:
            code += f" on {_code(c.branch)}"
        if c.dirty:
            code += " " + _pill("uncommitted changes", "warn")
        if c.remote:
            code += f" · {_e(c.remote)}"
        pairs.append(("code version", code))
    for f in facts:
        dists = f.get("distributions") or []
        if dists:
            rows = [(_e(d["name"]), _e(d["version"]), _e(d.get("license") or ""))
                    for d in dists[:MAX_LIBRARIES]]
            table = _table(("distribution", "version", "licence"), rows)
            pairs.append(("packages", f"<details><summary>{len(dists)} installed distributions"
                                      f"</summary>{table}</details>"))
    return _kv(pairs)


def risk_table(register: Mapping[str, Any]) -> str:
    """The risk register as a table (seven rows)."""
    rows = []
    for item in register.get("items", []):
        label = RISK_LABELS.get(item["id"])
        name = (f"{_e(label.en)}<span class='zh'>{_e(label.zh)}</span>" if label
                else _e(item["id"]))
        rating = item.get("rating", "not_assessed")
        links = ", ".join(_link_text(x) for x in item.get("evidence", []))
        rows.append((name, f"<span class='rating-{_e(rating)}'>"
                           f"{_e(rating.replace('_', ' '))}</span>",
                     _e(item.get("description", "")), _e(item.get("mitigation", "")),
                     _e(item.get("owner", "")), links))
    meta = ", ".join(x for x in (
        f"scope: {register['scope']}" if register.get("scope") else "",
        f"assessed by {register['assessed_by']}" if register.get("assessed_by") else "",
        f"on {register['assessed_at']}" if register.get("assessed_at") else "") if x)
    return ((f'<p class="muted">{_e(meta)}</p>' if meta else "")
            + _table(("risk item", "rating", "description", "mitigation", "owner", "evidence"),
                     rows))


def _link_text(link: Mapping[str, Any]) -> str:
    if link.get("sha256"):
        return _sha(link["sha256"])
    if link.get("uri"):
        return _code(link["uri"])
    text = str(link.get("kind") or "")
    if link.get("stage"):
        text = f"{text}@{link['stage']}" if text else str(link["stage"])
    return _code(text)


def checklist_tables(table: Mapping[str, Any]) -> str:
    """The self-check table (表1) as two tables, like the guide prints it."""
    tone = {"plan_in_place": "ok", "assessing": "warn", "not_assessed": "none",
            "ready": "ok", "not_applicable": "none"}
    rows = []
    for a in table.get("strategy", []):
        label = STRATEGY_LABELS.get(a["id"])
        st_label = STRATEGY_STATUS_LABELS.get(a["status"])
        rows.append((f"{_e(label.en)}<span class='zh'>{_e(label.zh)}</span>" if label
                     else _e(a["id"]),
                     _pill(f"{st_label.en} {st_label.zh}" if st_label else a["status"],
                           tone.get(a["status"], "info")), _e(a.get("note", ""))))
    strategy = _table(("strategy aspect 導入策略", "status", "note"), rows)
    head = ["adoption route 技術整備度", "chosen"] + [
        f"{READINESS_ASPECT_LABELS[a].en} {READINESS_ASPECT_LABELS[a].zh}"
        for a in READINESS_ASPECTS]
    rrows = []
    for r in table.get("adoption", []):
        label = ROUTE_LABELS.get(r["id"])
        cells = [f"{_e(label.en)}<span class='zh'>{_e(label.zh)}</span>" if label
                 else _e(r["id"]), _pill("yes", "info") if r.get("chosen") else
                 '<span class="faint">no</span>']
        for a in READINESS_ASPECTS:
            value = r.get(a, "not_assessed")
            lab = READINESS_LABELS.get(value)
            cells.append(_pill(lab.en if lab else value, tone.get(value, "info")))
        rrows.append(cells)
    return strategy + _table(head, rrows)


def _approvals(approvals: Sequence[Any]) -> str:
    rows = []
    for a in approvals:
        status = (_pill(a.decision or "?", "ok" if a.decision == "approved" else "bad")
                  if a.ok else _pill("not verified", "warn"))
        rows.append((status, _e(a.reviewer or "?"), _sha(a.keyid, 16), _e(_when(a.time)),
                     _e(a.comment or ""), _e(a.problem or "")))
    return _table(("decision", "reviewer", "key", "time", "comment", "problem"), rows)


def stage_section(st: StageView, view: AuditView) -> str:
    """One stage: its steps, and the latest step in detail with all its evidence."""
    info = get_stage(st.id)
    status_tone = {"missing": "none", "failed": "bad"}.get(st.status, "ok")
    head = (f'<div class="stage-head"><h3><span class="stage-num">{st.number}</span>'
            f'{_e(st.name)}<span class="zh">{_e(st.name_zh)}</span></h3>'
            f'<div>{_pill(st.status, status_tone)}'
            f'{_trust(st.trust) if st.steps else ""}</div></div>'
            f'<p class="leaves">Should leave behind: {_e(info.leaves)}</p>')
    if not st.steps:
        return (f'<section class="panel" id="stage-{_e(st.id)}">{head}'
                '<p class="faint">No step of this stage is in the record.</p></section>')
    body = [head] + [_step_detail(sv, len(st.steps) > 1) for sv in st.steps]
    cls = {"failed": "untrusted", "unverified": "unverified"}.get(st.trust, "")
    return f'<section class="panel {cls}" id="stage-{_e(st.id)}">{"".join(body)}</section>'


def _step_detail(sv: StepView, rerun: bool) -> str:
    s = sv.step
    out = [f'<div class="step-head"><span class="step-no">step {_e(s.seq)}</span>'
           f'{_pill(s.status, "ok" if s.status == "succeeded" else "bad")}'
           f'{_trust(sv.trust)}<span class="muted">{_e(_when(s.started_at))} → '
           f'{_e(_when(s.ended_at))} · {_e(s.actor.user)}@{_e(s.actor.host)}</span>'
           f'<span class="faint">digest {_sha(s.digest)}</span></div>']
    if s.description:
        out.append(f"<p>{_e(s.description)}</p>")
    if s.error:
        out.append(f"<p>{_pill('error', 'bad')} {_e(s.error)}</p>")
    if s.command is not None:
        argv = " ".join(_shell_quote(a) for a in s.command.argv)
        exit_code = "" if s.command.exit_code is None else f"  # exit {s.command.exit_code}"
        out.append(f"<h4>Command</h4><pre class='cmd'>{_e(argv + exit_code)}</pre>")
    out.append(_environment(s, sv.facts(EVIDENCE_ENVIRONMENT)))
    if s.materials:
        out.append("<h4>Inputs</h4>" + _artifacts(s.materials))
    if s.products:
        out.append("<h4>Outputs</h4>" + _artifacts(s.products))
    if s.mlflow:
        out.append("<h4>MLflow runs</h4>" + _table(("run id", "name", "experiment", "role",
                                                   "tracking URI", "data digest"), [
            (_code(m.run_id), _e(m.run_name or ""), _e(m.experiment_id), _e(m.role),
             _e(m.tracking_uri), _sha(m.data_sha256)) for m in s.mlflow]))
    if s.params or s.metrics:
        params = _table(("parameter", "value"), [(_code(k), _e(v)) for k, v in
                                                 sorted(s.params.items())])
        metrics = _table(("metric", "value"), [(_code(k), _num(v)) for k, v in
                                               sorted(s.metrics.items())])
        out.append(f"<div class='cols'><div><h4>Parameters</h4>{params}</div>"
                   f"<div><h4>Metrics</h4>{metrics}</div></div>")
    for e in sv.evidence:
        facts = e.facts or {}
        if not e.present:
            out.append(f"<h4>{_e(e.ref.kind)}</h4><p>{_pill('missing from bundle', 'bad')} "
                       f"evidence {_sha(e.ref.sha256)} is referenced but not present.</p>")
            continue
        trust = "" if e.trust == sv.trust else _trust(e.trust)
        subject = ""
        if e.ref.subject is not None:
            bound = _pill("bound to the step's data", "ok") if e.ref.bound else _pill(
                "subject not among the step's inputs/outputs", "warn")
            subject = (f"<p class='muted'>About {_code(e.ref.subject.path)} "
                       f"{_sha(e.ref.subject.sha256)} {bound}</p>")
        if e.ref.kind == EVIDENCE_GX:
            out.append(f"<h4>Data quality (Great Expectations) {trust}</h4>{subject}"
                       + _gx(facts))
        elif e.ref.kind == EVIDENCE_SBOM:
            out.append(f"<h4>SBOM {trust}</h4>" + _sbom(facts))
        elif e.ref.kind == EVIDENCE_RISK:
            out.append(f"<h4>Risk register {trust}</h4>" + (
                risk_table(facts["register"]) if "register" in facts
                else f"<p class='faint'>{_e(facts.get('error', 'not readable'))}</p>"))
        elif e.ref.kind == EVIDENCE_CHECKLIST:
            out.append(f"<h4>Self-check table 表1 {trust}</h4>" + (
                checklist_tables(facts["table"]) if "table" in facts
                else f"<p class='faint'>{_e(facts.get('error', 'not readable'))}</p>"))
    others = [e for e in sv.evidence if e.ref.kind not in (
        EVIDENCE_GX, EVIDENCE_SBOM, EVIDENCE_RISK, EVIDENCE_CHECKLIST, EVIDENCE_ENVIRONMENT)]
    if others:
        out.append("<h4>Evidence objects</h4>" + _table(("kind", "name", "sha256", "size",
                                                         "summary"), [
            (_e(e.ref.kind), _e(e.ref.name or ""), _sha(e.ref.sha256), _e(_size(e.ref.size)),
             _e(_summary(e.ref.summary))) for e in others]))
    if sv.approvals:
        out.append("<h4>Approvals</h4>" + _approvals(sv.approvals))
    return "".join(out)


def _summary(summary: Mapping[str, Any]) -> str:
    text = ", ".join(f"{k}: {v}" for k, v in summary.items())
    return text if len(text) < 160 else text[:159] + "…"


def _shell_quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


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
            # the same weighting as aitrace.completeness: one point for the step, one per item
            frac = 0.0 if entry.get("status") == "missing" else (
                100 * (1 + len(present)) / (1 + len(present) + len(missing)))
            rows.append((f"{st.number}. {_e(st.name)}",
                         f'<span class="minibar"><span style="width:{float(frac):.0f}%">'
                         f'</span></span>{float(frac):.0f}%',
                         _e(", ".join(map(str, present))),
                         _e(", ".join(map(str, missing))) or _pill("complete", "ok")))
    missing_list = c.get("missing") or []
    items = "".join(f"<li>{_e(_missing_text(m))}</li>" for m in missing_list[:60])
    return (f'<div class="score"><div class="big">{_e(_score_text(score))}</div>'
            f'<div class="bar"><span style="width:{max(0.0, min(pct, 100.0)):.0f}%"></span>'
            f'</div></div>'
            + _table(("stage", "score", "present", "missing"), rows)
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
        evidence = "".join(f"<li>{_e(x)}</li>" for x in r["evidence"])
        missing = "".join(f"<li>{_e(x)}</li>" for x in r["missing"])
        body.append((
            f"<strong>{_e(r['number'])}. {_e(r['heading'])}</strong>"
            f"<div class='faint'>{_e(r['asks'])}</div>",
            _pill(r["status"], tone[r["status"]]),
            (f"<ul>{evidence}</ul>" if evidence else "<span class='faint'>none</span>")
            + (f"<div class='muted'>Missing:</div><ul>{missing}</ul>" if missing else "")))
    return (
        "<p class='note'><strong>Not a compliance statement.</strong> This map shows which "
        "evidence in this record relates to each heading of the technical documentation listed "
        "in Annex IV of the EU AI Act (Regulation (EU) 2024/1689). It is an aid for a reviewer, "
        "not an assessment: aitrace does not and cannot determine whether the documentation is "
        "sufficient or whether the system complies.</p>"
        + _table(("Annex IV heading", "in the record", "evidence held · missing"), body, "annex"))


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
        governance.append("<h3>Risk register</h3><p>" + _pill("missing", "bad")
                          + " No risk register is recorded "
                          "(<code>aitrace assess risk</code>).</p>")
    if check and check[-1][1].facts and "table" in check[-1][1].facts:
        governance.append("<h3>Self-check table 表1</h3>"
                          + checklist_tables(check[-1][1].facts["table"]))
    else:
        governance.append("<h3>Self-check table 表1</h3><p>" + _pill("missing", "bad")
                          + " No self-check table is recorded "
                          "(<code>aitrace assess checklist</code>).</p>")
    governance.append("<h3>Approvals</h3>" + (_approvals(view.approvals) if view.approvals else
                      "<p>" + _pill("none", "warn") + " No reviewer has signed off any "
                      "stage (<code>aitrace approve</code>).</p>"))
    failed = view.verification.failed
    checks = _table(("check", "status", "message", "member"), [
        (_e(c.title), _pill(c.status, {"passed": "ok", "failed": "bad"}.get(c.status, "none")),
         _e(c.message), _code(c.member) if c.member else "") for c in view.verification.checks])
    licences = _table(("artifact / component", "what", "stage", "licence", "trust"), [
        (_code(x["name"]), _e(x["what"]), _e(x["stage"]),
         _e(x["license"]) if x["license"] else _pill("unknown", "warn"), _trust(x["trust"]))
        for x in view.licences()])
    stages = "".join(stage_section(st, view) for st in view.stages)
    toc = "".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in (
        ("overview", "Overview"), ("lineage", "Lineage"), ("stages", "Stages"),
        ("governance", "Governance"), ("completeness", "Completeness"),
        ("annex-iv", "Annex IV map"), ("checks", "Checks")))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="aitrace {_e(version)}">
<title>{_e(title)}</title>
<style>{_css()}</style>
</head>
<body>
<main>
<header class="top"><div><div class="kicker">AI production record · AI 生產履歷</div>
<h1>{_e(view.record_name or view.model['name'])}</h1>
<div class="muted">Bundle <code>{_e(view.label)}</code></div></div>
<div class="meta">Generated {_e(generated_at)}<br>aitrace {_e(version)}
{('<br>policy ' + _code(view.policy)) if view.policy else ''}</div></header>
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
    '<p>' + _pill('not run', 'warn') + ' No verification was performed.</p>'}
{'' if not failed else f'<p>{len(failed)} check(s) failed.</p>'}</section>
<footer>Generated by aitrace {_e(version)} from <code>{_e(view.label)}</code>. This page is
self-contained: no scripts, fonts, images or network requests. Values from the bundle are
shown as recorded; trust labels say whether verification vouches for them.</footer>
</main>
</body>
</html>
"""


def _css() -> str:
    from aitrace.report.css import CSS

    return CSS
