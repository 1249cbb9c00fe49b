"""The report's evidence tables: GX results, ML-BOMs, environments, risk register, self-check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from aitrace.report.html import markup as h

MAX_LIBRARIES = 400


def _artifacts(arts: Sequence[Any]) -> str:
    rows = [(h.code(a.path), h.e(a.role or a.type), h.sha(a.sha256 or a.dirHash),
             h.e(h.size(a.size)), h.e(a.license or ""), h.any_wrap(a.origin or "")) for a in arts]
    return h.table(("path", "role", "sha256", "size", "licence", "origin"), rows)


def _gx(facts: Mapping[str, Any]) -> str:
    if facts.get("error"):
        return f'<p class="faint">GX result not readable: {h.e(facts["error"])}</p>'
    ok = facts.get("success")
    ev, good = facts.get("evaluated"), facts.get("successful")
    nothing = ev is not None and not ev
    pill = (h.pill("nothing checked", "warn") if nothing else
            h.pill("passed" if ok else "FAILED", "ok" if ok else "bad"))
    head = (f"<p>{pill} Suite {h.code(facts.get('suite') or '—')}"
            + (" · 0 expectations evaluated: this check is not evidence of quality" if nothing
               else f" · {h.num(good)} of {h.num(ev)} expectations met" if ev is not None
               else "")
            + "</p>")
    expectations = list(facts.get("expectations", []))
    failed = [x for x in expectations if not x["success"]]
    table = _gx_rows(expectations)
    if not expectations:
        return head
    # Collapsed per result (a suite can hold hundreds): the failures stay in view.
    shown = "" if not failed else "<p class='muted'>Failed expectations</p>" + _gx_rows(failed)
    label = f"All {len(expectations)} expectations" + (f" ({len(failed)} failed)" if failed
                                                      else "")
    return (head + shown + f"<details class='gx'><summary>{h.e(label)}</summary>{table}"
            "</details>")


def _gx_rows(expectations: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for x in expectations:
        unexpected = ""
        if x.get("unexpected_count") is not None:
            unexpected = h.num(x["unexpected_count"])
            if x.get("unexpected_percent") is not None:
                unexpected += f" ({x['unexpected_percent']:.2f}%)"
        rows.append((h.pill("pass", "ok") if x["success"] else h.pill("fail", "bad"),
                     h.code(x["type"]), h.e(x.get("column") or ""), h.e(x.get("kwargs") or ""),
                     h.e(x.get("observed") or ""), unexpected))
    return h.table(("status", "expectation", "column", "arguments", "observed", "unexpected"),
                   rows)


def _sbom(facts: Mapping[str, Any]) -> str:
    if facts.get("error"):
        return f'<p class="faint">SBOM not readable: {h.e(facts["error"])}</p>'
    parts = [f'<p class="muted">CycloneDX {h.e(facts.get("spec_version"))} · '
             f'{len(facts.get("models", []))} model(s), {len(facts.get("datasets", []))} '
             f'dataset(s), {h.e(facts.get("library_count", 0))} libraries</p>']
    for m in facts.get("models", []):
        card = m.get("model_card") or {}
        pairs = [("model", h.code(m["name"]) + (" " + h.e(m["version"]) if m["version"] else "")),
                 ("sha256", h.sha(m.get("sha256"), 64) if m.get("sha256") else ""),
                 ("licence", h.e(", ".join(m["licenses"]))),
                 ("task", h.e(card.get("task", ""))),
                 ("architecture", h.e(card.get("modelArchitecture")
                                     or card.get("architectureFamily") or "")),
                 ("approach", h.e(card.get("approach", "")))]
        for key in ("users", "useCases", "technicalLimitations", "ethicalConsiderations"):
            if card.get(key):
                pairs.append((key, h.e("; ".join(card[key]))))
        parts.append("<h4>Model card</h4>" + h.kv(pairs))
        if card.get("metrics"):
            parts.append(h.table(("metric", "value", "slice"), [
                (h.e(x["type"]), h.e(x["value"]), h.e(x["slice"])) for x in card["metrics"]]))
    if facts.get("datasets"):
        parts.append("<h4>Datasets</h4>" + h.table(("dataset", "version", "licence", "sha256"), [
            (h.code(d["name"]), h.e(d["version"]),
             h.e(", ".join(d["licenses"])) or h.pill("no licence", "warn"), h.sha(d.get("sha256")))
            for d in facts["datasets"]]))
    libs = facts.get("libraries", [])
    if libs:
        table = h.table(("library", "version", "licence"), [
            (h.e(x["name"]), h.e(x["version"]), h.e(", ".join(x["licenses"])))
            for x in libs[:MAX_LIBRARIES]])
        parts.append(f"<details><summary>Libraries ({len(libs)})</summary>{table}</details>")
    return "".join(parts)


def _environment(step: Any, facts: Sequence[Mapping[str, Any]]) -> str:
    env = step.environment
    pairs = []
    if env is not None:
        mem = f" · {h.size(env.memory_bytes)} RAM" if env.memory_bytes else ""
        pairs.append(("environment", h.e(f"{env.python_text} · {env.platform} "
                                        f"({env.machine}) · {env.cpu_count} CPUs{mem}")))
    if step.code is not None:
        c = step.code
        code = h.code((c.commit or "")[:12] or "no commit")
        if c.branch:
            code += f" on {h.code(c.branch)}"
        if c.dirty:
            code += " " + h.pill("uncommitted changes", "warn")
        if c.remote:
            code += f" · {h.e(c.remote)}"
        pairs.append(("code version", code))
    for f in facts:
        dists = f.get("distributions") or []
        if dists:
            rows = [(h.e(d["name"]), h.e(d["version"]), h.e(d.get("license") or ""))
                    for d in dists[:MAX_LIBRARIES]]
            table = h.table(("distribution", "version", "licence"), rows)
            pairs.append(("packages", f"<details><summary>{len(dists)} installed distributions"
                                      f"</summary>{table}</details>"))
    return h.kv(pairs)


def risk_table(register: Mapping[str, Any]) -> str:
    """The risk register as a table (seven rows)."""
    rows = []
    for item in register.get("items", []):
        label = RISK_LABELS.get(item["id"])
        name = (f"{h.e(label.en)}<span class='zh'>{h.e(label.zh)}</span>" if label
                else h.e(item["id"]))
        rating = item.get("rating", "not_assessed")
        links = ", ".join(_link_text(x) for x in item.get("evidence", []))
        rows.append((name, f"<span class='rating-{h.e(rating)}'>"
                           f"{h.e(rating.replace('_', ' '))}</span>",
                     h.e(item.get("description", "")), h.e(item.get("mitigation", "")),
                     h.e(item.get("owner", "")), links))
    meta = ", ".join(x for x in (
        f"scope: {register['scope']}" if register.get("scope") else "",
        f"assessed by {register['assessed_by']}" if register.get("assessed_by") else "",
        f"on {register['assessed_at']}" if register.get("assessed_at") else "") if x)
    return ((f'<p class="muted">{h.e(meta)}</p>' if meta else "")
            + h.table(("risk item", "rating", "description", "mitigation", "owner", "evidence"),
                     rows))


def _link_text(link: Mapping[str, Any]) -> str:
    if link.get("sha256"):
        return h.sha(link["sha256"])
    if link.get("uri"):
        return h.code(link["uri"])
    text = str(link.get("kind") or "")
    if link.get("stage"):
        text = f"{text}@{link['stage']}" if text else str(link["stage"])
    return h.code(text)


def checklist_tables(table: Mapping[str, Any]) -> str:
    """The self-check table (表1) as two tables, like the guide prints it."""
    tone = {"plan_in_place": "ok", "assessing": "warn", "not_assessed": "none",
            "ready": "ok", "not_applicable": "none"}
    rows = []
    for a in table.get("strategy", []):
        label = STRATEGY_LABELS.get(a["id"])
        st_label = STRATEGY_STATUS_LABELS.get(a["status"])
        rows.append((f"{h.e(label.en)}<span class='zh'>{h.e(label.zh)}</span>" if label
                     else h.e(a["id"]),
                     h.pill(f"{st_label.en} {st_label.zh}" if st_label else a["status"],
                           tone.get(a["status"], "info")), h.e(a.get("note", ""))))
    strategy = h.table(("strategy aspect 導入策略", "status", "note"), rows)
    head = ["adoption route 技術整備度", "chosen"] + [
        f"{READINESS_ASPECT_LABELS[a].en} {READINESS_ASPECT_LABELS[a].zh}"
        for a in READINESS_ASPECTS]
    rrows = []
    for r in table.get("adoption", []):
        label = ROUTE_LABELS.get(r["id"])
        cells = [f"{h.e(label.en)}<span class='zh'>{h.e(label.zh)}</span>" if label
                 else h.e(r["id"]), h.pill("yes", "info") if r.get("chosen") else
                 '<span class="faint">no</span>']
        for a in READINESS_ASPECTS:
            value = r.get(a, "not_assessed")
            lab = READINESS_LABELS.get(value)
            cells.append(h.pill(lab.en if lab else value, tone.get(value, "info")))
        rrows.append(cells)
    return strategy + h.table(head, rrows)


def _approvals(approvals: Sequence[Any]) -> str:
    rows = []
    for a in approvals:
        status = (h.pill(a.decision or "?", "ok" if a.decision == "approved" else "bad")
                  if a.ok else h.pill("not verified", "warn"))
        rows.append((status, h.e(a.reviewer or "?"), h.sha(a.keyid, 16), h.e(h.when(a.time)),
                     h.e(a.comment or ""), h.e(a.problem or "")))
    return h.table(("decision", "reviewer", "key", "time", "comment", "problem"), rows)




