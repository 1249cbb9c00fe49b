"""Verify a bundle offline: every check runs and is reported as data, never the first only.

``verify_bundle`` opens the archive through the safe reader and runs eight groups of checks
(ids are stable and documented; README "Verification"):

1. ``archive.safe`` — the archive is a safe ZIP (paths, links, sizes, ratios, JSON limits).
2. ``manifest.valid``, ``members.digests``, ``members.missing``, ``members.unlisted``,
   ``members.kinds`` — every member matches the manifest's size and sha256, none is missing or
   unlisted, none is of a kind a bundle never holds.
3. ``signature.trusted`` (DSSE signatures by trusted keys, ``threshold`` distinct keys),
   ``statement.payload-type``, ``statement.valid``, ``statement.manifest-subject`` (the
   manifest's sha256 is a subject), ``statement.released-subjects`` (the other subjects are
   exactly the released artifacts of the record's steps and of the predicate).
4. ``steps.schema`` (every step validates against ``schemas/step.schema.json``),
   ``chain.hash`` (each ``prev`` is the previous step's digest, seq numbers and record id
   hold), ``chain.head`` (the last step is the chain head of the manifest and the predicate,
   and the predicate lists exactly these steps).
5. ``chain.custody`` — see ``custody_gaps``.
6. ``evidence.objects`` (present, right digest and size, none unreferenced),
   ``evidence.gx-bound`` (GX results name a dataset digest among the step's materials or
   products), ``evidence.sbom-schema`` (CycloneDX 1.6 strict schema, and ``sbom.cdx.json`` is
   the release step's SBOM).
7. ``artifact.matches`` — each ``--artifact`` file's sha256 is a statement subject.
8. ``policy.*`` — see ``aitrace.policy``.

A check that fails because of one member names it in ``Check.member``; several failures of the
same check are several ``Check`` entries. A check that cannot run says why (``skipped``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from aitrace.bundle._zip.reader import ArchiveLimits
from aitrace.errors import AitraceError, InputError

if TYPE_CHECKING:
    from aitrace.bundle.core import OpenedBundle, Predicate
    from aitrace.record.models import Step
    from aitrace.signing.core import PublicKey
    from aitrace.verify.policy import Policy

CheckStatus = Literal["passed", "failed", "skipped"]
REPORT_FORMAT = "aitrace.verify/v1"
SBOM_MEDIA_TYPE = "application/vnd.cyclonedx+json"

# Stages where an input may enter the record from outside (declared with an origin), whatever
# its role; at other stages only code, configuration and documents may (see custody_gaps).
EXTERNAL_DATA_STAGES = frozenset({"problem", "collection", "selection", "design"})
EXTERNAL_ANY_STAGE_ROLES = frozenset({"code", "config", "document", "guideline"})


@dataclass(frozen=True)
class Check:
    """One verification check and its outcome.

    Attributes:
        id: stable dotted id (``members.digests``, ``chain.custody``, ``policy.licenses``...).
        title: what the check establishes, in words.
        status: ``passed``, ``failed`` or ``skipped`` (then ``message`` says why).
        message: the detail — for a failure, exactly what is wrong.
        member: the archive member at fault (or checked), when there is one.
    """

    id: str
    title: str
    status: CheckStatus
    message: str = ""
    member: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``verify --json``)."""
        return {"id": self.id, "title": self.title, "status": self.status,
                "message": self.message, "member": self.member}


@dataclass(frozen=True)
class VerifyReport:
    """Everything ``verify_bundle`` found.

    ``ok`` is true when no check failed (skipped checks do not fail a bundle, but the checks
    that always run — safety, digests, signatures, chain — can only be skipped when an earlier
    one failed). ``verdict`` is the one-line summary.
    """

    path: str
    checks: tuple[Check, ...]
    record_id: str | None = None
    record_name: str | None = None
    signers: tuple[str, ...] = ()
    subjects: tuple[tuple[str, str], ...] = ()
    policy: str | None = None

    @property
    def failed(self) -> tuple[Check, ...]:
        """The failed checks."""
        return tuple(c for c in self.checks if c.status == "failed")

    @property
    def ok(self) -> bool:
        """Whether every check passed or was skipped."""
        return not self.failed and any(c.status == "passed" for c in self.checks)

    @property
    def failed_members(self) -> frozenset[str]:
        """Members named by failed checks."""
        return frozenset(c.member for c in self.failed if c.member)

    @property
    def verdict(self) -> str:
        """One line: ``verified`` or how many checks failed."""
        counts = {s: sum(1 for c in self.checks if c.status == s)
                  for s in ("passed", "failed", "skipped")}
        tail = (f"{counts['passed']} passed, {counts['failed']} failed, "
                f"{counts['skipped']} skipped")
        if self.ok:
            return f"VERIFIED: {self.path} ({tail})"
        return f"FAILED: {self.path} ({tail})"

    def to_dict(self) -> dict[str, Any]:
        """The documented ``verify --json`` document (format ``aitrace.verify/v1``)."""
        return {
            "format": REPORT_FORMAT, "bundle": self.path, "ok": self.ok,
            "verdict": self.verdict,
            "record": {"id": self.record_id, "name": self.record_name},
            "signers": list(self.signers), "policy": self.policy,
            "subjects": [{"name": n, "sha256": s} for n, s in self.subjects],
            "checks": [c.to_dict() for c in self.checks],
            "failed": [c.to_dict() for c in self.failed],
        }


class Checks:
    """Collects check results in order (shared with ``aitrace.policy``)."""

    def __init__(self) -> None:
        self.items: list[Check] = []

    def add(self, check: Check) -> None:
        """Append a result."""
        self.items.append(check)

    def passed(self, id: str, title: str, message: str = "", member: str | None = None) -> None:
        """Record a pass."""
        self.add(Check(id, title, "passed", message, member))

    def failed(self, id: str, title: str, message: str, member: str | None = None) -> None:
        """Record a failure."""
        self.add(Check(id, title, "failed", message, member))

    def skipped(self, id: str, title: str, reason: str, member: str | None = None) -> None:
        """Record a check that could not run, and why."""
        self.add(Check(id, title, "skipped", reason, member))

    def outcome(self, id: str, title: str, failures: Sequence[tuple[str, str | None]],
                ok_message: str) -> None:
        """One pass, or one failure per ``(message, member)``."""
        if not failures:
            self.passed(id, title, ok_message)
        for message, member in failures:
            self.failed(id, title, message, member)


def _short(sha: str | None) -> str:
    return f"sha256:{sha[:12]}…" if sha else "no digest"


# =========================================================================== custody


@dataclass(frozen=True)
class CustodyGap:
    """A step input that no earlier step produced and that was not declared external."""

    step: Step
    path: str
    sha256: str | None
    message: str


def custody_gaps(steps: Sequence[Step]) -> list[CustodyGap]:
    """Chain of custody over succeeded steps, in chain order.

    An input (material) of a succeeded step is accounted for when:

    * an earlier succeeded step produced the same bytes (same sha256; a renamed copy counts), or
      took them in as a declared external source; or
    * it is itself a declared external source (``origin`` set) at ``problem``, ``collection``,
      ``selection`` or ``design`` — where data, base models, documents and configuration
      legitimately enter a record — or, at any stage, with role ``code``, ``config``,
      ``document`` or ``guideline`` (scripts and settings are not data).

    Anything else is a gap, named with the step that last produced that path, e.g.
    ``training input data/clean.csv sha256:ab12… was not produced by any earlier step
    (cleaning produced sha256:cd34…)``. Failed and interrupted steps neither produce nor are
    checked: what they left is not part of the record's lineage.
    """
    known: set[str] = set()
    by_path: dict[str, tuple[str, str | None]] = {}
    gaps: list[CustodyGap] = []
    for step in steps:
        if step.status != "succeeded":
            continue
        for m in step.materials:
            if m.sha256 is not None and m.sha256 in known:
                continue
            external = m.origin is not None and (
                step.stage in EXTERNAL_DATA_STAGES or (m.role or "") in EXTERNAL_ANY_STAGE_ROLES)
            if external:
                continue
            label = f"{step.stage} input {m.path} {_short(m.sha256)}"
            if m.origin is not None:
                why = (f"{label} declares an external origin ({m.origin!r}), but external "
                       f"data and models must enter the record at problem, collection, "
                       f"selection or design (or be role code/config/document)")
            elif m.sha256 is None:
                why = f"{label} has no digest and declares no external origin"
            else:
                prior = by_path.get(m.path)
                if prior is not None:
                    why = (f"{label} was not produced by any earlier step ({prior[0]} produced "
                           f"{_short(prior[1])})")
                else:
                    why = (f"{label} was not produced by any earlier step and is not a declared "
                           "external source")
            gaps.append(CustodyGap(step=step, path=m.path, sha256=m.sha256, message=why))
        for m in step.materials:
            if m.sha256 is not None:
                known.add(m.sha256)
        for p in step.products:
            if p.sha256 is not None:
                known.add(p.sha256)
            by_path[p.path] = (step.stage, p.sha256)
    return gaps


# =========================================================================== the checks


@dataclass
class _State:
    """What earlier checks learnt, for later ones."""

    digests: dict[str, tuple[str, int]] = field(default_factory=dict)
    statement: dict[str, Any] | None = None
    predicate: Predicate | None = None
    steps: list[Step] = field(default_factory=list)
    steps_ok: bool = False
    signers: tuple[str, ...] = ()
    subjects: tuple[tuple[str, str], ...] = ()


def _member_digest(ob: OpenedBundle, name: str, st: _State) -> tuple[str, int]:
    if name not in st.digests:
        st.digests[name] = ob.archive.sha256(name)
    return st.digests[name]


def _check_members(ob: OpenedBundle, c: Checks, st: _State) -> None:
    from aitrace.bundle.core import ATTESTATION_MEMBER, MANIFEST_MEMBER, member_kind

    t_manifest = "The manifest is present and well-formed"
    t_digests = "Every member matches the manifest's size and sha256"
    t_missing = "No member listed in the manifest is missing"
    t_unlisted = "No member is missing from the manifest"
    t_kinds = "Every member is of a kind a bundle holds"
    kinds = [(f"member '{n}' is not part of the aitrace.bundle/v1 layout", n)
             for n in ob.names if member_kind(n) is None]
    c.outcome("members.kinds", t_kinds, kinds, f"{len(ob.names)} members of known kinds")
    try:
        manifest = ob.manifest
    except AitraceError as exc:
        c.failed("manifest.valid", t_manifest, exc.message, MANIFEST_MEMBER)
        for cid, title in (("members.digests", t_digests), ("members.missing", t_missing),
                           ("members.unlisted", t_unlisted)):
            c.skipped(cid, title, "the manifest could not be read")
        return
    c.passed("manifest.valid", t_manifest, f"{len(manifest.members)} members listed",
             MANIFEST_MEMBER)
    listed = {m.path: m for m in manifest.members}
    bad: list[tuple[str, str | None]] = []
    missing: list[tuple[str, str | None]] = []
    for m in manifest.members:
        if m.path not in ob.archive:
            missing.append((f"member '{m.path}' is listed in the manifest but not in the archive",
                            m.path))
            continue
        try:
            sha, size = _member_digest(ob, m.path, st)
        except AitraceError as exc:
            bad.append((exc.message, m.path))
            continue
        if sha != m.sha256 or size != m.size:
            bad.append((f"member '{m.path}' has sha256 {sha[:16]}… ({size} bytes) but the "
                        f"manifest says {m.sha256[:16]}… ({m.size} bytes): it was altered",
                        m.path))
    if len(listed) != len(manifest.members):
        bad.append(("the manifest lists a member more than once", MANIFEST_MEMBER))
    c.outcome("members.digests", t_digests, bad, f"{len(listed)} members match")
    c.outcome("members.missing", t_missing, missing, "all listed members are present")
    unlisted = [(f"member '{n}' is not listed in the manifest (added after signing?)", n)
                for n in ob.names
                if n not in listed and n not in (MANIFEST_MEMBER, ATTESTATION_MEMBER)]
    for special in (MANIFEST_MEMBER, ATTESTATION_MEMBER):
        if special in listed:
            unlisted.append((f"the manifest must not list '{special}'", MANIFEST_MEMBER))
    c.outcome("members.unlisted", t_unlisted, unlisted, "every member is listed")


def _check_signature(ob: OpenedBundle, c: Checks, st: _State, keys: Sequence[PublicKey],
                     threshold: int) -> None:
    from aitrace.bundle.core import ATTESTATION_MEMBER, MANIFEST_MEMBER, PREDICATE_TYPE
    from aitrace.signing.core import IN_TOTO_PAYLOAD_TYPE, dsse_verify, parse_statement

    t_sig = f"Signed by at least {threshold} trusted key(s)"
    t_type = f"The envelope's payloadType is {IN_TOTO_PAYLOAD_TYPE}"
    t_stmt = "The payload is an in-toto Statement v1 with the production-record predicate"
    t_msub = "The statement's subject includes manifest.json with its sha256"
    t_rsub = "The other subjects are exactly the released artifacts"
    att = ATTESTATION_MEMBER
    try:
        result = dsse_verify(ob.envelope, keys, threshold, source=f"member '{att}'")
    except AitraceError as exc:
        c.failed("signature.trusted", t_sig, exc.message, att)
        for cid, title in (("statement.payload-type", t_type), ("statement.valid", t_stmt),
                           ("statement.manifest-subject", t_msub),
                           ("statement.released-subjects", t_rsub)):
            c.skipped(cid, title, "the attestation could not be read")
        return
    if not keys:
        c.failed("signature.trusted", t_sig, "no trusted public key was given (--key)", att)
    elif result.ok:
        c.passed("signature.trusted", t_sig, "signed by " + ", ".join(
            k[:16] + "…" for k in result.verified_keyids), att)
    else:
        c.failed("signature.trusted", t_sig, "; ".join(result.problems), att)
    st.signers = result.verified_keyids
    payload, payload_type = result.payload, result.payload_type
    if payload_type == IN_TOTO_PAYLOAD_TYPE:
        c.passed("statement.payload-type", t_type, payload_type, att)
    else:
        c.failed("statement.payload-type", t_type,
                 f"payloadType is {payload_type!r}, not {IN_TOTO_PAYLOAD_TYPE!r}", att)
    try:
        statement = parse_statement(payload, source=f"member '{att}'")
        if statement["predicateType"] != PREDICATE_TYPE:
            raise InputError(f"member '{att}': predicateType is {statement['predicateType']!r}, "
                             f"not {PREDICATE_TYPE!r}")
        predicate = ob.predicate
    except AitraceError as exc:
        c.failed("statement.valid", t_stmt, exc.message, att)
        c.skipped("statement.manifest-subject", t_msub, "the statement could not be read", att)
        c.skipped("statement.released-subjects", t_rsub, "the statement could not be read", att)
        return
    c.passed("statement.valid", t_stmt, PREDICATE_TYPE, att)
    st.statement, st.predicate = statement, predicate
    subjects = [(str(s["name"]), str(s["digest"].get("sha256", ""))) for s in
                statement["subject"]]
    st.subjects = tuple(subjects)
    manifest_subjects = [sha for name, sha in subjects if name == MANIFEST_MEMBER]
    try:
        manifest_sha = hashlib.sha256(ob.manifest_bytes).hexdigest()
    except AitraceError as exc:
        c.failed("statement.manifest-subject", t_msub, exc.message, MANIFEST_MEMBER)
        manifest_sha = None
    if manifest_sha is not None:
        if manifest_subjects == [manifest_sha]:
            c.passed("statement.manifest-subject", t_msub, f"manifest.json {_short(manifest_sha)}",
                     MANIFEST_MEMBER)
        elif not manifest_subjects:
            c.failed("statement.manifest-subject", t_msub,
                     "the statement has no manifest.json subject", att)
        else:
            c.failed("statement.manifest-subject", t_msub,
                     f"manifest.json hashes to {_short(manifest_sha)} but the signed statement "
                     f"says {', '.join(_short(s) for s in manifest_subjects)}: the manifest was "
                     "altered or replaced", MANIFEST_MEMBER)
    others = sorted((n, s) for n, s in subjects if n != MANIFEST_MEMBER)
    expected = sorted((r.path, r.sha256) for r in predicate.released)
    problems: list[tuple[str, str | None]] = []
    if others != expected:
        problems.append((f"the statement's subjects {_pairs(others)} differ from the "
                         f"predicate's released artifacts {_pairs(expected)}", att))
    st.steps = _safe_steps(ob)
    if st.steps:
        from aitrace.bundle.core import release_source, released_artifacts

        rel_step, _src = release_source(st.steps)
        actual = sorted((r.path, r.sha256) for r in released_artifacts(rel_step))
        if others != actual:
            where = f"step {rel_step.seq} ({rel_step.stage})" if rel_step else "no release step"
            problems.append((f"the statement's subjects {_pairs(others)} are not the released "
                             f"artifacts recorded by {where}: {_pairs(actual)}", att))
    c.outcome("statement.released-subjects", t_rsub, problems,
              f"{len(others)} released artifact(s): " + (_pairs(others) if others else "none"))


def _pairs(pairs: Sequence[tuple[str, str]]) -> str:
    return "[" + ", ".join(f"{n} {_short(s)}" for n, s in pairs) + "]"


def _safe_steps(ob: OpenedBundle) -> list[Step]:
    try:
        return [e.step for e in ob.step_entries if e.step is not None]
    except AitraceError:
        return []


def _check_steps(ob: OpenedBundle, c: Checks, st: _State) -> None:
    from aitrace.bundle.core import ATTESTATION_MEMBER, MANIFEST_MEMBER, RECORD_MEMBER, step_member
    from aitrace.record.jsonio import canonical_digest
    from aitrace.schemas import validator

    t_schema = "Every step validates against schemas/step.schema.json"
    t_chain = "The hash chain is intact from the first step"
    t_head = "The last step is the signed chain head and the predicate lists these steps"
    entries = ob.step_entries
    if not entries:
        c.failed("steps.schema", t_schema, "the bundle holds no steps", None)
        c.skipped("chain.hash", t_chain, "no steps")
        c.skipped("chain.head", t_head, "no steps")
        return
    schema = validator("step.schema.json")
    problems: list[tuple[str, str | None]] = []
    for e in entries:
        if e.data is None:
            problems.append((e.problem or "unreadable", e.member))
            continue
        errors = sorted(schema.iter_errors(e.data), key=lambda err: list(err.absolute_path))
        if errors:
            err = errors[0]
            where = "/".join(str(p) for p in err.absolute_path) or "$"
            problems.append((f"member '{e.member}' at {where}: {err.message}", e.member))
        elif e.step is None:
            problems.append((e.problem or "invalid step", e.member))
    c.outcome("steps.schema", t_schema, problems, f"{len(entries)} steps valid")

    try:
        record_id: str | None = ob.record.id
    except AitraceError as exc:
        c.failed("chain.hash", t_chain, exc.message, RECORD_MEMBER)
        record_id = None
    chain: list[tuple[str, str | None]] = []
    prev: str | None = None
    head: str | None = None
    for i, e in enumerate(entries, start=1):
        expected_name = step_member(i)
        if e.member != expected_name:
            chain.append((f"member '{e.member}' is out of sequence: expected '{expected_name}' "
                          "(a step was removed or renamed)", e.member))
        if e.data is None:
            chain.append((f"member '{e.member}' cannot be read, so the chain cannot be followed "
                          "through it", e.member))
            prev = None
            continue
        data = e.data if isinstance(e.data, dict) else {}
        if data.get("seq") != i:
            chain.append((f"member '{e.member}' holds seq {data.get('seq')!r}, expected {i} "
                          "(steps were reordered, removed or inserted)", e.member))
        if i == 1 and data.get("prev") is not None:
            chain.append((f"member '{e.member}' is the first step but its prev is "
                          f"{data.get('prev')!r}: earlier steps were removed", e.member))
        if i > 1 and prev is not None and data.get("prev") != prev:
            chain.append((f"member '{e.member}' has prev {_short(str(data.get('prev')))} but "
                          f"step {i - 1} hashes to {_short(prev)}: a step was edited, removed, "
                          "reordered or replaced", e.member))
        if record_id is not None and data.get("record_id") != record_id:
            chain.append((f"member '{e.member}' belongs to record {data.get('record_id')!r}, "
                          f"not {record_id!r} (record.json)", e.member))
        try:
            prev = canonical_digest(data)
        except (TypeError, ValueError):
            prev = None
        head = prev
    c.outcome("chain.hash", t_chain, chain, f"{len(entries)} steps linked")
    st.steps_ok = not problems and not chain

    heads: list[tuple[str, str | None]] = []
    try:
        m_head = ob.manifest.chain_head
        if m_head != head:
            heads.append((f"the manifest's chain head {_short(m_head)} is not the last step's "
                          f"digest {_short(head)}", MANIFEST_MEMBER))
        if record_id is not None and ob.manifest.record.id != record_id:
            heads.append((f"the manifest names record {ob.manifest.record.id!r}, not "
                          f"{record_id!r}", MANIFEST_MEMBER))
    except AitraceError:
        pass
    pred = st.predicate
    if pred is None:
        heads.append(("there is no readable signed predicate to compare the chain with",
                      ATTESTATION_MEMBER))
    else:
        last = entries[-1].member
        if pred.chain_head != head:
            heads.append((f"the signed chain head {_short(pred.chain_head)} is not the last "
                          f"step's digest {_short(head)} (member '{last}'): steps were added, "
                          "removed or changed after signing", last))
        listed = [(p.seq, p.id, p.digest) for p in pred.steps]
        actual = []
        for i, e in enumerate(entries, start=1):
            if e.step is not None:
                actual.append((e.step.seq, e.step.id, e.step.digest))
            else:
                actual.append((i, "?", "?"))
        if listed != actual:
            first = next((i for i, (a, b) in enumerate(zip(listed, actual, strict=False))
                          if a != b), min(len(listed), len(actual)))
            member = entries[first].member if first < len(entries) else last
            heads.append((f"the signed predicate lists {len(listed)} steps but the bundle holds "
                          f"{len(actual)}; they first differ at step {first + 1}", member))
        if record_id is not None and pred.record.id != record_id:
            heads.append((f"the signed predicate names record {pred.record.id!r}, not "
                          f"{record_id!r}", RECORD_MEMBER))
    c.outcome("chain.head", t_head, heads, f"chain head {_short(head)}")


def _check_custody(ob: OpenedBundle, c: Checks, st: _State) -> None:
    from aitrace.bundle.core import step_member

    title = "Every input was produced by an earlier step or declared as an external source"
    if not st.steps:
        c.skipped("chain.custody", title, "no readable steps")
        return
    gaps = custody_gaps(st.steps)
    c.outcome("chain.custody", title,
              [(g.message, step_member(g.step.seq)) for g in gaps],
              f"{sum(len(s.materials) for s in st.steps)} inputs accounted for")


@dataclass
class _SbomValidator:
    validate: Callable[[str], Any] | None = None


_SBOM = _SbomValidator()


def sbom_schema_error(text: str) -> str | None:
    """The first CycloneDX 1.6 strict-schema error of a JSON document, or None when valid."""
    if _SBOM.validate is None:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator

        _SBOM.validate = JsonStrictValidator(SchemaVersion.V1_6).validate_str
    err = _SBOM.validate(text)
    if err is None:
        return None
    inner = getattr(err, "data", None)
    path = "/".join(str(p) for p in getattr(inner, "absolute_path", ())) or "$"
    return f"at {path}: {getattr(inner, 'message', str(err))}"


def _check_evidence(ob: OpenedBundle, c: Checks, st: _State) -> None:
    from aitrace.bundle.core import SBOM_MEMBER, object_member, release_sbom_ref, step_member
    from aitrace.record.stages import EVIDENCE_GX, EVIDENCE_SBOM

    t_obj = "Every referenced evidence object is present with its digest"
    t_gx = "Great Expectations results are bound to a dataset digest of their step"
    t_sbom = "SBOMs validate against the CycloneDX 1.6 schema"
    if not st.steps:
        for cid, title in (("evidence.objects", t_obj), ("evidence.gx-bound", t_gx),
                           ("evidence.sbom-schema", t_sbom)):
            c.skipped(cid, title, "no readable steps")
        return
    objects: list[tuple[str, str | None]] = []
    good: set[str] = set()
    referenced: set[str] = set()
    sizes: list[tuple[Step, str, int | None, str]] = []
    for s in st.steps:
        for e in s.evidence:
            sizes.append((s, e.sha256, e.size, f"{e.kind} evidence"))
        if s.environment is not None and s.environment.distributions_sha256:
            sizes.append((s, s.environment.distributions_sha256, None, "environment capture"))
    for s, sha, size, what in sizes:
        if sha in referenced:
            continue
        referenced.add(sha)
        name = object_member(sha)
        if name not in ob.archive:
            objects.append((f"step {s.seq} ({s.stage}) references {what} {_short(sha)}, which is "
                            f"not in the bundle (member '{name}')", step_member(s.seq)))
            continue
        try:
            actual, actual_size = _member_digest(ob, name, st)
        except AitraceError as exc:
            objects.append((exc.message, name))
            continue
        if actual != sha:
            objects.append((f"member '{name}' hashes to {_short(actual)}, not the digest in its "
                            "name: the evidence was altered", name))
        elif size is not None and actual_size != size:
            objects.append((f"member '{name}' is {actual_size} bytes but step {s.seq} records "
                            f"{size}", name))
        else:
            good.add(sha)
    for sha in ob.object_shas:
        if sha not in referenced:
            objects.append((f"member '{object_member(sha)}' is not referenced by any step",
                            object_member(sha)))
    c.outcome("evidence.objects", t_obj, objects, f"{len(referenced)} objects present and intact")

    gx: list[tuple[str, str | None]] = []
    n_gx = 0
    for s in st.steps:
        digests = {a.sha256 for a in (*s.materials, *s.products) if a.sha256}
        for e in s.evidence:
            if e.kind != EVIDENCE_GX:
                continue
            n_gx += 1
            label = f"step {s.seq} ({s.stage}) GX result {_short(e.sha256)}"
            if e.subject is None:
                gx.append((f"{label} names no dataset it checked (no subject)",
                           step_member(s.seq)))
            elif e.subject.sha256 not in digests or e.bound is not True:
                gx.append((f"{label} checked {e.subject.path} {_short(e.subject.sha256)}, which "
                           "is not among the step's inputs or outputs (not bound)",
                           step_member(s.seq)))
    if n_gx:
        c.outcome("evidence.gx-bound", t_gx, gx, f"{n_gx} GX result(s) bound to their data")
    else:
        c.skipped("evidence.gx-bound", t_gx, "the record holds no GX results")

    sboms: list[tuple[str, str | None]] = []
    n_sbom = 0
    for s in st.steps:
        for e in s.evidence:
            if e.kind != EVIDENCE_SBOM and e.media_type != SBOM_MEDIA_TYPE:
                continue
            if e.sha256 not in good:
                continue  # already reported as a missing or altered object
            n_sbom += 1
            name = object_member(e.sha256)
            problem = _sbom_problem(ob, name)
            if problem:
                sboms.append((f"step {s.seq} ({s.stage}) SBOM member '{name}' {problem}", name))
    expected = release_sbom_ref(st.steps)
    if SBOM_MEMBER in ob.archive:
        n_sbom += 1
        problem = _sbom_problem(ob, SBOM_MEMBER)
        if problem:
            sboms.append((f"member '{SBOM_MEMBER}' {problem}", SBOM_MEMBER))
        sbom_sha: str | None
        try:
            sbom_sha = _member_digest(ob, SBOM_MEMBER, st)[0]
        except AitraceError:
            sbom_sha = None
        if expected is None:
            sboms.append((f"member '{SBOM_MEMBER}' is present but no release step has SBOM "
                          "evidence", SBOM_MEMBER))
        elif sbom_sha is not None and sbom_sha != expected[1]:
            sboms.append((f"member '{SBOM_MEMBER}' hashes to {_short(sbom_sha)}, not the SBOM of "
                          f"step {expected[0].seq} ({expected[0].stage}) {_short(expected[1])}",
                          SBOM_MEMBER))
    elif expected is not None:
        sboms.append((f"step {expected[0].seq} ({expected[0].stage}) has SBOM evidence but the "
                      f"bundle has no '{SBOM_MEMBER}'", SBOM_MEMBER))
    if n_sbom:
        c.outcome("evidence.sbom-schema", t_sbom, sboms, f"{n_sbom} SBOM document(s) valid")
    else:
        c.skipped("evidence.sbom-schema", t_sbom, "the record holds no SBOM")


def _sbom_problem(ob: OpenedBundle, name: str) -> str | None:
    try:
        data = ob.archive.read(name, max_size=ob.archive.limits.max_json_size)
        ob_parse(ob, data, name)
        text = data.decode("utf-8")
    except (AitraceError, UnicodeDecodeError) as exc:
        return f"is not valid JSON ({getattr(exc, 'message', exc)})"
    error = sbom_schema_error(text)
    return f"is not valid CycloneDX 1.6: {error}" if error else None


def ob_parse(ob: OpenedBundle, data: bytes, name: str) -> Any:
    """Parse a member's JSON with the bundle's limits."""
    from aitrace.bundle._zip.reader import parse_json

    return parse_json(data, f"{ob.label}: member '{name}'", ob.archive.limits)


def _check_artifacts(artifacts: Sequence[tuple[Path, str]], c: Checks, st: _State) -> None:
    from aitrace.bundle.core import MANIFEST_MEMBER

    title = "The given artifact is a signed subject (the recorded released file)"
    if not artifacts:
        return
    subjects = [(n, s) for n, s in st.subjects if n != MANIFEST_MEMBER]
    for path, sha in artifacts:
        names = [n for n, s in subjects if s == sha]
        if st.statement is None:
            c.skipped("artifact.matches", title, f"{path}: the statement could not be read")
        elif names:
            c.passed("artifact.matches", title,
                     f"{path} {_short(sha)} is the released artifact {', '.join(names)}")
        else:
            c.failed("artifact.matches", title,
                     f"{path} hashes to {_short(sha)}, which matches no released artifact "
                     f"({_pairs(subjects) if subjects else 'none'})")


def verify_bundle(
    path: Path,
    keys: Sequence[PublicKey],
    threshold: int = 1,
    policy: Policy | None = None,
    artifacts: Sequence[Path] = (),
    limits: ArchiveLimits | None = None,
    *,
    now: datetime | None = None,
) -> VerifyReport:
    """Verify the bundle at ``path``; every check is run and returned, none raises.

    Args:
        path: the ``.aitrace`` archive.
        keys: trusted public keys (attestation signers and reviewers of approvals).
        threshold: how many distinct trusted keys must have signed the attestation.
        policy: the policy to evaluate (``None``: no policy checks; the CLI passes the
            default policy when none is given).
        artifacts: files whose sha256 must be a statement subject.
        limits: archive limits (defaults are generous for bundles that embed weights).
        now: the current time for ``max_age_days`` (tests).

    Raises:
        InputError: the archive or an artifact cannot be opened at all (not a verdict: a usage
            problem), or ``threshold`` is below 1.
    """
    from aitrace.bundle.core import OpenedBundle
    from aitrace.store.digest import hash_file

    if threshold < 1:
        raise InputError(f"threshold must be at least 1 (got {threshold})",
                         hint="pass --threshold 1 or more")
    hashed: list[tuple[Path, str]] = []
    for a in artifacts:
        try:
            hashed.append((Path(a), hash_file(Path(a))[0]))
        except OSError as exc:
            raise InputError(f"--artifact {a}: cannot read it ({exc.strerror or exc})",
                             hint="give the path of the deployed model file") from None
    c = Checks()
    st = _State()
    title = "The archive is a safe ZIP (paths, links, sizes, ratios, JSON limits)"
    try:
        ob = OpenedBundle.open(Path(path), limits or ArchiveLimits())
    except InputError:
        raise
    except AitraceError as exc:
        c.failed("archive.safe", title, exc.message, _member_in(exc.message))
        c.skipped("signature.trusted", "Signed by trusted keys",
                  "the archive is unsafe and was not read further")
        return VerifyReport(path=str(path), checks=tuple(c.items),
                            policy=policy.name if policy else None)
    with ob:
        c.passed("archive.safe", title, f"{len(ob.names)} members, all safe")
        _check_members(ob, c, st)
        _check_signature(ob, c, st, keys, threshold)
        _check_steps(ob, c, st)
        if not st.steps:
            st.steps = _safe_steps(ob)
        _check_custody(ob, c, st)
        _check_evidence(ob, c, st)
        _check_artifacts(hashed, c, st)
        if policy is not None:
            from aitrace.verify.policy import PolicyContext

            ctx = PolicyContext.from_bundle(ob, st.steps, keys, now=now)
            for check in policy.evaluate(ctx):
                # A policy failure is a judgement on content, not damage to a member.
                c.add(replace(check, member=None))
        else:
            c.skipped("policy", "The record meets the policy", "no policy was given")
        return VerifyReport(path=str(path), checks=tuple(c.items), record_id=ob.record_id,
                            record_name=ob.record_name, signers=st.signers,
                            subjects=st.subjects, policy=policy.name if policy else None)


def _member_in(message: str) -> str | None:
    import re

    m = re.search(r"member '([^']+)'", message)
    return m.group(1) if m else None
