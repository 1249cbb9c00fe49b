"""The policy rule on released model files: none may be flagged unsafe by the model scan.

The released files are the products of the latest succeeded deployment step. Each one's
``model-scan`` evidence is found by digest (a scan at training of the same bytes counts), and

* ``unsafe`` or ``error`` (not scanned to its end) fails, naming the file and the worst
  findings — unless the file's recorded path matches ``allow_unsafe_pickles``, an explicit
  exception that is reported as such in every verification;
* ``review`` passes, listing the unfamiliar imports; ``safe`` passes;
* no scan at all (a record made before aitrace scanned models, or ``scan.auto: false``) is
  *skipped*, saying so: never a pass.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aitrace.errors import AitraceError
from aitrace.evidence.model.introspect import MODEL_FORMATS
from aitrace.evidence.sbom._mlbom import artifact_kind
from aitrace.record.stages import EVIDENCE_MODEL_SCAN
from aitrace.verify.checks import Check

if TYPE_CHECKING:
    from aitrace.record.models import Artifact, EvidenceRef, Step
    from aitrace.verify.rules import PolicyContext

CHECK_ID = "policy.model-scan"
TITLE = "Released model files are not flagged unsafe by the model scan"


def allowed_by(path: str, patterns: Sequence[str]) -> str | None:
    """The ``allow_unsafe_pickles`` pattern that matches a recorded path, if any."""
    for p in patterns:
        if fnmatch.fnmatchcase(path, p) or path == p.rstrip("/"):
            return p
    return None


def _latest_scan(ctx: PolicyContext, a: Artifact) -> tuple[Step, EvidenceRef] | None:
    found = None
    for s in ctx.steps:
        for e in s.evidence:
            if e.kind == EVIDENCE_MODEL_SCAN and e.subject is not None \
                    and e.subject.value == a.value:
                found = (s, e)
    return found


def _top(ctx: PolicyContext, ref: EvidenceRef) -> list[str]:
    top = ref.summary.get("top")
    if isinstance(top, list) and top:
        return [str(t) for t in top[:3]]
    data = ctx.object_bytes(ref.sha256)
    if data is None:
        return []
    try:
        from aitrace.evidence.scan.scan import top_findings
        from aitrace.record.jsonio import parse_untrusted

        doc: Any = parse_untrusted(data, f"model scan {ref.sha256[:12]}")
    except AitraceError:
        return []
    return top_findings(doc, 3) if isinstance(doc, Mapping) else []


@dataclass(frozen=True)
class UnsafeModels:
    """Released (deployment) model files carry a model scan that does not flag them."""

    allow: tuple[str, ...] = ()

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """One failure per flagged file; allowed exceptions and missing scans are named."""
        step = ctx.latest("deployment")
        if step is None:
            return [Check(CHECK_ID, TITLE, "skipped", "no succeeded deployment step")]
        out: list[Check] = []
        ok: list[str] = []
        unscanned: list[str] = []
        for a in step.products:
            if a.value is None or a.type == "uri":
                continue
            got = _latest_scan(ctx, a)
            if got is None:
                if artifact_kind(a, step.stage) == "model" and _may_run_code(a):
                    unscanned.append(a.path)
                continue
            scan_step, ref = got
            member = ctx.step_member(scan_step)
            verdict = str(ref.summary.get("verdict"))
            where = f"deployment model {a.path} ({(a.content_id or '')[:19]})"
            if verdict in ("unsafe", "error"):
                what = "flagged unsafe" if verdict == "unsafe" else "not fully scanned"
                findings = "; ".join(_top(ctx, ref)) or "no finding recorded"
                pattern = allowed_by(a.path, self.allow)
                if pattern is not None:
                    out.append(Check(CHECK_ID, TITLE, "passed",
                                     f"EXCEPTION: {where} is {what} ({findings}) but allowed "
                                     f"by allow_unsafe_pickles '{pattern}'", member))
                else:
                    out.append(Check(CHECK_ID, TITLE, "failed",
                                     f"{where} is {what} by the model scan (step "
                                     f"{scan_step.seq} {scan_step.stage}): {findings}", member))
            elif verdict == "review":
                ok.append(f"{a.path} (review: {'; '.join(_top(ctx, ref)) or 'see the scan'})")
            elif verdict == "safe":
                ok.append(a.path)
            else:
                unscanned.append(f"{a.path} ({verdict})")
        if unscanned:
            out.append(Check(CHECK_ID, TITLE, "skipped",
                             "not scanned, so not known to be safe: " + ", ".join(unscanned)
                             + " (record the step again with aitrace's model scan on)",
                             ctx.step_member(step)))
        if ok and not any(c.status == "failed" for c in out):
            out.append(Check(CHECK_ID, TITLE, "passed", "scanned, nothing unsafe: "
                             + ", ".join(ok), ctx.step_member(step)))
        if not out:
            out.append(Check(CHECK_ID, TITLE, "passed",
                             f"step {step.seq} (deployment) released no model file that can "
                             "run code when loaded"))
        return out


def _may_run_code(a: Artifact) -> bool:
    """Whether an unscanned model's format could run code when loaded (pickle family, dirs)."""
    if a.type == "directory":
        return True
    suffix = "." + a.path.rsplit(".", 1)[-1].lower() if "." in a.path else ""
    fmt = MODEL_FORMATS.get(suffix)
    return fmt is None or fmt[1]
