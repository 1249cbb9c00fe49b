"""The terminal summary of a record (``aitrace inspect``): verdict first, then the ten stages.

Content from a bundle that did not verify is printed with an ``[untrusted]`` or ``[FAILED]``
mark on every line that comes from it; control characters from the bundle are neutralised so a
hostile step description cannot rewrite the terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aitrace.report.terminal import terminal_safe
from aitrace.report.view import AuditView, Trust

_MARK: dict[str, str] = {"verified": "", "unverified": " [untrusted]", "failed": " [FAILED]"}


def clean(value: object) -> str:
    """Text from the bundle made safe for a terminal (``aitrace.report.terminal``)."""
    return terminal_safe(value)


def signer_label(signer: Mapping[str, Any]) -> str:
    """A signer as views name it: its key's name where known, its key id, whether it verified."""
    name = clean(signer.get("name") or "")
    kid = clean(signer["keyid"])[:16]
    label = f"{name} ({kid}…)" if name else f"{kid}…"
    return label + (" — signature verified" if signer["verified"] else
                    " — signature not verified")


def _mark(trust: Trust) -> str:
    return _MARK[trust]


def inspect_text(view: AuditView, *, width: int = 100) -> str:
    """The human-readable summary."""
    v = view.verification
    rule = "=" * min(width, 100)
    lines = [rule, clean(v.headline), *(clean(x) for x in v.lines()), rule]
    model = view.model
    lines.append(f"Model:   {clean(model['name'])} {clean(model.get('version') or '')}".rstrip()
                 + (f"  sha256 {model['sha256'][:16]}" if model.get("sha256") else "")
                 + _mark(model["trust"]))
    lines.append(f"Record:  {clean(view.record_name or '-')} ({clean(view.record_id or '-')})")
    signers = ", ".join(signer_label(s) for s in view.signers) or "none"
    lines.append(f"Signers: {signers}")
    if view.policy:
        lines.append(f"Judged:  by policy {clean(view.policy)}")
    lines.append("")
    lines.append("Stages")
    for st in view.stages:
        head = f"  {st.number:>2}. {st.name:<20} {st.status:<9}"
        broken = [f"        ✗ {clean(u.label)} cannot be read [FAILED]: {clean(u.problem)}"
                  for u in st.unreadable]
        if not st.steps:
            lines.append((head + (" [FAILED]" if broken else "")).rstrip())
            lines.extend(broken)
            continue
        last = st.latest
        assert last is not None  # noqa: S101 - steps is not empty
        s = last.step
        who = f"{clean(s.actor.user)}@{clean(s.actor.host)}"
        steps = f"{len(st.steps)} steps" if len(st.steps) > 1 else f"step {s.seq}"
        lines.append(f"{head} {s.ended_at[:19].replace('T', ' ')}  {who}  {steps}"
                     + _mark(st.trust))
        ins = [f"{clean(a.path)}@{(a.sha256 or a.dirHash or '-')[:8]}" for a, _ in st.inputs()]
        outs = [f"{clean(a.path)}@{(a.sha256 or a.dirHash or '-')[:8]}" for a, _ in st.outputs()]
        if ins or outs:
            lines.append(f"        {', '.join(ins[:3]) or '-'}{' …' if len(ins) > 3 else ''}"
                         f" → {', '.join(outs[:3]) or '-'}{' …' if len(outs) > 3 else ''}")
        badges = [clean(b[0]) for b in st.badges()]
        if badges:
            lines.append("        [" + "] [".join(badges) + "]")
        lines.extend(broken)
    failed = v.failed
    if failed:
        lines += ["", f"Failed checks ({len(failed)})"]
        lines += [f"  ✗ {clean(c.title)}: {clean(c.message)}"
                  + (f" ({clean(c.member)})" if c.member else "") for c in failed]
    lic = view.licences()
    if lic:
        lines += ["", "Licences"]
        lines += [f"  {clean(x['name'])} ({x['what']}, {x['stage']}): "
                  f"{clean(x['license'] or 'UNKNOWN')}{_mark(x['trust'])}" for x in lic]
    if view.approvals:
        lines += ["", "Approvals"]
        for a in view.approvals:
            status = (a.decision or "?") if a.ok else f"NOT VERIFIED ({clean(a.problem or '')})"
            lines.append(f"  {clean(a.stage or '?')}: {status} by {clean(a.reviewer or '?')}"
                         f" {clean(a.time or '')} — {clean(a.comment or '')}")
    c = view.completeness
    score = c.get("score")
    lines += ["", f"Completeness: {score if score is not None else '-'} / 100"]
    missing = list(c.get("missing") or [])
    if missing:
        lines.append("  missing: " + "; ".join(clean(m) for m in missing[:20])
                     + (" …" if len(missing) > 20 else ""))
    return "\n".join(lines) + "\n"
