"""The signature group of checks: who signed the attestation and what the statement says.

``signature.trusted`` (DSSE signatures by ``threshold`` distinct trusted release keys; a
signature by a key given only as an approver key is named as such, because an approver may sign
approvals, never the release), ``statement.payload-type``, ``statement.valid``,
``statement.manifest-subject`` and ``statement.released-subjects``. Kept apart from the
orchestration in ``aitrace.verify.bundle`` because it is the one group that reasons about keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aitrace.errors import AitraceError
from aitrace.verify._state import _safe_steps, _State
from aitrace.verify.checks import Checks, abbrev
from aitrace.verify.verdict import NO_KEY_CHECK

if TYPE_CHECKING:
    from aitrace.bundle.read import OpenedBundle
    from aitrace.signing.keys import PublicKey


def _role_problems(ob: OpenedBundle, keys: Sequence[PublicKey],
                   approver_keys: Sequence[PublicKey]) -> list[str]:
    """Signatures on the attestation by keys given as approvers only (a reviewer signing)."""
    from aitrace.bundle.format import ATTESTATION_MEMBER
    from aitrace.signing.dsse import pae

    release = {k.keyid for k in keys}
    approvers = {k.keyid: k for k in approver_keys if k.keyid not in release}
    env = ob.envelope
    message = pae(env.payload_type, env.payload)
    out = []
    for i, s in enumerate(env.signatures):
        candidates = ([approvers[s.keyid]] if s.keyid in approvers
                      else [] if s.keyid else list(approvers.values()))
        for k in candidates:
            if k.verify(s.sig, message):
                out.append(f"signature {i} on {ATTESTATION_MEMBER} is by {k.keyid[:16]}…, "
                           "which was given as an approver key (--approver-key): an approver "
                           "may sign approvals, never the release")
    return out


def check_signature(ob: OpenedBundle, c: Checks, st: _State, keys: Sequence[PublicKey],
                    threshold: int, approver_keys: Sequence[PublicKey] = ()) -> None:
    """Run the signature and statement checks; leave the signers and statement in ``st``.

    The predicate kept is the one parsed from the bytes the signatures were checked over, so
    every later check reads what was signed, not a second parse of the member.
    """
    from aitrace.bundle.format import (
        ATTESTATION_MEMBER,
        BUNDLE_FORMAT,
        MANIFEST_MEMBER,
        PREDICATE_TYPE_FOR,
        Predicate,
    )
    from aitrace.signing.dsse import IN_TOTO_PAYLOAD_TYPE, verify_attestation

    try:  # the manifest is a signed subject: its format picks the predicate type
        predicate_type = PREDICATE_TYPE_FOR[ob.manifest.format]
    except AitraceError:
        predicate_type = PREDICATE_TYPE_FOR[BUNDLE_FORMAT]

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
    result = verify_attestation(envelope, keys, predicate_type, Predicate, threshold=threshold,
                                source=f"member '{att}'", limits=ob.archive.limits.json)
    roles = _role_problems(ob, keys, approver_keys) if approver_keys else []
    if not keys:
        c.failed("signature.trusted", t_sig, "; ".join([NO_KEY_CHECK, *roles]), att)
    elif result.signed:
        c.passed("signature.trusted", t_sig, "signed by " + ", ".join(
            k[:16] + "…" for k in result.verified_keyids), att)
    else:
        c.failed("signature.trusted", t_sig, "; ".join([*roles,
                                                        *result.messages("signature")]), att)
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
    c.passed("statement.valid", t_stmt, predicate_type, att)
    # The predicate is the one parsed from the bytes the signatures were checked over.
    st.statement, st.predicate = statement, predicate
    st.subjects = tuple((s.name, alg, value) for s in statement.subjects
                        for alg, value in s.digest_items)
    manifest_subjects = [s.sha256 or "" for s in statement.subjects if s.name == MANIFEST_MEMBER]
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
    others = sorted((s.name, s.digest_items) for s in statement.subjects
                    if s.name != MANIFEST_MEMBER)
    expected = sorted((r.path, (r.digest,)) for r in predicate.released)
    problems: list[tuple[str, str | None]] = []
    if others != expected:
        problems.append((f"the statement's subjects {_subjects(others)} differ from the "
                         f"predicate's released artifacts {_subjects(expected)}", att))
    st.steps = _safe_steps(ob)
    if st.steps:
        from aitrace.bundle.release import release_source, released_artifacts

        rel_step, _src = release_source(st.steps)
        actual = sorted((r.path, (r.digest,)) for r in released_artifacts(rel_step))
        if others != actual:
            where = f"step {rel_step.seq} ({rel_step.stage})" if rel_step else "no release step"
            problems.append((f"the statement's subjects {_subjects(others)} are not the released "
                             f"artifacts recorded by {where}: {_subjects(actual)}", att))
    c.outcome("statement.released-subjects", t_rsub, problems,
              f"{len(others)} released artifact(s): " + (_subjects(others) if others else "none"))


def _subjects(subjects: Sequence[tuple[str, tuple[tuple[str, str], ...]]]) -> str:
    """Subjects as messages show them: ``[dist/model.pkl sha256:ab12…, models/m dirHash:…]``."""
    from aitrace.record.refs import digest_label

    return "[" + ", ".join(f"{name} " + " ".join(digest_label(a, v) for a, v in digest)
                           for name, digest in subjects) + "]"
