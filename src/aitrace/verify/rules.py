"""The rules a policy is made of, and the context they are evaluated against.

Each rule is a ``Rule`` (a protocol: ``evaluate(ctx) -> list[Check]``) that reports every
finding as a ``Check``; ``AllOf`` and ``AnyOf`` combine rules (as sigstore's verification
policies do). ``aitrace.verify.policy`` builds the ``AllOf`` a policy file asks for.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from aitrace.errors import AitraceError
from aitrace.evidence.licenses import license_ids
from aitrace.record._model import field, model
from aitrace.record.stages import EVIDENCE_GX, EVIDENCE_SBOM, STAGE_IDS, StageId
from aitrace.record.times import parse_utc
from aitrace.verify.checks import Check
from aitrace.verify.roles import KeyRoles

if TYPE_CHECKING:
    from aitrace.bundle.read import OpenedBundle
    from aitrace.record.models import EvidenceRef, Step
    from aitrace.signing.keys import PublicKey


Op = Literal[">=", ">", "<=", "<", "==", "!="]
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
    "==": operator.eq, "!=": operator.ne,
}
_COMPARISON = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
                         r"\s*$")


def parse_comparison(text: str) -> tuple[str, float] | None:
    """``(op, value)`` of a comparison such as ``">= 0.85"``, or None when malformed."""
    m = _COMPARISON.match(text)
    return (m.group(1), float(m.group(2))) if m else None


def compare(op: str, value: float, bound: float) -> bool:
    """Whether ``value op bound`` holds (``op`` from ``parse_comparison``)."""
    return _OPS[op](value, bound)


# =========================================================================== loading


# =========================================================================== the model


@model
class MetricThreshold:
    """A bound on a metric of the latest succeeded step of a stage that logged it."""

    metric: str
    op: Op
    value: float
    stage: StageId = "evaluation"


@model
class LicenseRules:
    """Allowed and denied licences (shell-style globs, case-insensitive)."""

    allow: tuple[str, ...] = field(default=(), description="when non-empty, only these")
    deny: tuple[str, ...] = field(default=(), description="never these (e.g. CC-BY-NC-*)")
    require_known: bool = field(
        default=False, description="declared external sources must name a licence")


@model
class ApprovalRule:
    """Signed reviewer approvals a stage's latest succeeded step must have."""

    stage: StageId
    count: int = field(default=1, description="distinct approving keys needed (>= 1)")
    keyids: tuple[str, ...] = field(
        default=(), description="only these approver key ids count (empty: any approver key)")


@dataclass
class PolicyContext:
    """What a policy is evaluated against (from a bundle, or a workspace).

    ``approver_keys`` are the keys trusted to sign approvals (``--approver-key``), never the
    release keys; ``signers`` the key ids whose signatures on the attestation verified.
    """

    steps: Sequence[Step]
    created_at: str | None = None
    approver_keys: Sequence[PublicKey] = ()
    approvals: Mapping[str, bytes] = dc_field(default_factory=dict)
    object_bytes: Callable[[str], bytes | None] = lambda _sha: None
    step_member: Callable[[Step], str | None] = lambda _s: None
    now: datetime | None = None
    signers: tuple[str, ...] = ()

    @classmethod
    def from_bundle(cls, ob: OpenedBundle, steps: Sequence[Step],
                    approver_keys: Sequence[PublicKey], *, signers: Sequence[str] = (),
                    now: datetime | None = None) -> PolicyContext:
        """The context of an opened bundle (its content as read, checked by verify)."""
        created: str | None
        try:
            created = ob.manifest.created_at
        except AitraceError:
            created = steps[-1].ended_at if steps else None
        try:
            approvals: Mapping[str, bytes] = ob.approvals
        except AitraceError:
            approvals = {}
        return cls(steps=steps, created_at=created, approver_keys=approver_keys,
                   approvals=approvals, object_bytes=ob.object_bytes,
                   step_member=ob.step_member, now=now, signers=tuple(signers))

    def succeeded(self, stage: str) -> list[Step]:
        """The succeeded steps of ``stage`` in chain order."""
        return [s for s in self.steps if s.stage == stage and s.status == "succeeded"]

    def latest(self, stage: str) -> Step | None:
        """The latest succeeded step of ``stage``."""
        found = self.succeeded(stage)
        return found[-1] if found else None

    def latest_metric(self, stage: str, metric: str) -> tuple[Step, float] | None:
        """The value of ``metric`` in the latest succeeded step of ``stage`` that logged it.

        A metric the step's own MLflow run logged counts too: it is recorded as
        ``mlflow.<metric>`` (``aitrace.evidence.mlflow.observe``); the step's own value wins.
        """
        from aitrace.verify.order import metric_value

        for s in reversed(self.succeeded(stage)):
            value = metric_value(s, metric)
            if value is not None:
                return s, value
        return None


class Rule(Protocol):
    """One policy requirement: checks a context, reports each finding as a ``Check``."""

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """The checks of this rule."""
        ...


def _check(cid: str, title: str, failures: Sequence[tuple[str, str | None]],
           ok: str) -> list[Check]:
    if not failures:
        return [Check(cid, title, "passed", ok)]
    return [Check(cid, title, "failed", msg, member) for msg, member in failures]


@dataclass(frozen=True)
class AllOf:
    """Every rule's checks (all must pass)."""

    rules: tuple[Rule, ...]

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """Concatenate every rule's checks."""
        out: list[Check] = []
        for r in self.rules:
            out.extend(r.evaluate(ctx))
        return out


@dataclass(frozen=True)
class AnyOf:
    """Passes when one rule passes entirely; else reports every rule's failures."""

    rules: tuple[Rule, ...]
    id: str = "policy.any-of"
    title: str = "One of several alternatives holds"

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """One passed check naming the alternative that held, or all failures."""
        failures: list[Check] = []
        for i, r in enumerate(self.rules):
            checks = r.evaluate(ctx)
            if not any(c.status == "failed" for c in checks):
                return [Check(self.id, self.title, "passed", f"alternative {i + 1} holds: "
                              + "; ".join(c.message for c in checks))]
            failures.extend(c for c in checks if c.status == "failed")
        return [Check(self.id, self.title, "failed", c.message, c.member) for c in failures]


# =========================================================================== rules


@dataclass(frozen=True)
class RequiredStages:
    """Each listed stage has a succeeded step."""

    stages: tuple[str, ...]

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """One failure per missing stage."""
        fails = []
        for st in self.stages:
            if ctx.latest(st) is None:
                tried = [s for s in ctx.steps if s.stage == st]
                extra = (f" (its latest step {tried[-1].seq} {tried[-1].status})" if tried
                         else "")
                fails.append((f"stage '{st}' has no succeeded step{extra}", None))
        return _check("policy.required-stages", "Required stages are recorded", fails,
                      f"{len(self.stages)} required stage(s) present")


@dataclass(frozen=True)
class RequiredEvidence:
    """The succeeded steps of each stage carry the listed evidence kinds."""

    evidence: Mapping[str, tuple[str, ...]]

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """One failure per (stage, kind) missing; evidence that shows nothing does not count."""
        fails: list[tuple[str, str | None]] = []
        n = 0
        for stage, kinds in self.evidence.items():
            steps = ctx.succeeded(stage)
            for kind in kinds:
                n += 1
                found = [(s, e) for s in steps for e in s.evidence if e.kind == kind]
                empty = [(s, why) for s, e in found if (why := emptiness(e)) is not None]
                if found and len(empty) < len(found):
                    continue
                if found:
                    s, why = empty[-1]
                    fails.append((f"stage '{stage}' has {kind} evidence, but it shows nothing: "
                                  f"step {s.seq}'s is {why}", ctx.step_member(s)))
                    continue
                where = (f"its {len(steps)} succeeded step(s)" if steps
                         else "it has no succeeded step")
                member = ctx.step_member(steps[-1]) if steps else None
                fails.append((f"stage '{stage}' has no {kind} evidence ({where})", member))
        return _check("policy.required-evidence", "Required evidence is attached", fails,
                      f"{n} required evidence item(s) present")


def emptiness(ref: EvidenceRef) -> str | None:
    """Why ``ref`` shows nothing (a check of nothing, a template left blank), or ``None``."""
    from aitrace.evidence.registry import source_for

    return source_for(ref.kind).emptiness(ref)


def _gx_evaluated(ctx: PolicyContext, ref: EvidenceRef) -> int | None:
    """How many expectations a GX result evaluated (its summary, else its document)."""
    value = ref.summary.get("evaluated")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    data = ctx.object_bytes(ref.sha256)
    if data is None:
        return None
    try:
        from aitrace.record.jsonio import parse_untrusted

        doc = parse_untrusted(data, f"GX result {ref.sha256[:12]}")
    except AitraceError:
        return None
    stats = doc.get("statistics") if isinstance(doc, dict) else None
    count = stats.get("evaluated_expectations") if isinstance(stats, dict) else None
    return int(count) if isinstance(count, int) and not isinstance(count, bool) else None


def _gx_success(ctx: PolicyContext, sha: str, summary: Mapping[str, Any]) -> bool | None:
    value = summary.get("success")
    if isinstance(value, bool):
        return value
    data = ctx.object_bytes(sha)
    if data is None:
        return None
    try:
        from aitrace.record.jsonio import parse_untrusted

        doc = parse_untrusted(data, f"GX result {sha[:12]}")
    except AitraceError:
        return None
    result = doc.get("success") if isinstance(doc, dict) else None
    return result if isinstance(result, bool) else None


@dataclass(frozen=True)
class GxPassed:
    """In each stage, the GX results of the latest step that has any all succeeded."""

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """One failure per failed (or unreadable) GX result; a check of nothing is no pass.

        A result that evaluated no expectation is reported as checking nothing; a stage whose
        latest GX step only has such results fails, since nothing there was checked.
        """
        fails: list[tuple[str, str | None]] = []
        nothing: list[str] = []
        n = 0
        for stage in STAGE_IDS:
            with_gx = [s for s in ctx.succeeded(stage) if any(e.kind == EVIDENCE_GX
                                                              for e in s.evidence)]
            if not with_gx:
                continue
            step = with_gx[-1]
            results = [e for e in step.evidence if e.kind == EVIDENCE_GX]
            empty = [e for e in results if _gx_evaluated(ctx, e) == 0]
            for e in results:
                what = e.subject.path if e.subject else (e.name or e.sha256[:12])
                if e in empty:
                    label = f"{e.summary['pack']} pack" if e.summary.get("pack") else (
                        e.name or "suite")
                    nothing.append(f"step {step.seq} ({stage}) {label} on {what}")
                    if len(empty) == len(results):
                        fails.append((f"step {step.seq} ({stage}) GX result ({label}) for "
                                      f"{what} checked nothing (0 expectations evaluated): "
                                      "nothing checked is not a pass", ctx.step_member(step)))
                    continue
                n += 1
                ok = _gx_success(ctx, e.sha256, e.summary)
                if ok is None:
                    fails.append((f"step {step.seq} ({stage}) GX result for {what} cannot be "
                                  "read to tell whether it passed", ctx.step_member(step)))
                elif not ok:
                    stats = e.summary.get("statistics") or e.summary
                    detail = ""
                    if isinstance(stats, Mapping) and "unsuccessful_expectations" in stats:
                        detail = f" ({stats['unsuccessful_expectations']} expectation(s) failed)"
                    fails.append((f"step {step.seq} ({stage}) GX result for {what} did not "
                                  f"pass{detail}", ctx.step_member(step)))
        if not n and not nothing:
            return [Check("policy.gx-passed", "Great Expectations checks passed", "skipped",
                          "the record holds no GX results")]
        passed = f"{n} GX result(s) passed"
        if nothing:
            passed += f"; {len(nothing)} checked nothing (0 expectations): " + "; ".join(nothing)
        return _check("policy.gx-passed", "Great Expectations checks passed", fails, passed)


def _matches(lic: str, patterns: Sequence[str]) -> str | None:
    for p in patterns:
        if fnmatch.fnmatchcase(lic.casefold(), p.casefold()):
            return p
    return None


def superseded(steps: Sequence[Step]) -> set[str]:
    """Ids of succeeded steps a later succeeded step of the same stage replaced.

    A step is replaced when a later one of its stage wrote all of its outputs again (the same
    paths): the re-run wins, as in the views. Steps without outputs are never replaced.

    Read from the last step back, each (stage, path) knows the later steps that wrote it; a
    step is replaced when one of them wrote every one of its paths. Linear in the record for
    steps with their own outputs (a 10,000-step record is not compared pairwise).
    """
    out: set[str] = set()
    writers: dict[tuple[str, str], set[int]] = {}
    ok = [s for s in steps if s.status == "succeeded"]
    for i in range(len(ok) - 1, -1, -1):
        s = ok[i]
        paths = {a.path for a in s.products}
        if paths:
            later = sorted((writers.get((s.stage, p), set()) for p in paths), key=len)
            if later[0] and any(all(j in w for w in later[1:]) for j in later[0]):
                out.add(s.id)
        for p in paths:
            writers.setdefault((s.stage, p), set()).add(i)
    return out


@dataclass(frozen=True)
class Licenses:
    """Declared licences of data and models respect the allow and deny lists.

    Licences of steps a re-run replaced (``superseded``) no longer count: replacing a base
    model whose licence is denied, by re-running its stage, clears the finding.
    """

    rules: LicenseRules

    def _declared(self, ctx: PolicyContext) -> list[tuple[str, str | None, str, Step]]:
        found: list[tuple[str, str | None, str, Step]] = []
        replaced = superseded(ctx.steps)
        for s in ctx.steps:
            if s.status != "succeeded" or s.id in replaced:
                continue
            for a in s.materials:
                if a.license is not None or a.origin is not None:
                    found.append((f"{s.stage} input {a.path}", a.license, "external"
                                  if a.origin is not None else "input", s))
            for a in s.products:
                if a.license is not None:
                    found.append((f"{s.stage} output {a.path}", a.license, "output", s))
            for e in s.evidence:
                if e.kind != EVIDENCE_SBOM:
                    continue
                lic = e.summary.get("licenses")
                if not isinstance(lic, Mapping):
                    continue
                for group, label in (("data", "dataset"), ("base_models", "base model"),
                                     ("models", "model")):
                    entries = lic.get(group)
                    if isinstance(entries, Mapping):
                        for name, value in entries.items():
                            found.append((f"{s.stage} SBOM {label} {name}",
                                          value if isinstance(value, str) else None, "sbom", s))
        return found

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """One failure per offending licence."""
        fails: list[tuple[str, str | None]] = []
        found = self._declared(ctx)
        seen: set[tuple[str, str | None]] = set()
        for what, lic, origin, step in found:
            if (what, lic) in seen:
                continue
            seen.add((what, lic))
            member = ctx.step_member(step)
            if lic is None or not lic.strip():
                if self.rules.require_known and origin in ("external", "sbom"):
                    fails.append((f"{what} declares no licence", member))
                continue
            for lid in license_ids(lic):
                denied = _matches(lid, self.rules.deny)
                if denied:
                    fails.append((f"{what} is licensed {lic}: '{lid}' is denied by "
                                  f"'{denied}'", member))
                elif self.rules.allow and not _matches(lid, self.rules.allow):
                    fails.append((f"{what} is licensed {lic}: '{lid}' is not in the allowed "
                                  "list", member))
        return _check("policy.licenses", "Licences of data and models are allowed", fails,
                      f"{len(seen)} declared licence(s) allowed")


@dataclass(frozen=True)
class Approvals:
    """The latest succeeded step of a stage has ``count`` signed approvals.

    Approvals are checked against the approver keys only; with ``roles``, a key the policy
    does not let approve (not in ``keys.approvers``, or named only as a release key) does
    not count.
    """

    rule: ApprovalRule
    roles: KeyRoles | None = None

    def _may_approve(self, keyid: str | None) -> bool:
        r, roles = self.rule, self.roles
        if r.keyids and keyid not in r.keyids:
            return False
        if roles is None:
            return True
        if roles.approvers:
            return keyid in roles.approvers
        return keyid not in roles.release

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """One check for the rule."""
        from aitrace.signing.approvals import verify_approvals

        r = self.rule
        cid, title = "policy.approvals", f"Stage '{r.stage}' has {r.count} approval(s)"
        step = ctx.latest(r.stage)
        if step is None:
            return [Check(cid, title, "failed", f"stage '{r.stage}' has no succeeded step to "
                          "approve")]
        member = ctx.step_member(step)
        checks = (verify_approvals(ctx.approvals, ctx.steps, ctx.approver_keys)
                  if ctx.approvals else [])
        mine = [a for a in checks if a.step_id == step.id]
        eligible = [a for a in mine if a.ok and self._may_approve(a.keyid)]
        approved = sorted({a.keyid for a in eligible if a.decision == "approved" and a.keyid})
        rejected = [a for a in eligible if a.decision == "rejected"]
        problems = [a for a in mine if not a.ok]
        if rejected:
            who = ", ".join(f"{a.reviewer} ({(a.keyid or '')[:12]}…)" for a in rejected)
            return [Check(cid, title, "failed", f"step {step.seq} ({r.stage}) was rejected by "
                          f"{who}", member)]
        if len(approved) >= r.count:
            return [Check(cid, title, "passed", f"step {step.seq} approved by "
                          + ", ".join(k[:12] + "…" for k in approved), member)]
        detail = f"step {step.seq} ({r.stage}) has {len(approved)} of {r.count} approvals"
        if r.keyids or (self.roles and (self.roles.approvers or self.roles.release)):
            detail += " from the named reviewer keys"
        if not ctx.approver_keys and mine:
            detail += " (no approver key was given: pass reviewers' keys with --approver-key)"
        if problems:
            detail += "; not counted: " + "; ".join(f"{a.name}: {a.problem}" for a in problems)
        return [Check(cid, title, "failed", detail, member)]


@dataclass(frozen=True)
class MaxAge:
    """The record is at most ``days`` old (from its created_at, its last step)."""

    days: float

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """One check."""
        cid, title = "policy.max-age", f"The record is at most {self.days:g} days old"
        created = parse_utc(ctx.created_at) if ctx.created_at else None
        if created is None:
            return [Check(cid, title, "failed", f"the creation time {ctx.created_at!r} cannot "
                          "be read")]
        from aitrace.verify.order import CLOCK_TOLERANCE

        now = ctx.now or datetime.now(UTC)
        age = (now - created).total_seconds() / 86400
        if created > now + CLOCK_TOLERANCE:
            return [Check(cid, title, "failed",
                          f"created {ctx.created_at}, {-age:.1f} days in the future (now "
                          f"{now:%Y-%m-%dT%H:%M:%SZ}): a post-dated record, or this machine's "
                          "clock is behind")]
        status: Literal["passed", "failed"] = "passed" if age <= self.days else "failed"
        return [Check(cid, title, status, f"created {ctx.created_at}, {max(age, 0):.1f} days "
                                          "ago")]


@dataclass(frozen=True)
class MinCompleteness:
    """The completeness score (``aitrace.record.completeness``) is at least ``minimum``."""

    minimum: int

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """One check, listing what is missing when it fails."""
        from aitrace.record.completeness import completeness

        result = completeness(ctx.steps, counts=lambda e: emptiness(e) is None)
        cid, title = "policy.completeness", f"The record is at least {self.minimum}% complete"
        if result.score >= self.minimum:
            return [Check(cid, title, "passed", f"completeness {result.score}%")]
        shown = ", ".join(result.missing[:12]) + (" …" if len(result.missing) > 12 else "")
        return [Check(cid, title, "failed", f"completeness {result.score}% < {self.minimum}%; "
                      f"missing: {shown}")]


