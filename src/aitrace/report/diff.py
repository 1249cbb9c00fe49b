"""What changed between two records (two releases of a model): ``aitrace diff A B``.

Both sides are read into ``AuditView``s (bundles through the safe reader, never extracted) and
compared stage by stage: steps added (re-runs, and checks or assessments added to a stage, told
apart), data and model digests by stage and path,
metrics and parameters (old → new, delta), libraries (added, removed, upgraded, downgraded) from
the environment evidence of the model stages and the SBOMs, licences, and reviewer approvals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aitrace.evidence.model.introspect import is_model_path
from aitrace.record.stages import EVIDENCE_ENVIRONMENT, EVIDENCE_SBOM, RELEASE_STAGES
from aitrace.report.terminal import terminal_safe
from aitrace.report.view import AuditView

DIFF_FORMAT = "aitrace.diff/v1"


def _kind(path: str, role: str | None) -> str:
    if role in ("model", "dataset", "config", "code", "governance"):
        return "data" if role == "dataset" else role
    return "model" if is_model_path(path) else "data"


def _artifacts(view: AuditView) -> dict[tuple[str, str, str], dict[str, Any]]:
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for st in view.stages:
        for direction, pairs in (("output", st.outputs()), ("input", st.inputs())):
            for a, _sv in pairs:
                out[(st.id, direction, a.path)] = {"sha256": a.sha256 or a.dirHash, "size": a.size,
                                                   "kind": _kind(a.path, a.role),
                                                   "license": a.license}
    return out


def _values(view: AuditView, attr: str) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for st in view.stages:
        for sv in st.steps:
            if sv.step.status == "succeeded":
                for k, v in getattr(sv.step, attr).items():
                    out[(st.id, k)] = v  # a later step of the stage wins
    return out


def _libraries(view: AuditView) -> dict[str, str]:
    libs: dict[str, str] = {}
    for st in view.stages:
        if st.id not in RELEASE_STAGES or st.latest is None:
            continue
        for facts in st.latest.facts(EVIDENCE_ENVIRONMENT):
            for d in facts.get("distributions", []):
                libs[str(d["name"]).lower()] = str(d["version"])
        for facts in st.latest.facts(EVIDENCE_SBOM):
            for lib in facts.get("libraries", []):
                libs.setdefault(str(lib["name"]).lower(), str(lib["version"]))
    return libs


def _version_key(v: str) -> Any:
    try:
        from packaging.version import Version

        return (0, Version(v))
    except Exception:  # noqa: BLE001 - not PEP 440: fall back to text order
        return (1, v)


def _compare_versions(old: str, new: str) -> str:
    a, b = _version_key(old), _version_key(new)
    if a[0] == b[0] == 0:
        return "upgraded" if b[1] > a[1] else "downgraded"
    return "changed"


def _fingerprint(step: Any) -> tuple[Any, ...]:
    """What a step did, without when, who or where (two runs of one pipeline compare equal)."""
    return (step.status,
            tuple((a.path, a.content_id) for a in step.materials),
            tuple((a.path, a.content_id) for a in step.products),
            tuple(sorted(step.params.items())), tuple(sorted(step.metrics.items())),
            tuple(step.command.argv) if step.command else None,
            tuple(sorted((e.kind, e.sha256) for e in step.evidence
                         if e.kind != EVIDENCE_ENVIRONMENT)))


def _approval_key(a: Any) -> tuple[str, str, str, str]:
    return (a.stage or "?", a.reviewer or "?", a.keyid or "?", a.decision or "?")


def diff_views(a: AuditView, b: AuditView) -> dict[str, Any]:  # noqa: C901 - one section each
    """The documented ``diff --json`` document (format ``aitrace.diff/v1``)."""
    same_record = a.record_id is not None and a.record_id == b.record_id
    ids_a = {sv.step.id for sv in a.steps}
    ids_b = {sv.step.id for sv in b.steps}
    steps: dict[str, Any] = {
        "a": len(ids_a), "b": len(ids_b), "same_record": same_record,
        "added": [{"seq": sv.step.seq, "stage": sv.step.stage, "id": sv.step.id,
                   "status": sv.step.status} for sv in b.steps if sv.step.id not in ids_a],
        "removed": [{"seq": sv.step.seq, "stage": sv.step.stage, "id": sv.step.id}
                    for sv in a.steps if sv.step.id not in ids_b],
        "stages": [],
    }
    for sa, sb in zip(a.stages, b.stages, strict=True):
        la, lb = sa.latest, sb.latest
        changed = (la is None) != (lb is None) or (
            la is not None and lb is not None
            and _fingerprint(la.step) != _fingerprint(lb.step))
        if not changed and len(sa.steps) == len(sb.steps):
            continue
        steps["stages"].append({
            "stage": sa.id, "a_steps": len(sa.steps), "b_steps": len(sb.steps),
            "a_status": sa.status, "b_status": sb.status,
            # a check or assessment added to a stage is not a re-run of its work
            "rerun": bool(sa.steps) and sb.reruns > sa.reruns,
            "checks_added": max(0, sb.checks_added - sa.checks_added),
            "latest_changed": changed})

    art_a, art_b = _artifacts(a), _artifacts(b)
    artifacts = []
    for key in sorted(set(art_a) | set(art_b)):
        old, new = art_a.get(key), art_b.get(key)
        if old and new and old["sha256"] == new["sha256"]:
            continue
        stage, direction, path = key
        artifacts.append({
            "stage": stage, "direction": direction, "path": path,
            "kind": (new or old or {}).get("kind"),
            "change": "added" if old is None else "removed" if new is None else "changed",
            "old": old["sha256"] if old else None, "new": new["sha256"] if new else None,
            "old_size": old["size"] if old else None, "new_size": new["size"] if new else None})

    def value_changes(attr: str) -> list[dict[str, Any]]:
        va, vb = _values(a, attr), _values(b, attr)
        rows = []
        for key in sorted(set(va) | set(vb)):
            old, new = va.get(key), vb.get(key)
            if old == new:
                continue
            row: dict[str, Any] = {"stage": key[0], "name": key[1], "old": old, "new": new,
                                   "change": "added" if old is None else "removed"
                                   if new is None else "changed"}
            if isinstance(old, (int, float)) and isinstance(new, (int, float)):
                row["delta"] = new - old
            rows.append(row)
        return rows

    libs_a, libs_b = _libraries(a), _libraries(b)
    libraries = []
    for name in sorted(set(libs_a) | set(libs_b)):
        old_v, new_v = libs_a.get(name), libs_b.get(name)
        if old_v == new_v:
            continue
        change = ("added" if old_v is None else "removed" if new_v is None
                  else _compare_versions(old_v, new_v))
        libraries.append({"name": name, "old": old_v, "new": new_v, "change": change})

    lic_a = {(x["name"], x["what"]): x["license"] for x in a.licences()}
    lic_b = {(x["name"], x["what"]): x["license"] for x in b.licences()}
    licences = [{"name": k[0], "what": k[1], "old": lic_a.get(k), "new": lic_b.get(k)}
                for k in sorted(set(lic_a) | set(lic_b)) if lic_a.get(k) != lic_b.get(k)]

    app_a = {_approval_key(x): x for x in a.approvals}
    app_b = {_approval_key(x): x for x in b.approvals}

    def approval_json(x: Any) -> dict[str, Any]:
        return {"stage": x.stage, "reviewer": x.reviewer, "keyid": x.keyid,
                "decision": x.decision, "time": x.time, "verified": x.ok}

    return {
        "format": DIFF_FORMAT,
        "a": _side(a), "b": _side(b),
        "steps": steps,
        "artifacts": artifacts,
        "metrics": value_changes("metrics"),
        "params": value_changes("params"),
        "libraries": libraries,
        "licences": licences,
        "approvals": {"new": [approval_json(app_b[k]) for k in sorted(set(app_b) - set(app_a))],
                      "lost": [approval_json(app_a[k]) for k in sorted(set(app_a) - set(app_b))]},
        "completeness": {"a": a.completeness.get("score"), "b": b.completeness.get("score")},
    }


def _side(view: AuditView) -> dict[str, Any]:
    v = view.verification
    return {"bundle": view.label, "record_id": view.record_id, "model": view.model,
            "verification": {"performed": v.performed, "ok": v.ok, "verdict": v.verdict}}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "-" if value is None else str(value)


def diff_text(d: Mapping[str, Any]) -> str:
    """A terminal rendering of ``diff_views``'s document, every value neutralised."""
    lines = [f"--- {d['a']['bundle']}", f"+++ {d['b']['bundle']}"]
    for side in ("a", "b"):
        v = d[side]["verification"]
        if not v["performed"]:
            lines.append(f"  {side}: not verified (pass --key to verify both bundles)")
        elif not v["ok"]:
            lines.append(f"  {side}: VERIFICATION FAILED — its content is untrusted")
    s = d["steps"]
    lines += ["", f"Steps: {s['a']} → {s['b']}"
              + ("" if s["same_record"] else " (different records: compared by stage)")]
    for x in s["added"] if s["same_record"] else []:
        lines.append(f"  + step {x['seq']} {x['stage']} ({x['status']})")
    for x in s["stages"]:
        notes = (["re-run"] if x["rerun"] else []) + (
            [f"{x['checks_added']} check(s) added"] if x.get("checks_added") else [])
        note = ", ".join(notes) or ("changed" if x["latest_changed"] else "")
        lines.append(f"  ~ {x['stage']:<13} {x['a_steps']} → {x['b_steps']} step(s) "
                     f"[{x['a_status']} → {x['b_status']}] {note}")
    sections: list[tuple[str, list[dict[str, Any]], Callable[[dict[str, Any]], str]]] = [
        ("Data and model digests", d["artifacts"], lambda x: (
        f"  {'+' if x['change'] == 'added' else '-' if x['change'] == 'removed' else '~'} "
        f"{x['stage']:<13} {x['direction']:<6} {x['kind']:<7} {x['path']}  "
        f"{(x['old'] or '-')[:12]} → {(x['new'] or '-')[:12]}")),
        ("Metrics", d["metrics"], lambda x: (
            f"  ~ {x['stage']:<13} {x['name']}: {_fmt(x['old'])} → {_fmt(x['new'])}"
            + (f"  (Δ {x['delta']:+.6g})" if "delta" in x else ""))),
        ("Parameters", d["params"], lambda x: (
            f"  ~ {x['stage']:<13} {x['name']}: {_fmt(x['old'])} → {_fmt(x['new'])}")),
        ("Libraries", d["libraries"], lambda x: (
            f"  {x['change']:<10} {x['name']} {_fmt(x['old'])} → {_fmt(x['new'])}")),
        ("Licences", d["licences"], lambda x: (
            f"  ~ {x['name']} ({x['what']}): {_fmt(x['old'])} → {_fmt(x['new'])}"))]
    for title, rows, fmt in sections:
        lines += ["", f"{title}: " + ("no change" if not rows else f"{len(rows)} change(s)")]
        lines += [fmt(x) for x in rows]
    ap = d["approvals"]
    n_ap = len(ap["new"]) + len(ap["lost"])
    lines += ["", "Approvals: " + (f"{n_ap} change(s)" if n_ap else "no change")]
    for x in ap["new"]:
        lines.append(f"  + {x['decision']} {x['stage']} by {x['reviewer']}"
                     + ("" if x["verified"] else " (not verified)"))
    for x in ap["lost"]:
        lines.append(f"  - {x['decision']} {x['stage']} by {x['reviewer']}")
    c = d["completeness"]
    lines += ["", f"Completeness: {_fmt(c['a'])} → {_fmt(c['b'])}"]
    # Every value above comes from a bundle: each line is neutralised as a whole (the format
    # strings hold no control characters, so this escapes exactly the values).
    return "\n".join(terminal_safe(line) for line in lines) + "\n"
