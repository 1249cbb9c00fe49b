"""Releases that extend releases: ``aitrace verify NEW --previous OLD``.

A bundle made after monitoring is a new bundle of the same record. It *extends* an earlier one
when the earlier bundle verifies on its own (with the same trusted keys), both name the same
record, and the earlier bundle's signed steps are exactly the first steps of the new one — so
the earlier chain head is an ancestor of the new chain head and nothing before it was
rewritten — and no approval the earlier bundle carried has disappeared. Each condition is a
check (``previous.*``); a bundle of another record, or one whose history diverged, fails with
the first step that differs.

Only ``OpenedBundle`` accessors are used (``record_id``, ``predicate``, ``step_entries``,
``approvals``), so the rule holds whatever the bundle's member layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aitrace.errors import AitraceError
from aitrace.verify.bundle import verify_bundle
from aitrace.verify.checks import Check, VerifyReport, abbrev

if TYPE_CHECKING:
    from aitrace.bundle._zip.limits import ArchiveLimits
    from aitrace.bundle.read import OpenedBundle
    from aitrace.signing.keys import PublicKey
    from aitrace.verify.policy import Policy

_T_OK = "The previous bundle verifies with the trusted keys"
_T_RECORD = "The previous bundle is of the same record"
_T_EXTENDS = "This bundle's chain extends the previous one's (nothing rewritten)"
_T_APPROVALS = "Every approval of the previous bundle is still carried"


def _chain(ob: OpenedBundle) -> list[tuple[int, str, str]] | None:
    """(seq, stage, digest) of each step as read, or None when a step cannot be parsed."""
    out: list[tuple[int, str, str]] = []
    for e in ob.step_entries:
        if e.step is None:
            return None
        out.append((e.step.seq, e.step.stage, e.step.digest))
    return out


def verify_extension(path: Path, previous: Path, keys: Sequence[PublicKey],
                     threshold: int = 1, policy: Policy | None = None,
                     artifacts: Sequence[Path] = (), limits: ArchiveLimits | None = None, *,
                     now: datetime | None = None,
                     approver_keys: Sequence[PublicKey] = ()) -> VerifyReport:
    """``verify_bundle(path, …)`` plus the ``previous.*`` checks against ``previous``.

    Raises:
        InputError: as ``verify_bundle`` (an archive that cannot be opened at all).
    """
    from aitrace.bundle.read import OpenedBundle
    from aitrace.verify.verdict import with_checks

    report = verify_bundle(path, keys, threshold, policy, artifacts, limits, now=now,
                           approver_keys=approver_keys)
    try:
        new = OpenedBundle.open(Path(path), limits)
    except AitraceError:
        skipped = Check("previous.extends", _T_EXTENDS, "skipped",
                        "this bundle could not be read")
        return with_checks(report, back=[skipped])
    with new:
        extra = extension_checks(new, previous, keys, limits, approver_keys)
    return with_checks(report, back=extra)


def extension_checks(new: OpenedBundle, previous: Path, keys: Sequence[PublicKey],
                     limits: ArchiveLimits | None = None,
                     approver_keys: Sequence[PublicKey] = ()) -> list[Check]:
    """The ``previous.*`` checks of ``new`` (already opened) against the bundle ``previous``."""
    from aitrace.bundle.read import OpenedBundle

    label = str(previous)
    report = verify_bundle(previous, keys, policy=None, limits=limits,
                           approver_keys=approver_keys)
    out: list[Check] = []
    if report.ok:
        out.append(Check("previous.verified", _T_OK, "passed", f"{label}: {report.verdict}"))
    else:
        first = report.failed[0] if report.failed else None
        why = f"{first.id}: {first.message}" if first else report.verdict
        out.append(Check("previous.verified", _T_OK, "failed",
                         f"{label} does not verify ({len(report.failed)} failed; {why})"))
    try:
        old = OpenedBundle.open(Path(previous), limits)
    except AitraceError as exc:
        out.append(Check("previous.extends", _T_EXTENDS, "skipped",
                         f"{label} cannot be read: {exc.message}"))
        return out
    with old:
        out.append(_same_record(new, old, label))
        out.append(_extends(new, old, label))
        out.append(_approvals_kept(new, old, label))
    return out


def _same_record(new: OpenedBundle, old: OpenedBundle, label: str) -> Check:
    a, b = old.record_id, new.record_id
    if a is None or b is None:
        return Check("previous.same-record", _T_RECORD, "failed",
                     f"the record id of {label if a is None else 'this bundle'} cannot be read")
    if a != b:
        return Check("previous.same-record", _T_RECORD, "failed",
                     f"{label} is a bundle of record {a!r} ({old.record_name or '?'}), not of "
                     f"this record {b!r} ({new.record_name or '?'}): it is not an earlier "
                     "release of this model")
    return Check("previous.same-record", _T_RECORD, "passed", f"record {b}")


def _extends(new: OpenedBundle, old: OpenedBundle, label: str) -> Check:
    cid = "previous.extends"
    old_chain, new_chain = _chain(old), _chain(new)
    if old_chain is None or new_chain is None:
        which = label if old_chain is None else "this bundle"
        return Check(cid, _T_EXTENDS, "failed", f"the steps of {which} cannot all be read")
    try:
        signed_head: str | None = old.predicate.chain_head
    except AitraceError:
        signed_head = None
    old_head = old_chain[-1][2] if old_chain else None
    if signed_head is not None and signed_head != old_head:
        return Check(cid, _T_EXTENDS, "failed", f"{label}'s signed chain head "
                     f"{abbrev(signed_head)} is not its last step {abbrev(old_head)}")
    if len(new_chain) < len(old_chain):
        return Check(cid, _T_EXTENDS, "failed", f"this bundle has {len(new_chain)} steps, "
                     f"fewer than the {len(old_chain)} of {label}: history was removed")
    for (seq, stage, digest), (_nseq, nstage, ndigest) in zip(old_chain, new_chain,
                                                                strict=False):
        if digest != ndigest:
            return Check(cid, _T_EXTENDS, "failed",
                         f"the histories diverge at step {seq}: {label} has {stage} "
                         f"{abbrev(digest)}, this bundle has {nstage} {abbrev(ndigest)} "
                         "(a step was rewritten, or the record was re-made)")
    added = new_chain[len(old_chain):]
    if not added:
        return Check(cid, _T_EXTENDS, "passed", f"same chain head {abbrev(old_head)}: no steps "
                     "were added since the previous bundle")
    stages: dict[str, int] = {}
    for _seq, stage, _d in added:
        stages[stage] = stages.get(stage, 0) + 1
    what = ", ".join(f"{k} ×{v}" if v > 1 else k for k, v in stages.items())
    return Check(cid, _T_EXTENDS, "passed",
                 f"the previous chain head {abbrev(old_head)} (step {len(old_chain)}) is an "
                 f"ancestor; {len(added)} step(s) added (steps {added[0][0]}–{added[-1][0]}: "
                 f"{what})")


def _approvals_kept(new: OpenedBundle, old: OpenedBundle, label: str) -> Check:
    try:
        before, after = set(old.approvals), set(new.approvals)
    except AitraceError as exc:
        return Check("previous.approvals", _T_APPROVALS, "failed", exc.message)
    gone = sorted(before - after)
    if gone:
        return Check("previous.approvals", _T_APPROVALS, "failed",
                     f"{len(gone)} approval(s) of {label} are missing: {', '.join(gone[:5])}")
    return Check("previous.approvals", _T_APPROVALS, "passed",
                 f"{len(before)} earlier approval(s) kept, {len(after - before)} added")
