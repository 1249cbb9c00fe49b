"""Reviewer sign-off: a signed statement that a person approved (or rejected) one step.

An approval is a DSSE envelope (payloadType ``application/vnd.in-toto+json``) over an in-toto
Statement v1 whose only subject is the step — ``step:<step id>`` with the step's digest (format
v2: the SHA-256 of the step file, ``sha256sum steps/NNNNNN.json``; v1: of its canonical JSON —
the same value the next step's ``prev`` holds) — and whose
predicate (``APPROVAL_PREDICATE``) says who decided what, when, and why. Because the subject is
the step's digest, an approval cannot be moved to another step or survive an edit of the step.

Approvals are stored content-addressed at ``.aitrace/approvals/<sha256>.dsse.json`` (immutable,
written atomically; the envelope and its statement payload are RFC 8785 canonical bytes) and
travel inside bundles; ``verify_approvals`` checks them against the record's steps and the
trusted keys through the one attestation path (``aitrace.signing.dsse.verify_attestation``),
reporting each as data.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from aitrace.errors import AitraceError, InputError
from aitrace.record._model import field, json_schema, to_json
from aitrace.record.jsonio import canonical_bytes
from aitrace.record.models import Step
from aitrace.record.refs import SHA256_HEX, bytes_match
from aitrace.record.times import RFC3339_UTC, utc_now_seconds
from aitrace.store.files import TMP_PREFIX, create_exclusive

if TYPE_CHECKING:
    from aitrace.signing.keys import PublicKey, Signer
    from aitrace.store.workspace import Workspace

APPROVAL_PREDICATE = "https://aitrace.dev/approval/v1"
APPROVAL_SCHEMA = "https://aitrace.dev/schemas/approval/v1"
APPROVALS_DIR = "approvals"
STEP_SUBJECT_PREFIX = "step:"
_FILE_NAME = re.compile(r"^([0-9a-f]{64})\.dsse\.json$")

Decision = Literal["approved", "rejected"]


@dataclass(frozen=True)
class Reviewer:
    """The person who signed, and the id of the key they signed with."""

    name: str
    keyid: str = field(pattern=SHA256_HEX, description="sha256 of the signing key's DER SPKI")


@dataclass(frozen=True)
class ApprovalPredicate:
    """A reviewer's decision about one step of one record."""

    record_id: str
    stage: str
    step_id: str
    step_seq: int
    reviewer: Reviewer
    comment: str
    decision: Decision
    time: str = field(pattern=RFC3339_UTC, description="UTC, RFC 3339")


@dataclass(frozen=True)
class ApprovalCheck:
    """The verdict on one approval envelope (fields are None when it could not be parsed)."""

    name: str
    ok: bool
    stage: str | None = None
    step_id: str | None = None
    reviewer: str | None = None
    keyid: str | None = None
    comment: str | None = None
    time: str | None = None
    decision: Decision | None = None
    problem: str | None = None


def approval_predicate_schema() -> dict[str, Any]:
    """JSON Schema of the approval predicate (``schemas/approval.schema.json``)."""
    return json_schema(ApprovalPredicate, schema_id=APPROVAL_SCHEMA,
                       title="aitrace reviewer approval predicate")


def _pick_step(workspace: Workspace, stage: str, step_ref: str | None) -> Step:
    from aitrace.record.stages import STAGE_IDS

    if stage not in STAGE_IDS:
        raise InputError(f"unknown stage '{stage}'", hint=f"choose one of {', '.join(STAGE_IDS)}")
    if step_ref is not None:
        step = workspace.get_step(step_ref)
        if step.stage != stage:
            raise InputError(f"step {step.seq} ({step.id}) belongs to stage '{step.stage}', "
                             f"not '{stage}'", hint="give a step of the stage you approve")
        return step
    steps = [s for s in workspace.steps() if s.stage == stage]
    if not steps:
        raise InputError(f"stage '{stage}' has no recorded step to approve",
                         hint=f"record the stage first (`aitrace run --stage {stage} -- ...`)")
    succeeded = [s for s in steps if s.status == "succeeded"]
    if not succeeded:
        raise InputError(f"stage '{stage}' has no succeeded step (latest: step {steps[-1].seq}, "
                         f"{steps[-1].status})",
                         hint="re-run the stage, or name the step to review explicitly with "
                              "--step")
    return succeeded[-1]


def create_approval(
    workspace: Workspace,
    stage: str,
    signer: Signer,
    reviewer_name: str,
    comment: str,
    decision: Decision = "approved",
    step_ref: str | None = None,
) -> Path:
    """Sign a reviewer's decision on a step and store it in the workspace.

    Args:
        workspace: the record's workspace.
        stage: the stage under review.
        signer: the reviewer's key.
        reviewer_name: who signs (free text, e.g. "Ana Lee <ana@example.com>").
        comment: the reviewer's remark (may be empty).
        decision: ``"approved"`` or ``"rejected"``.
        step_ref: a step number or id; default the latest succeeded step of ``stage``.

    Returns:
        The path of the stored envelope, ``.aitrace/approvals/<sha256>.dsse.json``.

    Raises:
        InputError: unknown stage or decision, no suitable step, empty reviewer name.
    """
    from aitrace.signing.dsse import IN_TOTO_PAYLOAD_TYPE, dsse_sign, make_statement

    if decision not in ("approved", "rejected"):
        raise InputError(f"decision must be 'approved' or 'rejected' (got {decision!r})",
                         hint="use --reject to record a rejection")
    if not reviewer_name.strip():
        raise InputError("the reviewer name is empty", hint="pass --reviewer 'Name <email>'")
    step = _pick_step(workspace, stage, step_ref)
    predicate = ApprovalPredicate(
        record_id=step.record_id, stage=step.stage, step_id=step.id, step_seq=step.seq,
        reviewer=Reviewer(name=reviewer_name.strip(), keyid=signer.keyid), time=utc_now_seconds(),
        comment=comment, decision=decision)
    statement = make_statement([(f"{STEP_SUBJECT_PREFIX}{step.id}", step.digest)],
                               APPROVAL_PREDICATE, to_json(predicate))
    envelope = dsse_sign(canonical_bytes(statement, what="the approval statement"),
                         IN_TOTO_PAYLOAD_TYPE, [signer])
    data = canonical_bytes(envelope, what="the approval envelope")
    digest = hashlib.sha256(data).hexdigest()
    path = workspace.dir / APPROVALS_DIR / f"{digest}.dsse.json"
    create_exclusive(path, data, mode=0o444)  # an identical approval already stored is fine
    return path


def list_approvals(workspace: Workspace) -> list[tuple[str, bytes]]:
    """Stored approval envelopes as ``(file name, bytes)``, sorted by name."""
    directory = workspace.dir / APPROVALS_DIR
    if not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(TMP_PREFIX) or not _FILE_NAME.match(path.name):
            continue
        out.append((path.name, path.read_bytes()))
    return out


def _check_one(name: str, data: bytes, steps_by_id: Mapping[str, Step],
               keys: Sequence[PublicKey]) -> ApprovalCheck:
    from aitrace.signing.dsse import Envelope, verify_attestation

    base = name.rsplit("/", 1)[-1]
    m = _FILE_NAME.match(base)
    if m and not bytes_match(data, m.group(1)):
        return ApprovalCheck(name, False, problem="the envelope's bytes do not match the digest "
                                                  "in its file name")
    source = f"approval {name}"
    try:
        envelope = Envelope.from_bytes(data, source)
    except AitraceError as exc:
        return ApprovalCheck(name, False, problem=exc.message)
    result = verify_attestation(envelope, keys, APPROVAL_PREDICATE, ApprovalPredicate,
                                source=source)
    pred, statement = result.predicate, result.statement
    if pred is None or statement is None:
        return ApprovalCheck(name, False, problem=result.first_problem())
    found = ApprovalCheck(name, True, stage=pred.stage, step_id=pred.step_id,
                          reviewer=pred.reviewer.name, keyid=pred.reviewer.keyid,
                          comment=pred.comment, time=pred.time, decision=pred.decision)

    def failed(problem: str) -> ApprovalCheck:
        return replace(found, ok=False, problem=problem)

    if not result.ok:
        return failed(result.first_problem() or "not signed by a trusted key")
    if pred.reviewer.keyid not in result.verified_keyids:
        return failed(f"names reviewer key {pred.reviewer.keyid[:16]}… but was signed by "
                      f"{', '.join(k[:16] + '…' for k in result.verified_keyids)}")
    subjects = statement.subjects
    expected_name = f"{STEP_SUBJECT_PREFIX}{pred.step_id}"
    if len(subjects) != 1 or subjects[0].name != expected_name:
        return failed(f"its subject must be the single step '{expected_name}'")
    step = steps_by_id.get(pred.step_id)
    if step is None:
        return failed(f"approves step {pred.step_id}, which is not in this record")
    if subjects[0].sha256 != step.digest:
        return failed(f"approves step {step.seq} ({pred.step_id}) with digest "
                      f"{str(subjects[0].sha256)[:16]}…, but the recorded step "
                      f"hashes to {step.digest[:16]}…: the step changed after it was approved")
    if (pred.stage, pred.step_seq, pred.record_id) != (step.stage, step.seq, step.record_id):
        return failed(f"its predicate says stage '{pred.stage}', step {pred.step_seq}, record "
                      f"{pred.record_id}, but the step is stage '{step.stage}', step {step.seq},"
                      f" record {step.record_id}")
    return found


def verify_approvals(
    envelopes: Mapping[str, bytes], steps: Sequence[Step], keys: Sequence[PublicKey],
) -> list[ApprovalCheck]:
    """Check every approval envelope; never raises for a bad one — it is reported.

    An approval holds when a trusted key signed it, that key is the reviewer's named key, its
    subject digest equals a step of this record, and its predicate parses and agrees with the
    step (stage, sequence number, record id).

    Args:
        envelopes: name (file or archive member name) to envelope bytes.
        steps: the record's steps (already verified by the caller).
        keys: the trusted reviewer keys.

    Returns:
        One ``ApprovalCheck`` per envelope, sorted by name.
    """
    by_id = {s.id: s for s in steps}
    return [_check_one(name, envelopes[name], by_id, keys) for name in sorted(envelopes)]
