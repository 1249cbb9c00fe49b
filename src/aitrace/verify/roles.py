"""Key roles: which key may sign a release and which may sign approvals.

``aitrace verify --key`` names release keys, ``--approver-key`` approver keys, and neither acts
in the other's role (``aitrace.verify.bundle``). A policy can pin the roles by key id
(``keys: {release: [...], approvers: [...]}``); ``RolesRespected`` then fails when the
attestation is signed by a key outside the release role, and ``rules.Approvals`` counts only
keys in the approver role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aitrace.record._model import field, model
from aitrace.verify.checks import Check

if TYPE_CHECKING:
    from aitrace.verify.rules import PolicyContext


@model
class KeyRoles:
    """Which keys may act in which role: a key acts only in a role it is given.

    A release key signs the attestation (``verify --key``); an approver key signs approvals
    (``verify --approver-key``). A key the policy names as an approver (here or in an
    ``approvals`` rule) and not as a release key may never sign a release, and one named only
    as a release key may never approve.
    """

    release: tuple[str, ...] = field(
        default=(), description="key ids that may sign the attestation (empty: any --key)")
    approvers: tuple[str, ...] = field(
        default=(), description="key ids that may sign approvals (empty: any --approver-key)")


@dataclass(frozen=True)
class RolesRespected:
    """The attestation is signed only by keys the policy lets sign releases.

    ``approvers`` are every key id the policy names as an approver (``keys.approvers`` and the
    ``approvals`` rules' ``keyids``): such a key signing the attestation is a reviewer signing
    a release, refused unless ``keys.release`` names it too.
    """

    roles: KeyRoles | None
    approvers: tuple[str, ...]

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """One failure per signing key acting outside its role."""
        cid, title = "policy.key-roles", "Keys act only in the roles the policy gives them"
        release = set(self.roles.release) if self.roles else set()
        fails: list[tuple[str, str | None]] = []
        for kid in ctx.signers:
            if release and kid not in release:
                fails.append((f"the attestation is signed by key {kid[:16]}…, which the "
                              "policy does not name as a release key (keys.release)", None))
            elif kid in self.approvers and kid not in release:
                fails.append((f"the attestation is signed by key {kid[:16]}…, which the "
                              "policy names as an approver: an approver key may not sign a "
                              "release", None))
        if not ctx.signers:
            return [Check(cid, title, "skipped", "no signature on the attestation verified")]
        if fails:
            return [Check(cid, title, "failed", msg, member) for msg, member in fails]
        return [Check(cid, title, "passed", "signed by " + ", ".join(
            k[:12] + "…" for k in ctx.signers) + " in the release role")]
