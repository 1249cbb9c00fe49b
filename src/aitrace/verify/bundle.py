"""Verify a bundle offline: every check runs and is reported as data, never the first only.

``verify_bundle`` opens the archive through the safe reader and runs eight groups of checks
(ids are stable and documented; README "Verification"):

1. ``archive.safe`` — the archive is a safe ZIP (paths, links, sizes, ratios, JSON limits).
2. ``manifest.valid``, ``members.digests``, ``members.missing``, ``members.unlisted``,
   ``members.kinds``, ``members.canonical`` — every member matches the manifest's size and
   sha256, none is missing or unlisted, none is of a kind a bundle never holds, and (format v2)
   every aitrace JSON member is exactly its RFC 8785 canonical bytes.
3. ``signature.trusted`` (DSSE signatures by trusted release keys, ``threshold`` distinct
   keys; a signature by a key given only as an approver key is named as such),
   ``statement.payload-type``, ``statement.valid``, ``statement.manifest-subject`` (the
   manifest's sha256 is a subject), ``statement.released-subjects`` (the other subjects are
   exactly the released artifacts of the record's steps and of the predicate).
4. ``steps.schema``, ``chain.hash``, ``chain.head`` — the steps parse, link (each step's digest
   as its format defines it; formats v1 → migration → v2 only) and end at the signed chain head.
5. ``chain.custody`` — see ``aitrace.verify.custody``; ``chain.time`` (time never runs
   backwards along the chain, nothing is dated in the future) and ``chain.preregistration``
   (success criteria were recorded before the evaluation they judge) — see
   ``aitrace.verify.order``: what a re-linked, re-signed history cannot hide.
6. ``evidence.objects``, ``evidence.gx-bound``, ``evidence.sbom-schema`` — see
   ``aitrace.verify.evidence``; ``evidence.monitoring`` when the record holds monitoring
   evidence — see ``aitrace.verify.monitoring``.
7. ``artifact.matches`` — each ``--artifact`` file's (or folder's) sha256 is a statement subject.
8. ``policy.*`` — see ``aitrace.verify.policy``.

A check that fails because of one member names it in ``Check.member``; several failures of the
same check are several ``Check`` entries. A check that cannot run says why (``skipped``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aitrace.bundle._zip.limits import ArchiveLimits
from aitrace.errors import AitraceError, InputError
from aitrace.verify._state import _member_digest, _safe_steps, _State
from aitrace.verify.checks import Checks, VerifyReport, abbrev, check_kind, signer_label
from aitrace.verify.custody import custody_gaps
from aitrace.verify.evidence import _check_evidence
from aitrace.verify.monitoring import check_monitoring
from aitrace.verify.signature import check_signature
from aitrace.verify.verdict import verdict_of

if TYPE_CHECKING:
    from aitrace.bundle.read import OpenedBundle
    from aitrace.record.models import Step
    from aitrace.signing.keys import PublicKey
    from aitrace.verify.policy import Policy


# =========================================================================== the checks




def _check_members(ob: OpenedBundle, c: Checks, st: _State) -> None:
    from aitrace.bundle.format import ATTESTATION_MEMBER, MANIFEST_MEMBER, member_kind

    t_manifest = "The manifest is present and well-formed"
    t_digests = "Every member matches the manifest's size and sha256"
    t_missing = "No member listed in the manifest is missing"
    t_unlisted = "No member is missing from the manifest"
    t_kinds = "Every member is of a kind a bundle holds"
    kinds = [(f"member '{n}' is not part of the aitrace bundle layout", n)
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
            st.altered.add(m.path)
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
    _check_canonical(ob, c, manifest.format)


def _check_canonical(ob: OpenedBundle, c: Checks, bundle_format: str) -> None:
    """Format v2: aitrace's JSON members are their RFC 8785 bytes; approvals parse strictly.

    The manifest, the envelope and its statement payload, a v2 ``record.json`` and every v2 step
    must be exactly ``rfc8785.dumps`` of the JSON they hold (so that ``sha256sum`` of a member
    is its digest for any tool). Approvals keep the bytes their reviewer signed (those made
    before a migration are pretty-printed), so they are only parsed — strictly, with duplicate
    keys refused, like every other signed member — here as well as by the policy's approval
    rules.
    """
    from aitrace.bundle.format import ATTESTATION_MEMBER, BUNDLE_FORMAT_V1, MANIFEST_MEMBER
    from aitrace.bundle.format import RECORD_MEMBER as RECORD
    from aitrace.record.jsonio import is_canonical, parse_untrusted
    from aitrace.record.models import RECORD_FORMAT_V2, STEP_FORMAT_V2
    from aitrace.signing.dsse import Envelope

    title = "Every format v2 JSON member is exactly its RFC 8785 canonical bytes"
    if bundle_format == BUNDLE_FORMAT_V1:
        c.skipped("members.canonical", title, "a format v1 bundle (pretty-printed JSON)")
        return
    limit = ob.archive.limits.max_json_size
    names: list[tuple[str, bytes]] = []
    problems: list[tuple[str, str | None]] = []
    try:
        names.append((MANIFEST_MEMBER, ob.manifest_bytes))
        names.append((ATTESTATION_MEMBER, ob.archive.read(ATTESTATION_MEMBER, max_size=limit)))
        names.append((f"{ATTESTATION_MEMBER} payload", ob.envelope.payload))
    except AitraceError:
        pass  # reported by manifest.valid / signature.trusted
    try:
        if ob.record.format == RECORD_FORMAT_V2:
            names.append((RECORD, ob.archive.read(RECORD, max_size=limit)))
    except AitraceError:
        pass  # reported by chain.hash
    for e in ob.step_entries:
        if e.raw is not None and isinstance(e.data, dict) and \
                e.data.get("format") == STEP_FORMAT_V2:
            names.append((e.member, e.raw))
    for name, data in names:
        if not is_canonical(data):
            member = ATTESTATION_MEMBER if name.startswith(ATTESTATION_MEMBER) else name
            problems.append((f"{name} is not in RFC 8785 canonical form (format v2 writes "
                             "it as its canonical bytes): it was rewritten or altered", member))
    try:
        approvals = ob.approvals
    except AitraceError as exc:
        approvals = {}
        problems.append((exc.message, None))
    for name, data in sorted(approvals.items()):
        try:
            env = Envelope.from_bytes(data, f"member '{name}'", limits=ob.archive.limits.json)
            parse_untrusted(env.payload, f"member '{name}': in-toto statement",
                            limits=ob.archive.limits.json)
        except AitraceError as exc:
            problems.append((exc.message, name))
    c.outcome("members.canonical", title, problems,
              f"{len(names)} JSON members canonical, {len(approvals)} approval(s) well-formed")




def _check_steps(ob: OpenedBundle, c: Checks, st: _State) -> None:
    from aitrace.bundle.format import (
        ATTESTATION_MEMBER,
        MANIFEST_MEMBER,
        RECORD_MEMBER,
        step_member,
    )
    from aitrace.record.chain import StoredStep, link_problem, migration_problems
    from aitrace.record.schemas import step_validator
    from aitrace.record.validation import first_error

    t_schema = "Every step validates against schemas/step.schema.json"
    t_chain = "The hash chain is intact from the first step"
    t_head = "The last step is the signed chain head and the predicate lists these steps"
    entries = ob.step_entries
    if not entries:
        c.failed("steps.schema", t_schema, "the bundle holds no steps", None)
        c.skipped("chain.hash", t_chain, "no steps")
        c.skipped("chain.head", t_head, "no steps")
        return
    schema = step_validator()
    problems: list[tuple[str, str | None]] = []
    for e in entries:
        if e.data is None:
            problems.append((e.problem or "unreadable", e.member))
            continue
        error = first_error(schema, e.data)
        if error:
            problems.append((f"member '{e.member}' {error}", e.member))
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
    before: list[StoredStep] = []
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
            # The link breaks between two members; blame the one whose bytes are not the
            # manifest's (an edited step), not its intact successor.
            prior = entries[i - 2].member
            culprit = prior if prior in st.altered and e.member not in st.altered else e.member
            chain.append((f"member '{e.member}' has prev {abbrev(str(data.get('prev')))} but "
                          f"step {i - 1} hashes to {abbrev(prev)}: "
                          + (f"step {i - 1} ('{prior}') was altered" if culprit == prior
                             else "a step was edited, removed, reordered or replaced"),
                          culprit))
        if record_id is not None and data.get("record_id") != record_id:
            chain.append((f"member '{e.member}' belongs to record {data.get('record_id')!r}, "
                          f"not {record_id!r} (record.json)", e.member))
        if e.step is not None:
            if (problem := link_problem(before[-1].step if before else None, e.step)):
                chain.append((f"member '{e.member}' {problem}", e.member))
            if e.step.is_migration:
                for problem in migration_problems(e.step, before, _record_bytes(ob)):
                    chain.append((f"member '{e.member}': {problem}", e.member))
            if e.raw is not None and e.digest is not None:
                before.append(StoredStep(e.raw, e.step, e.digest))
        prev = e.digest
        head = prev
    c.outcome("chain.hash", t_chain, chain, f"{len(entries)} steps linked")
    st.steps_ok = not problems and not chain

    heads: list[tuple[str, str | None]] = []
    try:
        m_head = ob.manifest.chain_head
        if m_head != head:
            heads.append((f"the manifest's chain head {abbrev(m_head)} is not the last step's "
                          f"digest {abbrev(head)}", MANIFEST_MEMBER))
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
            heads.append((f"the signed chain head {abbrev(pred.chain_head)} is not the last "
                          f"step's digest {abbrev(head)} (member '{last}'): steps were added, "
                          "removed or changed after signing", last))
        listed = [(p.seq, p.id, p.digest) for p in pred.steps]
        actual = []
        for i, e in enumerate(entries, start=1):
            if e.step is not None:
                actual.append((e.step.seq, e.step.id, e.digest or "?"))
            else:
                actual.append((i, "?", "?"))
        if listed != actual:
            first = next((i for i, (a, b) in enumerate(zip(listed, actual, strict=False))
                          if a != b), min(len(listed), len(actual)))
            member = entries[first].member if first < len(entries) else last
            if len(listed) != len(actual):
                what = (f"the signed predicate lists {len(listed)} steps but the bundle holds "
                        f"{len(actual)}; they first differ at step {first + 1}")
            else:
                signed = listed[first]
                what = (f"step {first + 1} ('{member}') is not the step the signed predicate "
                        f"lists there (id {signed[1]}, digest {abbrev(signed[2])}): "
                        + ("it cannot be read" if actual[first][1] == "?" else
                           f"the bundle's has id {actual[first][1]}, digest "
                           f"{abbrev(actual[first][2])}"))
            heads.append((what, member))
        if record_id is not None and pred.record.id != record_id:
            heads.append((f"the signed predicate names record {pred.record.id!r}, not "
                          f"{record_id!r}", RECORD_MEMBER))
    c.outcome("chain.head", t_head, heads, f"chain head {abbrev(head)}")


def _record_bytes(ob: OpenedBundle) -> bytes | None:
    from aitrace.bundle.format import RECORD_MEMBER

    try:
        return ob.archive.read(RECORD_MEMBER, max_size=ob.archive.limits.max_json_size)
    except AitraceError:
        return None


def _check_order(c: Checks, st: _State, now: datetime | None) -> None:
    from aitrace.bundle.format import step_member
    from aitrace.verify.order import registered_criteria, time_anomalies

    t_time = "Time runs forward along the chain and nothing is dated in the future"
    t_pre = "Success criteria were recorded before the evaluation they judge"
    if not st.steps:
        c.skipped("chain.time", t_time, "no readable steps")
        c.skipped("chain.preregistration", t_pre, "no readable steps")
        return
    c.outcome("chain.time", t_time,
              [(a.message, step_member(a.seq)) for a in time_anomalies(st.steps, now)],
              f"{len(st.steps)} steps in time order, from {st.steps[0].started_at}")
    reg = registered_criteria(st.steps)
    if not reg.criteria:
        c.skipped("chain.preregistration", t_pre, "the record states no success criteria")
        return
    judged = [f"{x.metric} (problem step {x.problem.seq} before evaluation step "
              f"{x.evaluation.seq})" for x in reg.criteria if x.problem and x.evaluation]
    c.outcome("chain.preregistration", t_pre,
              [(a.message, step_member(a.seq)) for a in reg.anomalies],
              "; ".join(judged) or "no evaluation has logged a criterion's metric yet")


def _check_custody(ob: OpenedBundle, c: Checks, st: _State) -> None:
    from aitrace.bundle.format import step_member

    title = "Every input was produced by an earlier step or declared as an external source"
    if not st.steps:
        c.skipped("chain.custody", title, "no readable steps")
        return
    gaps = custody_gaps(st.steps, ob.object_bytes)
    note = st.unreadable_note(ob)
    unreadable = [(i, e.member) for i, e in enumerate(ob.step_entries, start=1)
                  if e.step is None]

    def member(gap_seq: int) -> str:
        # A gap after an unreadable step is most likely that step's output: name it there.
        earlier = [m for i, m in unreadable if i < gap_seq]
        return earlier[-1] if earlier else step_member(gap_seq)

    c.outcome("chain.custody", title,
              [(g.message + note, member(g.step.seq)) for g in gaps],
              f"{sum(len(s.materials) for s in st.steps)} inputs accounted for")




def _check_artifacts(artifacts: Sequence[tuple[Path, Sequence[tuple[str, str]]]], c: Checks,
                     st: _State) -> None:
    """Each ``--artifact`` (with its digests under every algorithm it may be named by)."""
    from aitrace.bundle.format import MANIFEST_MEMBER
    from aitrace.record.refs import digest_label

    title = "The given artifact is a signed subject (the recorded released file)"
    if not artifacts:
        return
    subjects = [(n, alg, v) for n, alg, v in st.subjects if n != MANIFEST_MEMBER]
    for path, digests in artifacts:
        names = [n for n, alg, v in subjects if (alg, v) in digests]
        shown = digest_label(*digests[0])
        if st.statement is None:
            c.skipped("artifact.matches", title, f"{path}: the statement could not be read")
        elif names:
            c.passed("artifact.matches", title,
                     f"{path} {shown} is the released artifact {', '.join(names)}")
        else:
            listed = ", ".join(f"{n} {digest_label(alg, v)}" for n, alg, v in subjects)
            c.failed("artifact.matches", title,
                     f"{path} hashes to {shown}, which matches no released artifact "
                     f"([{listed}])" if subjects else
                     f"{path} hashes to {shown}, which matches no released artifact (none)")


def verify_bundle(
    path: Path,
    keys: Sequence[PublicKey],
    threshold: int = 1,
    policy: Policy | None = None,
    artifacts: Sequence[Path] = (),
    limits: ArchiveLimits | None = None,
    *,
    now: datetime | None = None,
    approver_keys: Sequence[PublicKey] = (),
) -> VerifyReport:
    """Verify the bundle at ``path``; every check is run and returned, none raises.

    Keys have roles: ``keys`` may sign the attestation (the release), ``approver_keys`` may
    sign approvals, and neither acts in the other's role (a key given in both may do both).

    Args:
        path: the ``.aitrace`` archive.
        keys: trusted release keys: what may sign the attestation (``--key``).
        threshold: how many distinct trusted keys must have signed the attestation.
        policy: the policy to evaluate (``None``: no policy checks; the CLI passes the
            default policy when none is given).
        artifacts: files whose sha256 must be a statement subject.
        limits: archive limits (defaults are generous for bundles that embed weights).
        now: the instant time-dependent policy rules are judged at (``max_age_days``, the
            ``monitoring`` freshness section, the future-date checks): ``verify --at``;
            default now.
        approver_keys: trusted approver keys: what may sign approvals (``--approver-key``).

    Raises:
        InputError: the archive or an artifact cannot be opened at all (not a verdict: a usage
            problem), or ``threshold`` is below 1.
    """
    from aitrace.bundle.read import OpenedBundle
    from aitrace.store.digest import Hasher, hash_file

    if threshold < 1:
        raise InputError(f"threshold must be at least 1 (got {threshold})",
                         hint="pass --threshold 1 or more")
    hashed: list[tuple[Path, list[tuple[str, str]]]] = []
    for a in artifacts:
        try:
            # A model may be a folder (an MLflow model is): hashed as the record hashes folders,
            # by dirHash (format v2) or by its aitrace.dir/v1 manifest (a v1 bundle's subject).
            if Path(a).is_dir():
                digests = [("dirHash", Hasher(cache=None).digest(Path(a)).sha256),
                           ("sha256", Hasher(cache=None, legacy_dirs=True).digest(Path(a)).sha256)]
            else:
                digests = [("sha256", hash_file(Path(a))[0])]
        except OSError as exc:
            raise InputError(f"--artifact {a}: cannot read it ({exc.strerror or exc})",
                             hint="give the path of the deployed model file or folder") from None
        hashed.append((Path(a), digests))
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
                            policy=policy.name if policy else None,
                            answers=verdict_of(tuple(c.items),
                                               policy=policy.name if policy else None,
                                               completeness=None))
    with ob:
        c.passed("archive.safe", title, f"{len(ob.names)} members, all safe")
        _check_members(ob, c, st)
        check_signature(ob, c, st, keys, threshold, approver_keys)
        _check_steps(ob, c, st)
        if not st.steps:
            st.steps = _safe_steps(ob)
        _check_custody(ob, c, st)
        _check_order(c, st, now)
        _check_evidence(ob, c, st)
        check_monitoring(ob, c, st.steps)
        _check_artifacts(hashed, c, st)
        integrity_failed = any(x.status == "failed" and check_kind(x.id) == "integrity"
                               for x in c.items)
        if policy is not None:
            from aitrace.verify.rules import PolicyContext

            ctx = PolicyContext.from_bundle(ob, st.steps, approver_keys, signers=st.signers,
                                            now=now)
            for check in policy.evaluate(ctx):
                # A policy failure is a judgement on content, not damage to a member; and
                # content that failed integrity is not judged at all (it is not trusted).
                if integrity_failed:
                    check = replace(check, status="skipped", message="not judged (integrity or "
                                    f"signature failed): {check.message}")
                c.add(replace(check, member=None))
        else:
            c.skipped("policy", "The record meets the policy",
                      "not evaluated: --no-policy checks integrity and signature only")
        completeness = _completeness(st.steps)
        checks = tuple(c.items)
        names = tuple(_signer_name(k, keys) for k in st.signers)
        answers = verdict_of(checks, policy=policy.name if policy else None,
                             completeness=completeness, signers=names)
        return VerifyReport(path=str(path), checks=checks, record_id=ob.record_id,
                            record_name=ob.record_name, signers=st.signers,
                            subjects=st.subjects, policy=policy.name if policy else None,
                            completeness=completeness, answers=answers,
                            signer_names=tuple(_key_name(k, keys) for k in st.signers))


def _completeness(steps: Sequence[Step]) -> dict[str, Any] | None:
    """The record's completeness, counting only evidence that shows something."""
    from aitrace.record._model import to_json
    from aitrace.record.completeness import completeness
    from aitrace.verify.rules import emptiness

    if not steps:
        return None
    result: dict[str, Any] = to_json(completeness(steps, counts=lambda e: emptiness(e) is None))
    return result


def _key_name(keyid: str, keys: Sequence[PublicKey]) -> str:
    """The file name of the trusted key with this id ("" when unknown)."""
    key = next((k for k in keys if k.keyid == keyid), None)
    return Path(key.source).name if key is not None and key.source else ""


def _signer_name(keyid: str, keys: Sequence[PublicKey]) -> str:
    """A verified signer as people know it: the trusted key file's name and the key id."""
    return signer_label(keyid, _key_name(keyid, keys))


def _member_in(message: str) -> str | None:
    """The archive member an error message names (``member 'x'``), if it names one."""
    import re

    m = re.search(r"member '([^']+)'", message)
    return m.group(1) if m else None
