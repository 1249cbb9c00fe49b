"""The auditor's view of a record: one data model behind ``inspect``, ``report`` and ``diff``.

A bundle is untrusted input. This module reads it through a ``RecordSource`` (a bundle opened
with the safe archive reader, or a local workspace), verifies it first when asked, and turns
everything into plain, JSON-able data: stages and steps, evidence digests parsed into the few
facts a reviewer needs (GX expectations with their observed values, SBOM models, datasets and
libraries, environments, risk register, self-check table), approvals, licences and
completeness. Every piece carries a *trust* label: ``verified`` only when the whole bundle
verified; ``failed`` when a check named that very member; ``unverified`` otherwise — so no view
can show unverified content as if it were trusted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from aitrace.errors import AitraceError
from aitrace.evidence.interface import EvidenceSource
from aitrace.evidence.model.introspect import is_model_path
from aitrace.record._model import to_json
from aitrace.record.models import Artifact, EvidenceRef, Step
from aitrace.record.stages import (
    ALL_STAGES,
    EVIDENCE_SBOM,
    POST_DEPLOYMENT,
    RELEASE_STAGES,
    STAGES,
)
from aitrace.report.steps import UnreadableStep, adds_evidence_only, unreadable_steps
from aitrace.verify.checks import check_kind

if TYPE_CHECKING:
    from aitrace.verify.checks import VerifyReport
    from aitrace.verify.verdict import Verdict

Trust = Literal["verified", "unverified", "failed"]
VIEW_FORMAT = "aitrace.inspect/v1"
MAX_EVIDENCE_BYTES = 16 * 2**20  # larger evidence is listed but not parsed for the view


class RecordSource(Protocol):
    """Where the view reads a record from (a bundle opened safely, or a workspace)."""

    label: str

    @property
    def record_id(self) -> str | None: ...

    @property
    def record_name(self) -> str | None: ...

    @property
    def steps(self) -> Sequence[Step]: ...

    def object_bytes(self, sha256: str) -> bytes | None:
        """The evidence object with this digest, or None when it is not there."""

    def approval_envelopes(self) -> Mapping[str, bytes]:
        """Approval envelopes by member / file name."""

    def signer_keyids(self) -> list[str]:
        """Key ids named by the record's signature envelope (empty when unsigned)."""

    def step_member(self, step: Step) -> str | None:
        """The archive member holding ``step`` (for matching failed checks)."""

    def object_member(self, sha256: str) -> str | None:
        """The archive member holding an evidence object."""


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class CheckView:
    """One verification check as shown to an auditor."""

    id: str
    title: str
    status: str
    message: str = ""
    member: str | None = None


@dataclass(frozen=True)
class VerificationView:
    """The verdict shown at the top of every view.

    ``answers`` is the one verdict model (``aitrace.verify.verdict``): integrity and
    signature, record completeness and policy, rendered the same way by every view.
    """

    performed: bool
    ok: bool
    verdict: str
    headline: str
    checks: tuple[CheckView, ...] = ()
    keys_given: bool = False
    answers: Verdict | None = None
    signers: Mapping[str, str] = field(default_factory=dict)  # verified keyid -> key file name

    @property
    def failed(self) -> tuple[CheckView, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if c.status == "failed")

    @property
    def failed_members(self) -> frozenset[str]:
        """Archive members named by a failed integrity check (damaged or unsigned content)."""
        return frozenset(c.member for c in self.failed
                         if c.member and check_kind(c.id) == "integrity")

    @property
    def authentic(self) -> bool:
        """Verification ran and every integrity and signature check passed.

        A policy or record-completeness failure (e.g. chain of custody) says the record is not
        good enough, not that it was tampered with: its content is still exactly what the
        signer attested.
        """
        if self.answers is not None:
            return self.answers.trusted
        return self.performed and not any(
            c.status == "failed" and check_kind(c.id) == "integrity" for c in self.checks)

    def lines(self) -> list[str]:
        """The three answers and the check count, as every view prints them."""
        if self.answers is None:
            return []
        return [*self.answers.lines(), f"Checks:                  {self.answers.counts}"]

    def trust(self, member: str | None) -> Trust:
        """How far content from ``member`` may be trusted."""
        if member and member in self.failed_members:
            return "failed"
        return "verified" if self.authentic else "unverified"


def verification_from_report(report: VerifyReport, *, keys_given: bool) -> VerificationView:
    """The view of ``aitrace.verify.bundle.verify_bundle``'s report: its checks and answers."""
    from aitrace.verify.verdict import verdict_of

    checks = tuple(CheckView(id=c.id, title=c.title, status=c.status, message=c.message,
                             member=c.member) for c in report.checks)
    answers = report.answers or verdict_of(report.checks, policy=report.policy,
                                           completeness=report.completeness)
    names = dict(zip(report.signers, report.signer_names or ("",) * len(report.signers),
                     strict=False))
    return VerificationView(performed=True, ok=report.ok, verdict=report.verdict,
                            headline=answers.headline, checks=checks, keys_given=keys_given,
                            answers=answers, signers=names)


def not_verified(reason: str) -> VerificationView:
    """The view's verdict when no verification ran (e.g. a local workspace)."""
    return VerificationView(performed=False, ok=False, verdict="not verified",
                            headline=f"NOT VERIFIED: {reason}")


# --------------------------------------------------------------------------- evidence facts


def _parse_evidence(kind: str, data: bytes, source: str) -> Mapping[str, Any] | None:
    """The facts a view shows of one evidence object, read by the source of its kind."""
    from aitrace.evidence.registry import source_for
    from aitrace.record.jsonio import parse_untrusted

    if len(data) > MAX_EVIDENCE_BYTES:
        return {"error": f"{len(data)} bytes: too large to show"}
    reader = source_for(kind)
    if type(reader).facts is EvidenceSource.facts:
        return None  # a kind whose documents views do not interpret
    try:
        doc = parse_untrusted(data, source)
    except AitraceError as exc:
        return {"error": exc.message}
    return reader.facts(doc)


# --------------------------------------------------------------------------- the view


@dataclass
class EvidenceView:
    """One evidence reference with its parsed facts."""

    ref: EvidenceRef
    trust: Trust
    present: bool
    facts: Mapping[str, Any] | None = None

    def badge(self) -> tuple[str, str] | None:
        """(text, tone) of the badge shown for this evidence; tone: ok, bad, warn, info."""
        from aitrace.evidence.registry import source_for

        return source_for(self.ref.kind).badge(self.ref, self.facts)


@dataclass
class ApprovalView:
    """A reviewer's sign-off as found and checked."""

    name: str
    ok: bool
    stage: str | None
    step_id: str | None
    reviewer: str | None
    keyid: str | None
    decision: str | None
    time: str | None
    comment: str | None
    problem: str | None


@dataclass
class StepView:
    """One step with its evidence, approvals and trust."""

    step: Step
    trust: Trust
    evidence: list[EvidenceView] = field(default_factory=list)
    approvals: list[ApprovalView] = field(default_factory=list)
    latest: bool = False

    def badges(self) -> list[tuple[str, str]]:
        """Evidence badges: GX, SBOM, MLflow runs, approvals."""
        out = [b for e in self.evidence if (b := e.badge()) is not None]
        for link in self.step.mlflow:
            out.append((f"MLflow {link.run_id[:8]}", "info"))
        for a in self.approvals:
            who = a.reviewer or "?"
            if a.ok:
                out.append((f"{'Approved' if a.decision == 'approved' else 'Rejected'} by "
                            f"{who}", "ok" if a.decision == "approved" else "bad"))
            else:
                out.append((f"Approval by {who} not verified", "warn"))
        return out

    def facts(self, kind: str) -> list[Mapping[str, Any]]:
        """Parsed facts of this step's evidence of one kind."""
        return [e.facts for e in self.evidence if e.ref.kind == kind and e.facts]


@dataclass
class StageView:
    """One of the ten stages: its steps (re-runs included) and a status."""

    id: str
    number: int
    name: str
    name_zh: str
    steps: list[StepView]
    unreadable: list[UnreadableStep] = field(default_factory=list)

    @property
    def unreadable_own(self) -> list[UnreadableStep]:
        """The unreadable steps that name this stage (exactly or nearly), not mere neighbours."""
        return [u for u in self.unreadable if u.placed != "neighbour"]

    @property
    def status(self) -> str:
        """``missing``, ``failed`` (the latest step failed, or one cannot be read), ``recorded``.

        An unreadable step whose stage could not be read at all is only shown beside the step it
        follows in the chain (``placed == "neighbour"``): it does not make that stage failed.
        """
        if self.unreadable_own:
            return "failed"
        if not self.steps:
            return "missing"
        if self.steps[-1].step.status != "succeeded":
            return "failed"
        return "recorded"

    @property
    def reruns(self) -> int:
        """How many steps after the first redo the stage's work (checks added do not count)."""
        work = [sv for sv in self.steps if not adds_evidence_only(sv.step)]
        return max(0, len(work) - 1)

    @property
    def checks_added(self) -> int:
        """Steps that only add checks or assessments to the stage (``aitrace check``...)."""
        return sum(1 for sv in self.steps if adds_evidence_only(sv.step))

    @property
    def latest(self) -> StepView | None:
        """The latest succeeded step (or the latest step when none succeeded)."""
        ok = [s for s in self.steps if s.step.status == "succeeded"]
        return ok[-1] if ok else (self.steps[-1] if self.steps else None)

    def _artifacts(self, attr: str) -> list[tuple[Artifact, StepView]]:
        # Per path, the artifact of the latest succeeded step that has it (a re-run wins).
        chosen: dict[str, tuple[Artifact, StepView]] = {}
        for sv in self.steps:
            if sv.step.status != "succeeded":
                continue
            for a in getattr(sv.step, attr):
                chosen.pop(a.path, None)
                chosen[a.path] = (a, sv)
        return list(chosen.values())

    def inputs(self) -> list[tuple[Artifact, StepView]]:
        """The stage's inputs: per path, from the latest succeeded step that read it."""
        return self._artifacts("materials")

    def outputs(self) -> list[tuple[Artifact, StepView]]:
        """The stage's outputs: per path, from the latest succeeded step that wrote it."""
        return self._artifacts("products")

    def badges(self) -> list[tuple[str, str]]:
        """Evidence badges of all the stage's steps (each badge once)."""
        out: list[tuple[str, str]] = []
        for sv in self.steps:
            for b in sv.badges():
                if b not in out:
                    out.append(b)
        return out

    @property
    def trust(self) -> Trust:
        """The weakest trust of the stage's steps (an unreadable one of this stage: failed)."""
        if self.unreadable_own:
            return "failed"
        order = {"failed": 0, "unverified": 1, "verified": 2}
        return min((s.trust for s in self.steps), key=lambda t: order[t], default="unverified")


@dataclass
class AuditView:
    """Everything ``inspect`` and ``report`` show, built once."""

    label: str
    record_id: str | None
    record_name: str | None
    verification: VerificationView
    signers: list[dict[str, Any]]
    stages: list[StageView]
    approvals: list[ApprovalView]
    completeness: dict[str, Any]
    policy: str | None = None
    unreadable: list[UnreadableStep] = field(default_factory=list)
    post_deployment: list[StageView] = field(default_factory=list)
    monitoring: dict[str, Any] | None = None  # aitrace.report.monitoring.monitoring_view

    @property
    def steps(self) -> list[StepView]:
        """All steps in chain order (development stages and after deployment)."""
        return sorted((s for st in (*self.stages, *self.post_deployment) for s in st.steps),
                      key=lambda s: s.step.seq)

    def evidence_of(self, kind: str) -> list[tuple[StepView, EvidenceView]]:
        """Every piece of evidence of one kind, with its step, in chain order."""
        return [(s, e) for s in self.steps for e in s.evidence if e.ref.kind == kind]

    @property
    def model(self) -> dict[str, Any]:
        """The released model: from the latest deployment (or training) SBOM or products."""
        for stage in RELEASE_STAGES:
            view = next(st for st in self.stages if st.id == stage).latest
            if view is None:
                continue
            for facts in view.facts(EVIDENCE_SBOM):
                for m in facts.get("models", []):
                    return {"name": m["name"], "version": m["version"],
                            "sha256": m.get("sha256"), "stage": stage, "trust": view.trust}
            for a in view.step.products:
                if a.role == "model" or is_model_path(a.path):
                    return {"name": a.path, "version": "", "sha256": a.sha256 or a.dirHash,
                            "stage": stage, "trust": view.trust}
        return {"name": self.record_name or "?", "version": "", "sha256": None, "stage": None,
                "trust": "unverified"}

    def licences(self) -> list[dict[str, Any]]:
        """Licences of data and models, from artifacts and the SBOMs' datasets and models.

        One row per (name, kind) and licence; a row without a licence is dropped when another
        source names one for the same thing (two different licences both stay: a conflict).
        """
        rows: dict[tuple[str, str], list[dict[str, Any]]] = {}

        def add(name: str, lic: str | None, stage: str, what: str, trust: Trust) -> None:
            entries = rows.setdefault((name, what), [])
            if any(e["license"] == lic for e in entries):
                return
            entries.append({"name": name, "license": lic, "stage": stage, "what": what,
                            "trust": trust})

        for sv in self.steps:
            for a in (*sv.step.materials, *sv.step.products):
                if a.license or a.origin:
                    what = _artifact_what(a, sv.step.stage)
                    if what in ("dataset", "model", "base model") or a.license:
                        add(a.path, a.license, sv.step.stage, what, sv.trust)
            for facts in sv.facts(EVIDENCE_SBOM):
                for m in facts.get("models", []):
                    add(m["name"], ", ".join(m["licenses"]) or None, sv.step.stage, "model",
                        sv.trust)
                for d in facts.get("datasets", []):
                    add(d["name"], ", ".join(d["licenses"]) or None, sv.step.stage, "dataset",
                        sv.trust)
                for d in facts.get("configurations", []):
                    if d["licenses"]:  # a config file's licence matters only when declared
                        add(d["name"], ", ".join(d["licenses"]), sv.step.stage,
                            "configuration", sv.trust)
        out: list[dict[str, Any]] = []
        for entries in rows.values():
            known = [e for e in entries if e["license"]]
            out.extend(known or entries[:1])
        return out


def _artifact_what(a: Artifact, stage: str) -> str:
    """What an artifact is, in a licence table's words (by role, else name and stage)."""
    from aitrace.evidence.sbom._mlbom import artifact_kind

    if (a.role or "").lower().replace("_", "-") == "base-model":
        return "base model"
    kind = artifact_kind(a, stage)
    if kind == "other" and a.origin is not None and not a.role:
        return "dataset"  # a declared external source of unknown type: data, by default
    return {"source-code": "code", "other": a.role or "other"}.get(kind, kind)


def _artifact_json(a: Artifact) -> dict[str, Any]:
    out: dict[str, Any] = to_json(a)
    out["short"] = (a.sha256 or a.dirHash or "")[:12]
    return out


def _approval_views(source: RecordSource, steps: Sequence[Step],
                    keys: Sequence[Any]) -> list[ApprovalView]:
    from aitrace.signing.approvals import verify_approvals

    envelopes = source.approval_envelopes()
    if not envelopes:
        return []
    checks = verify_approvals(envelopes, steps, keys)
    return [ApprovalView(name=c.name, ok=c.ok, stage=c.stage, step_id=c.step_id,
                         reviewer=c.reviewer, keyid=c.keyid, decision=c.decision, time=c.time,
                         comment=c.comment, problem=c.problem) for c in checks]


def _completeness(steps: Sequence[Step]) -> dict[str, Any]:
    try:
        from aitrace.record.completeness import completeness
    except ImportError:  # pragma: no cover - the module ships with aitrace
        return {"score": None, "per_stage": {}, "missing": []}
    from aitrace.evidence.registry import source_for

    result = completeness(list(steps), counts=lambda e: source_for(e.kind).emptiness(e) is None)
    data = to_json(result) if not isinstance(result, Mapping) else dict(result)
    return data if isinstance(data, dict) else {"score": None}


def build_view(source: RecordSource, verification: VerificationView,
               keys: Sequence[Any] = (), policy: str | None = None) -> AuditView:
    """Read every step and evidence object of ``source`` into an ``AuditView``."""
    entries = getattr(source, "step_entries", None)  # a bundle: some steps may not parse
    raw_steps = ([e.step for e in entries if e.step is not None] if entries is not None
                 else list(source.steps))
    unreadable = unreadable_steps(entries) if entries is not None else []
    steps = sorted(raw_steps, key=lambda s: s.seq)
    approvals = _approval_views(source, steps, keys)
    by_step: dict[str, list[ApprovalView]] = {}
    for a in approvals:
        if a.step_id:
            by_step.setdefault(a.step_id, []).append(a)
    stage_views: dict[str, StageView] = {
        s.id: StageView(s.id, s.number, s.name, s.name_zh, []) for s in ALL_STAGES}
    for step in steps:
        trust = verification.trust(source.step_member(step))
        sv = StepView(step=step, trust=trust, approvals=by_step.get(step.id, []))
        for ref in step.evidence:
            data = source.object_bytes(ref.sha256)
            e_trust = trust if trust == "failed" else verification.trust(
                source.object_member(ref.sha256))
            facts = None
            if data is not None:
                facts = _parse_evidence(ref.kind, data, f"{source.label}: evidence "
                                                        f"{ref.sha256[:12]} ({ref.kind})")
            sv.evidence.append(EvidenceView(ref=ref, trust=e_trust, present=data is not None,
                                            facts=facts))
        if step.stage in stage_views:
            stage_views[step.stage].steps.append(sv)
    for u in unreadable:
        stage_views[u.stage].unreadable.append(u)
    for st in stage_views.values():
        latest = st.latest
        if latest is not None:
            latest.latest = True
    reviewers = {a.keyid: a.reviewer for a in approvals if a.ok and a.keyid and a.reviewer}
    signers = [{"keyid": k, "verified": k in verification.signers,
                "name": verification.signers.get(k) or reviewers.get(k) or None}
               for k in source.signer_keyids()]
    from aitrace.report.monitoring import monitoring_view

    freshness = [c for c in verification.checks if c.id.startswith("policy.monitoring")]
    return AuditView(label=source.label, record_id=source.record_id,
                     record_name=source.record_name, verification=verification,
                     signers=signers, stages=[stage_views[s.id] for s in STAGES],
                     approvals=approvals, completeness=_completeness(steps), policy=policy,
                     unreadable=unreadable,
                     post_deployment=[stage_views[s.id] for s in POST_DEPLOYMENT],
                     monitoring=monitoring_view(steps, source.object_bytes, keys, freshness))


# --------------------------------------------------------------------------- JSON form


def _step_json(sv: StepView) -> dict[str, Any]:
    s = sv.step
    return {
        "seq": s.seq, "id": s.id, "stage": s.stage, "status": s.status, "trust": sv.trust,
        "latest": sv.latest, "started_at": s.started_at, "ended_at": s.ended_at,
        "actor": f"{s.actor.user}@{s.actor.host}", "digest": s.digest,
        "description": s.description,
        "inputs": [_artifact_json(a) for a in s.materials],
        "outputs": [_artifact_json(a) for a in s.products],
        "evidence": [{"kind": e.ref.kind, "name": e.ref.name, "sha256": e.ref.sha256,
                      "present": e.present, "trust": e.trust,
                      "badge": (e.badge() or (None,))[0]} for e in sv.evidence],
        "mlflow_runs": [m.run_id for m in s.mlflow],
        "params": dict(s.params), "metrics": dict(s.metrics),
        "badges": [b[0] for b in sv.badges()],
        "approvals": [a.name for a in sv.approvals],
    }


def view_json(view: AuditView) -> dict[str, Any]:
    """The documented ``inspect --json`` document (format ``aitrace.inspect/v1``)."""
    v = view.verification
    return {
        "format": VIEW_FORMAT,
        "bundle": view.label,
        "verification": {
            "performed": v.performed, "ok": v.ok, "verdict": v.verdict,
            "headline": v.headline,
            "answers": v.answers.to_dict() if v.answers is not None else None,
            "checks": [to_json_check(c) for c in v.checks],
            "failed": [to_json_check(c) for c in v.failed],
        },
        "record": {"id": view.record_id, "name": view.record_name},
        "model": view.model,
        "signers": view.signers,
        "stages": [{"id": st.id, "number": st.number, "name": st.name, "name_zh": st.name_zh,
                    "status": st.status, "steps": [_step_json(s) for s in st.steps],
                    "unreadable": [vars(u) for u in st.unreadable]}
                   for st in view.stages],
        "approvals": [vars(a) for a in view.approvals],
        "licences": view.licences(),
        "completeness": view.completeness,
        "post_deployment": [{"id": st.id, "number": st.number, "name": st.name,
                             "name_zh": st.name_zh, "status": st.status,
                             "steps": [_step_json(s) for s in st.steps]}
                            for st in view.post_deployment],
        "monitoring": view.monitoring,
    }


def to_json_check(c: CheckView) -> dict[str, Any]:
    """A check as JSON."""
    return {"id": c.id, "title": c.title, "status": c.status, "message": c.message,
            "member": c.member}
