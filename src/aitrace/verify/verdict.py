"""The verdict: three separate answers, worded once, shown the same way by every view.

A verification answers three different questions, and a view that merges them says more than
was checked (an "authentic" record that no key vouched for, a "verified" badge on a record whose
policy failed). So ``verify``, ``inspect``, ``report`` (HTML and JSON) all render this one model:

* **integrity and signature** — ``trusted`` (every safety, digest, signature, hash-chain, time
  and evidence-object check passed), ``untrusted`` (one failed: nothing in the bundle is vouched
  for) or ``not verified`` (no trusted key was given). Only this answer ever says "untrusted" or
  "not verified".
* **record completeness** — what the record holds: ``incomplete`` when a record-completeness
  check failed (``aitrace.verify.checks.check_kind``: an input no step produced — a chain of
  custody gap —, a GX result not bound to its step's data), else the completeness score of what
  it shows (evidence that shows nothing does not count): ``complete`` or ``partial``. An
  incomplete record is still exactly what the signer attested; it is not untrusted.
* **policy** — ``passed``, ``failed``, ``not evaluated`` (``--no-policy``) or ``not judged``
  (integrity failed, so the content a policy would judge is not trusted).

The counts of checks come from the same list everywhere, so every view says the same number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aitrace.verify.checks import Check, check_kind

IntegrityState = Literal["trusted", "untrusted", "not verified"]
CompletenessState = Literal["complete", "partial", "incomplete", "unknown"]
PolicyState = Literal["passed", "failed", "not evaluated", "not judged"]

NO_KEY_CHECK = "no trusted release key was given (--key)"


@dataclass(frozen=True)
class Answer:
    """One of the three answers: its state, a one-line summary and the details behind it."""

    state: str
    summary: str
    details: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"state": self.state, "summary": self.summary, "details": list(self.details)}


@dataclass(frozen=True)
class Verdict:
    """The three answers of one verification, and the check counts they rest on."""

    integrity: Answer
    completeness: Answer
    policy: Answer
    passed: int
    failed: int
    skipped: int

    @property
    def trusted(self) -> bool:
        """Whether integrity and signature hold (the content is what the signer attested)."""
        return self.integrity.state == "trusted"

    @property
    def ok(self) -> bool:
        """Whether nothing failed: trusted, complete enough, the policy passed or not evaluated."""
        return self.trusted and self.completeness.state != "incomplete" and \
            self.policy.state in ("passed", "not evaluated")

    @property
    def total(self) -> int:
        """How many checks ran (or were skipped)."""
        return self.passed + self.failed + self.skipped

    @property
    def counts(self) -> str:
        """``26 checks: 26 passed, 0 failed, 0 skipped`` — the same words in every view."""
        return (f"{self.total} checks: {self.passed} passed, {self.failed} failed, "
                f"{self.skipped} skipped")

    @property
    def headline(self) -> str:
        """The one line a view leads with."""
        if self.integrity.state == "not verified":
            return "NOT VERIFIED: no trusted key was given, so the signature was not checked"
        if not self.trusted:
            return ("NOT TRUSTED: integrity or signature checks failed; nothing in this bundle "
                    "is vouched for")
        incomplete = self.completeness.state == "incomplete"
        if incomplete and self.policy.state == "failed":
            return (f"TRUSTED, BUT THE RECORD IS INCOMPLETE AND THE POLICY FAILED: "
                    f"{len(self.completeness.details)} record-completeness and "
                    f"{len(self.policy.details)} policy check(s) failed")
        if incomplete:
            return (f"TRUSTED, BUT THE RECORD IS INCOMPLETE: {len(self.completeness.details)} "
                    "record-completeness check(s) failed")
        if self.policy.state == "failed":
            return (f"TRUSTED, BUT THE POLICY FAILED: {len(self.policy.details)} policy "
                    "check(s) failed")
        if self.policy.state == "not evaluated":
            return "VERIFIED: trusted (integrity and signature only; no policy was evaluated)"
        return "VERIFIED: trusted, and the policy passed"

    def lines(self) -> list[str]:
        """The three answers as text lines (verify, inspect and the report use these)."""
        return [f"Integrity and signature: {self.integrity.summary}",
                f"Record completeness:     {self.completeness.summary}",
                f"Policy:                  {self.policy.summary}"]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``verify --json``, ``inspect --json``, ``report --json``)."""
        return {"headline": self.headline, "ok": self.ok, "trusted": self.trusted,
                "integrity": self.integrity.to_dict(),
                "completeness": self.completeness.to_dict(), "policy": self.policy.to_dict(),
                "checks": {"total": self.total, "passed": self.passed, "failed": self.failed,
                           "skipped": self.skipped}}


def is_policy_check(check_id: str) -> bool:
    """Whether a check id belongs to the policy (``policy`` or ``policy.*``)."""
    return check_id == "policy" or check_id.startswith("policy.")


def _integrity(checks: Sequence[Check], signers: Sequence[str]) -> Answer:
    failed = [c for c in checks if c.status == "failed" and check_kind(c.id) == "integrity"]
    if any(c.id == "signature.trusted" and c.message.startswith(NO_KEY_CHECK) for c in failed):
        return Answer("not verified", "NOT VERIFIED — no trusted release key was given, so the "
                      "signature could not be checked and nothing is vouched for",
                      tuple(c.message for c in failed))
    if failed:
        n = len(failed)
        return Answer("untrusted", f"UNTRUSTED — {n} integrity/signature check(s) failed: "
                      + failed[0].message + (" …" if n > 1 else ""),
                      tuple(c.message for c in failed))
    if not any(c.status == "passed" for c in checks):
        return Answer("not verified", "NOT VERIFIED — no check ran")
    who = ", ".join(signers) or "a trusted key"
    return Answer("trusted", f"TRUSTED — signed by {who}; every digest and the hash chain hold")


def _completeness(completeness: Mapping[str, Any] | None, trusted: bool,
                  checks: Sequence[Check] = ()) -> Answer:
    gaps = [c for c in checks if c.status == "failed" and check_kind(c.id) == "completeness"]
    if gaps:
        n = len(gaps)
        of = "" if trusted else " (of content that is not trusted)"
        return Answer("incomplete", f"INCOMPLETE{of} — {n} record-completeness check(s) failed: "
                      + gaps[0].message + (" …" if n > 1 else ""),
                      tuple(c.message for c in gaps))
    score = completeness.get("score") if completeness else None
    if not isinstance(score, int):
        return Answer("unknown", "unknown — no step could be read")
    missing = [str(m) for m in completeness.get("missing") or []] if completeness else []
    of = "" if trusted else " (of content that is not trusted)"
    if not missing:
        return Answer("complete", f"complete — {score}/100, every stage shows what it is "
                      f"expected to{of}")
    shown = "; ".join(missing[:4]) + (" …" if len(missing) > 4 else "")
    return Answer("partial", f"partial — {score}/100{of}; missing: {shown}", tuple(missing))


def _policy(checks: Sequence[Check], policy: str | None, trusted: bool) -> Answer:
    mine = [c for c in checks if is_policy_check(c.id)]
    name = f"'{policy}'" if policy else ""
    if policy is None:
        return Answer("not evaluated", "not evaluated — --no-policy: only integrity and "
                      "signature were checked")
    if not trusted:
        return Answer("not judged", f"not judged — policy {name} is not applied to content "
                      "that failed integrity or signature checks",
                      tuple(c.message for c in mine))
    failed = [c for c in mine if c.status == "failed"]
    if failed:
        return Answer("failed", f"FAILED — policy {name}: {len(failed)} of {len(mine)} "
                      f"check(s) failed: {failed[0].message}" + (" …" if len(failed) > 1 else ""),
                      tuple(c.message for c in failed))
    passed = sum(1 for c in mine if c.status == "passed")
    return Answer("passed", f"passed — policy {name}: {passed} check(s) passed"
                  + (f", {len(mine) - passed} skipped" if len(mine) > passed else ""))


def verdict_of(checks: Sequence[Check], *, policy: str | None,
               completeness: Mapping[str, Any] | None,
               signers: Sequence[str] = ()) -> Verdict:
    """The three answers of a list of checks (see the module docstring).

    Args:
        checks: every check of one verification, policy checks included.
        policy: the policy's name (``None``: no policy was evaluated).
        completeness: the record's completeness document (``score``, ``missing``).
        signers: how to name the keys that verifiably signed (names where known).
    """
    integrity = _integrity(checks, signers)
    trusted = integrity.state == "trusted"
    return Verdict(
        integrity=integrity, completeness=_completeness(completeness, trusted, checks),
        policy=_policy(checks, policy, trusted),
        passed=sum(1 for c in checks if c.status == "passed"),
        failed=sum(1 for c in checks if c.status == "failed"),
        skipped=sum(1 for c in checks if c.status == "skipped"))
