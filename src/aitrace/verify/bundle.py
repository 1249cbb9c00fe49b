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
4. ``steps.schema``, ``chain.hash``, ``chain.head`` — the steps parse, link and end at the
   signed chain head.
5. ``chain.custody`` — see ``aitrace.verify.custody``.
6. ``evidence.objects``, ``evidence.gx-bound``, ``evidence.sbom-schema`` — see
   ``aitrace.verify.evidence``.
7. ``artifact.matches`` — each ``--artifact`` file's sha256 is a statement subject.
8. ``policy.*`` — see ``aitrace.verify.policy``.

A check that fails because of one member names it in ``Check.member``; several failures of the
same check are several ``Check`` entries. A check that cannot run says why (``skipped``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aitrace.bundle._zip.limits import ArchiveLimits
from aitrace.errors import AitraceError, InputError
from aitrace.verify._state import _member_digest, _pairs, _safe_steps, _State
from aitrace.verify.checks import Checks, VerifyReport, abbrev
from aitrace.verify.custody import custody_gaps
from aitrace.verify.evidence import _check_evidence

if TYPE_CHECKING:
    from aitrace.bundle.read import OpenedBundle
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
    from aitrace.bundle.format import ATTESTATION_MEMBER, MANIFEST_MEMBER, PREDICATE_TYPE, Predicate
    from aitrace.signing.dsse import IN_TOTO_PAYLOAD_TYPE, verify_attestation

    t_sig = f"Signed by at least {threshold} trusted key(s)"
    t_type = f"The envelope's payloadType is {IN_TOTO_PAYLOAD_TYPE}"
    t_stmt = "The payload is an in-toto Statement v1 with the production-record predicate"
    t_msub = "The statement's subject includes manifest.json with its sha256"
    t_rsub = "The other subjects are exactly the released artifacts"
    att = ATTESTATION_MEMBER
    try:
        envelope = ob.envelope
    except AitraceError as exc:
        c.failed("signature.trusted", t_sig, exc.message, att)
        for cid, title in (("statement.payload-type", t_type), ("statement.valid", t_stmt),
                           ("statement.manifest-subject", t_msub),
                           ("statement.released-subjects", t_rsub)):
            c.skipped(cid, title, "the attestation could not be read")
        return
    result = verify_attestation(envelope, keys, PREDICATE_TYPE, Predicate, threshold=threshold,
                                source=f"member '{att}'", limits=ob.archive.limits.json)
    if not keys:
        c.failed("signature.trusted", t_sig, "no trusted public key was given (--key)", att)
    elif result.signed:
        c.passed("signature.trusted", t_sig, "signed by " + ", ".join(
            k[:16] + "…" for k in result.verified_keyids), att)
    else:
        c.failed("signature.trusted", t_sig, "; ".join(result.messages("signature")), att)
    st.signers = result.verified_keyids
    if wrong_type := result.messages("payload-type"):
        c.failed("statement.payload-type", t_type, "; ".join(wrong_type), att)
    else:
        c.passed("statement.payload-type", t_type, envelope.payload_type, att)
    statement, predicate = result.statement, result.predicate
    if statement is None or predicate is None:
        c.failed("statement.valid", t_stmt,
                 "; ".join(result.messages("statement", "predicate-type", "predicate")), att)
        c.skipped("statement.manifest-subject", t_msub, "the statement could not be read", att)
        c.skipped("statement.released-subjects", t_rsub, "the statement could not be read", att)
        return
    c.passed("statement.valid", t_stmt, PREDICATE_TYPE, att)
    # The predicate is the one parsed from the bytes the signatures were checked over.
    st.statement, st.predicate = statement, predicate
    subjects = [(s.name, s.sha256 or "") for s in statement.subjects]
    st.subjects = tuple(subjects)
    manifest_subjects = [sha for name, sha in subjects if name == MANIFEST_MEMBER]
    try:
        manifest_sha = hashlib.sha256(ob.manifest_bytes).hexdigest()
    except AitraceError as exc:
        c.failed("statement.manifest-subject", t_msub, exc.message, MANIFEST_MEMBER)
        manifest_sha = None
    if manifest_sha is not None:
        if manifest_subjects == [manifest_sha]:
            c.passed("statement.manifest-subject", t_msub, f"manifest.json {abbrev(manifest_sha)}",
                     MANIFEST_MEMBER)
        elif not manifest_subjects:
            c.failed("statement.manifest-subject", t_msub,
                     "the statement has no manifest.json subject", att)
        else:
            c.failed("statement.manifest-subject", t_msub,
                     f"manifest.json hashes to {abbrev(manifest_sha)} but the signed statement "
                     f"says {', '.join(abbrev(s) for s in manifest_subjects)}: the manifest was "
                     "altered or replaced", MANIFEST_MEMBER)
    others = sorted((n, s) for n, s in subjects if n != MANIFEST_MEMBER)
    expected = sorted((r.path, r.sha256) for r in predicate.released)
    problems: list[tuple[str, str | None]] = []
    if others != expected:
        problems.append((f"the statement's subjects {_pairs(others)} differ from the "
                         f"predicate's released artifacts {_pairs(expected)}", att))
    st.steps = _safe_steps(ob)
    if st.steps:
        from aitrace.bundle.release import release_source, released_artifacts

        rel_step, _src = release_source(st.steps)
        actual = sorted((r.path, r.sha256) for r in released_artifacts(rel_step))
        if others != actual:
            where = f"step {rel_step.seq} ({rel_step.stage})" if rel_step else "no release step"
            problems.append((f"the statement's subjects {_pairs(others)} are not the released "
                             f"artifacts recorded by {where}: {_pairs(actual)}", att))
    c.outcome("statement.released-subjects", t_rsub, problems,
              f"{len(others)} released artifact(s): " + (_pairs(others) if others else "none"))




def _check_steps(ob: OpenedBundle, c: Checks, st: _State) -> None:
    from aitrace.bundle.format import (
        ATTESTATION_MEMBER,
        MANIFEST_MEMBER,
        RECORD_MEMBER,
        step_member,
    )
    from aitrace.record.jsonio import canonical_digest
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
            chain.append((f"member '{e.member}' has prev {abbrev(str(data.get('prev')))} but "
                          f"step {i - 1} hashes to {abbrev(prev)}: a step was edited, removed, "
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
    c.outcome("chain.head", t_head, heads, f"chain head {abbrev(head)}")


def _check_custody(ob: OpenedBundle, c: Checks, st: _State) -> None:
    from aitrace.bundle.format import step_member

    title = "Every input was produced by an earlier step or declared as an external source"
    if not st.steps:
        c.skipped("chain.custody", title, "no readable steps")
        return
    gaps = custody_gaps(st.steps)
    c.outcome("chain.custody", title,
              [(g.message, step_member(g.step.seq)) for g in gaps],
              f"{sum(len(s.materials) for s in st.steps)} inputs accounted for")




def _check_artifacts(artifacts: Sequence[tuple[Path, str]], c: Checks, st: _State) -> None:
    from aitrace.bundle.format import MANIFEST_MEMBER

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
                     f"{path} {abbrev(sha)} is the released artifact {', '.join(names)}")
        else:
            c.failed("artifact.matches", title,
                     f"{path} hashes to {abbrev(sha)}, which matches no released artifact "
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
    from aitrace.bundle.read import OpenedBundle
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
            from aitrace.verify.rules import PolicyContext

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
    pass



