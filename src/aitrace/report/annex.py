"""The record's evidence mapped to the headings of EU AI Act Annex IV (technical documentation).

Each row says which evidence covers a heading and what is missing. It is a reading aid for an
auditor, never a claim of compliance.
"""

from __future__ import annotations

from typing import Any

from aitrace.record.stages import EVIDENCE_CHECKLIST, EVIDENCE_GX, EVIDENCE_RISK, EVIDENCE_SBOM
from aitrace.report.view import AuditView

_ANNEX_IV = (
    ("1", "General description of the AI system",
     "intended purpose, provider, versions, how it is placed on the market and used"),
    ("2", "Development process and data",
     "methods and steps, design choices, architecture, data provenance, labelling, cleaning, "
     "validation and testing"),
    ("3", "Monitoring, functioning and control",
     "capabilities and limitations, accuracy for groups, human oversight measures"),
    ("4", "Appropriateness of the performance metrics",
     "the metrics chosen and why they fit the system"),
    ("5", "Risk management system",
     "the risk management system of Article 9"),
    ("6", "Changes through the lifecycle",
     "relevant changes made by the provider to the system through its lifecycle"),
    ("7", "Harmonised standards applied",
     "standards or other specifications applied"),
    ("8", "Post-market monitoring",
     "the system to evaluate performance after release (Article 72 plan)"),
)


def _status(have: int, need: int) -> str:
    if have <= 0:
        return "missing"
    return "covered" if have >= need else "partial"


def _named(view: AuditView, *words: str) -> list[str]:
    out = []
    for sv in view.steps:
        for e in sv.evidence:
            text = f"{e.ref.kind} {e.ref.name or ''}".lower()
            if any(w in text for w in words):
                out.append(f"{e.ref.kind} '{e.ref.name or e.ref.sha256[:12]}' (step "
                           f"{sv.step.seq}, {sv.step.stage})")
    return out


def annex_iv_map(view: AuditView) -> list[dict[str, Any]]:  # noqa: C901 - one row per heading
    """Which evidence of the record relates to each Annex IV heading, and what is missing.

    The statuses are about the *record's* contents (covered / partial / missing), not about
    whether the documentation satisfies the regulation — that is for a person to judge.
    """
    st = {s.id: s for s in view.stages}
    rows: list[dict[str, Any]] = []

    def row(i: int, evidence: list[str], missing: list[str], have: int, need: int) -> None:
        number, heading, asks = _ANNEX_IV[i]
        rows.append({"number": number, "heading": heading, "asks": asks,
                     "status": _status(have, need), "evidence": evidence, "missing": missing})

    # 1 general description
    ev, miss = [], []
    problem, deploy = st["problem"].latest, st["deployment"].latest
    if problem:
        docs = [a.path for a, _ in st["problem"].outputs() if a.role != "governance"]
        ev.append("problem statement: " + (", ".join(docs) or "a step without a document"))
    else:
        miss.append("a problem-definition step (purpose, objective, owners)")
    if deploy:
        ev.append("released artifacts: " + ", ".join(
            f"{a.path} ({(a.sha256 or a.dirHash or '')[:12]})"
            for a, _ in st["deployment"].outputs()))
    else:
        miss.append("a deployment step with the released artifact")
    cards = [m for _, e in view.evidence_of(EVIDENCE_SBOM) for m in (e.facts or {}).get(
        "models", []) if m.get("model_card")]
    if cards:
        ev.append(f"model card in the SBOM ({cards[-1]['name']})")
    else:
        miss.append("a model card (SBOM of a model stage)")
    row(0, ev, miss, len(ev), 3)

    # 2 development process and data
    ev, miss = [], []
    dev = ("collection", "cleaning", "labeling", "selection", "design", "training")
    recorded = [s for s in dev if st[s].latest]
    if recorded:
        ev.append("recorded stages: " + ", ".join(recorded))
    miss += [f"the {s} stage" for s in dev if s not in recorded]
    gx = view.evidence_of(EVIDENCE_GX)
    if gx:
        passed = sum(1 for _, e in gx if (e.facts or {}).get("success"))
        ev.append(f"{len(gx)} data-quality validation(s) (Great Expectations), {passed} passed")
    else:
        miss.append("data-quality checks (aitrace check)")
    licensed = [x for x in view.licences() if x["what"] in ("dataset", "data") or
                x["stage"] in ("collection", "labeling")]
    if licensed:
        ev.append(f"{len(licensed)} data source(s) with licence/origin")
    else:
        miss.append("data provenance: origins and licences of the data sources")
    if any(sv.step.code and sv.step.code.commit for sv in view.steps):
        ev.append("code versions (git commits) of the steps")
    row(1, ev, miss, len(recorded) + (1 if gx else 0) + (1 if licensed else 0), len(dev) + 2)

    # 3 monitoring, functioning and control
    ev, miss = [], []
    evaluation = st["evaluation"].latest
    if evaluation and evaluation.step.metrics:
        slices = [k for k in evaluation.step.metrics if "slice" in k]
        ev.append(f"evaluation metrics: {len(evaluation.step.metrics)}"
                  + (f", incl. {len(slices)} per-slice" if slices else ""))
        if not slices:
            miss.append("per-group / per-slice accuracy")
    else:
        miss.append("evaluation metrics")
    verified = [a for a in view.approvals if a.ok]
    if verified:
        ev.append(f"human oversight: {len(verified)} verified reviewer decision(s)")
    else:
        miss.append("verified reviewer approvals (aitrace approve)")
    limits = [m for m in cards if m["model_card"].get("technicalLimitations")]
    if limits:
        ev.append("technical limitations in the model card")
    else:
        miss.append("stated capabilities and limitations (model card considerations)")
    row(2, ev, miss, len(ev), 3)

    # 4 appropriateness of metrics
    ev, miss = [], []
    criteria = [f"{k} {v}" for sv in st["problem"].steps if sv.step.status == "succeeded"
                for k, v in sv.step.params.items() if k.startswith("success")]
    if criteria:
        ev.append("success criteria: " + "; ".join(criteria))
    else:
        miss.append("success criteria (problem-stage params success.*)")
    if evaluation and evaluation.step.metrics:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in list(evaluation.step.metrics.items())[:6])
        ev.append(f"measured: {shown}")
    else:
        miss.append("metrics measured at evaluation")
    row(3, ev, miss, len(ev), 2)

    # 5 risk management
    ev, miss = [], []
    risk = view.evidence_of(EVIDENCE_RISK)
    if risk:
        reg = (risk[-1][1].facts or {}).get("register") or {}
        items = reg.get("items", [])
        assessed = [i for i in items if i.get("rating") != "not_assessed"]
        ev.append(f"risk register: {len(assessed)} of {len(items)} risk items assessed")
        if len(assessed) < len(items):
            miss.append("not assessed: " + ", ".join(
                i["id"] for i in items if i.get("rating") == "not_assessed"))
    else:
        miss.append("a risk register (aitrace assess risk)")
    if view.evidence_of(EVIDENCE_CHECKLIST):
        ev.append("self-check table (表1)")
    else:
        miss.append("a self-check table (aitrace assess checklist)")
    complete_risk = bool(risk) and not any(m.startswith("not assessed") for m in miss)
    row(4, ev, miss, len(ev) if complete_risk else min(len(ev), 1), 2 if complete_risk else 3)

    # 6 lifecycle changes
    ev, miss = [], []
    steps = view.steps
    if steps:
        reruns = sum(s.reruns for s in view.stages)
        added = sum(s.checks_added for s in view.stages)
        ev.append(f"hash-chained history of {len(steps)} step(s): {reruns} re-run(s), "
                  f"{added} check or assessment step(s) added")
        ev.append("compare releases with `aitrace diff OLD.aitrace NEW.aitrace`")
    else:
        miss.append("recorded steps")
    row(5, ev, miss, len(ev), 1)

    # 7 standards
    found = _named(view, "standard")
    row(6, found, [] if found else [
        "no list of applied standards is recorded (attach a 'document' evidence named "
        "'standards')"], len(found), 1)

    # 8 post-market monitoring
    found = _named(view, "monitoring", "post-market", "postmarket")
    row(7, found, [] if found else [
        "no post-market monitoring plan is recorded (attach a 'document' evidence named "
        "'post-market monitoring')"], len(found), 1)
    return rows


