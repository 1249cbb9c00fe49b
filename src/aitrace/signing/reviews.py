"""A reviewer's signature over a filled review sheet: DSSE over in-toto, as for approvals.

``record_signed_review`` reads a filled sheet against the record's trace samples (refusing rows
that do not match the sampled digests), builds the ``OutputReview`` predicate (who, when, each
row's verdict, the rates), signs it with the reviewer's key and records the envelope as
``output-review`` evidence on a monitoring step. The statement's subjects are the sheet's bytes
(``review-sheet``) and the trace-sample evidence the rows came from (``trace-sample``), so the
signature cannot be moved to another sheet or sample.

``verify_review`` checks an envelope through the one attestation path
(``aitrace.signing.dsse.verify_attestation``): a trusted key signed it, that key is the
reviewer's named key, and the subjects are the predicate's sheet and sample digests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aitrace.errors import AitraceError
from aitrace.evidence.monitoring.models import (
    REVIEW_PREDICATE,
    REVIEW_SHEET_SUBJECT,
    TRACE_SAMPLE_SUBJECT,
    OutputReview,
)
from aitrace.record._model import to_json
from aitrace.record.jsonio import canonical_bytes, pretty_bytes

if TYPE_CHECKING:
    from aitrace.record.models import EvidenceRef, Step
    from aitrace.signing.keys import PublicKey, Signer
    from aitrace.store.workspace import Workspace


def sign_review(review: OutputReview, signer: Signer) -> bytes:
    """The DSSE envelope (pretty JSON bytes) of ``review`` signed by ``signer``."""
    from aitrace.signing.dsse import IN_TOTO_PAYLOAD_TYPE, dsse_sign, make_statement

    statement = make_statement([(REVIEW_SHEET_SUBJECT, review.sheet_sha256),
                                (TRACE_SAMPLE_SUBJECT, review.sample_sha256)],
                               REVIEW_PREDICATE, to_json(review))
    return pretty_bytes(dsse_sign(canonical_bytes(statement), IN_TOTO_PAYLOAD_TYPE, [signer]))


def record_signed_review(workspace: Workspace, sheet: Path, signer: Signer,
                         reviewer: str) -> tuple[Step, EvidenceRef, OutputReview]:
    """Check a filled sheet, sign it as ``reviewer`` and record it on a monitoring step.

    Raises:
        InputError: the record has no trace sample, or the sheet does not match it (the row
            and column are named), or the reviewer name is empty.
    """
    from aitrace.evidence.monitoring.record import record_review, workspace_samples
    from aitrace.evidence.monitoring.review import build_review, read_sheet
    from aitrace.record.times import utc_now_seconds

    filled = read_sheet(Path(sheet), workspace_samples(workspace))
    review = build_review(filled, record_id=workspace.record.id, reviewer=reviewer,
                          keyid=signer.keyid, time=utc_now_seconds())
    envelope = sign_review(review, signer)
    step, ref = record_review(workspace, envelope, review, Path(sheet))
    return step, ref, review


@dataclass(frozen=True)
class ReviewCheck:
    """The verdict on one review envelope."""

    ok: bool
    reviewer: str | None = None
    keyid: str | None = None
    review: OutputReview | None = None
    problem: str | None = None


def verify_review(envelope: bytes, keys: Sequence[PublicKey], *,
                  source: str = "output review") -> ReviewCheck:
    """Check a review envelope against trusted keys; a bad one is reported, never raised."""
    from aitrace.signing.dsse import Envelope, verify_attestation

    try:
        env = Envelope.from_bytes(envelope, source)
    except AitraceError as exc:
        return ReviewCheck(False, problem=exc.message)
    result = verify_attestation(env, keys, REVIEW_PREDICATE, OutputReview, source=source)
    review, statement = result.predicate, result.statement
    if review is None or statement is None:
        return ReviewCheck(False, problem=result.first_problem())
    found = ReviewCheck(True, reviewer=review.reviewer.name, keyid=review.reviewer.keyid,
                        review=review)

    def failed(problem: str) -> ReviewCheck:
        return ReviewCheck(False, reviewer=found.reviewer, keyid=found.keyid, review=review,
                           problem=problem)

    if not result.ok:
        return failed(result.first_problem() or "not signed by a trusted key")
    if review.reviewer.keyid not in result.verified_keyids:
        return failed(f"names reviewer key {review.reviewer.keyid[:16]}… but was signed by "
                      + ", ".join(k[:16] + "…" for k in result.verified_keyids))
    subjects = sorted((s.name, s.sha256 or "") for s in statement.subjects)
    expected = sorted([(REVIEW_SHEET_SUBJECT, review.sheet_sha256),
                       (TRACE_SAMPLE_SUBJECT, review.sample_sha256)])
    if subjects != expected:
        return failed("its subjects are not the review sheet and trace sample it names")
    return found
