"""Checks as values: every verification result is a ``Check``, collected in order, never raised.

Shared by bundle verification, custody and policy, and read by the report: a leaf module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from aitrace.verify.verdict import Verdict


CheckStatus = Literal["passed", "failed", "skipped"]
REPORT_FORMAT = "aitrace.verify/v1"

COMPLETENESS_CHECKS = frozenset({"chain.custody", "evidence.gx-bound", "chain.time",
                                 "chain.preregistration"})
"""Checks about what the record holds, not about whether it is what the signer signed: a failure
says the record is incomplete or inconsistent (an input with no producing step, a GX result not
bound to the step's data, time running backwards, success criteria recorded after the
evaluation they judge), never that its content was altered after signing."""


def check_kind(check_id: str) -> Literal["integrity", "completeness", "policy"]:
    """What a failure of ``check_id`` means: damaged content, an incomplete record, or policy.

    Only integrity failures (archive, digests, signatures, chain, evidence objects) make content
    untrusted; the others are judgements on a record that is exactly what the signer attested.
    """
    if check_id.startswith("policy"):
        return "policy"
    return "completeness" if check_id in COMPLETENESS_CHECKS else "integrity"


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
    subjects: tuple[tuple[str, str, str], ...] = ()
    """The signed statement's subjects: ``(name, digest algorithm, hex)``."""
    policy: str | None = None
    completeness: Mapping[str, Any] | None = None
    answers: Verdict | None = None
    signer_names: tuple[str, ...] = ()  # parallel to ``signers``: the trusted key's file name

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
    def authentic(self) -> bool:
        """Whether every integrity and signature check passed (``check_kind``).

        A record can be authentic and still incomplete or below the policy: its content is then
        exactly what the signer attested.
        """
        return any(c.status == "passed" for c in self.checks) and not any(
            check_kind(c.id) == "integrity" for c in self.failed)

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
            "authentic": self.authentic, "verdict": self.verdict,
            "record": {"id": self.record_id, "name": self.record_name},
            "signers": list(self.signers), "policy": self.policy,
            "subjects": [{"name": n, alg: v} for n, alg, v in self.subjects],
            "answers": self.answers.to_dict() if self.answers is not None else None,
            "completeness": dict(self.completeness) if self.completeness else None,
            "checks": [c.to_dict() for c in self.checks],
            "failed": [c.to_dict() for c in self.failed],
        }


class Checks:
    """Collects check results in order (shared with the policy rules, ``aitrace.verify.rules``)."""

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


def abbrev(sha: str | None) -> str:
    """A digest as messages show it: ``sha256:`` and 12 hex digits."""
    return f"sha256:{sha[:12]}…" if sha else "no digest"




