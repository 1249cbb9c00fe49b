"""The policy rule that an assessment is filled in: ``assessments_complete``.

A risk register whose seven items are all ``not_assessed`` — what ``aitrace assess risk
--template`` prints — is a form, not an assessment. With ``assessments_complete: true`` (the
default policy) the latest risk register must rate every item with a mitigation and an owner,
and the latest self-check table must assess every strategy aspect. Whether the documents are
there at all is ``required_evidence``'s business; this rule judges what they say.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aitrace.errors import AitraceError
from aitrace.record.stages import EVIDENCE_CHECKLIST, EVIDENCE_RISK
from aitrace.verify.checks import Check
from aitrace.verify.rules import PolicyContext

CHECK_ID = "policy.assessments"
TITLE = "Risk register and self-check are filled in"


def _latest(ctx: PolicyContext, kind: str) -> tuple[Any, Any] | None:
    found = [(s, e) for s in ctx.steps if s.status == "succeeded"
             for e in s.evidence if e.kind == kind]
    return found[-1] if found else None


def _gaps(ctx: PolicyContext, kind: str, what: str,
          parse: Callable[[Any], list[str]]) -> tuple[list[tuple[str, str | None]], str | None]:
    from aitrace.record.jsonio import parse_untrusted

    latest = _latest(ctx, kind)
    if latest is None:
        return [], None
    step, ref = latest
    member = ctx.step_member(step)
    data = ctx.object_bytes(ref.sha256)
    if data is None:
        return [(f"the {what} of step {step.seq} cannot be read", member)], None
    try:
        gaps = parse(parse_untrusted(data, f"{what} {ref.sha256[:12]}"))
    except AitraceError as exc:
        return [(f"the {what} of step {step.seq} is not valid: {exc.message}", member)], None
    if not gaps:
        return [], f"{what} (step {step.seq}) complete"
    shown = "; ".join(gaps[:7]) + (" …" if len(gaps) > 7 else "")
    return [(f"the {what} of step {step.seq} ({step.stage}) leaves {len(gaps)} item(s) open: "
             f"{shown}", member)], None


@dataclass(frozen=True)
class AssessmentsComplete:
    """Every risk is rated with mitigation and owner; every strategy aspect is assessed."""

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """One failure per incomplete document; skipped when the record holds neither."""
        from aitrace.evidence.governance.models import (
            checklist_from_json,
            checklist_gaps,
            risk_gaps,
            risk_register_from_json,
        )

        risk_fails, risk_ok = _gaps(ctx, EVIDENCE_RISK, "risk register", lambda d: risk_gaps(
            risk_register_from_json(d, source="risk register")))
        check_fails, check_ok = _gaps(ctx, EVIDENCE_CHECKLIST, "self-check table",
                                      lambda d: checklist_gaps(
                                          checklist_from_json(d, source="self-check table")))
        fails = risk_fails + check_fails
        if fails:
            return [Check(CHECK_ID, TITLE, "failed", msg, member) for msg, member in fails]
        done = [x for x in (risk_ok, check_ok) if x]
        if not done:
            return [Check(CHECK_ID, TITLE, "skipped",
                          "the record holds no risk register or self-check table")]
        return [Check(CHECK_ID, TITLE, "passed", "; ".join(done))]
