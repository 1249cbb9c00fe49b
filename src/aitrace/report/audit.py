"""Open a record for auditing: a bundle (verified first, read without extraction) or a workspace.

``audit_bundle`` is what ``inspect`` and ``report`` call: it runs ``verify_bundle`` with the given
keys and policy, opens the archive with the safe reader and builds the ``AuditView``. When no key
is given the signature cannot be checked; the view says so and trusts nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aitrace.record.models import Step
from aitrace.record.refs import bytes_match
from aitrace.report.view import AuditView, RecordSource, build_view, not_verified


class WorkspaceSource:
    """A local workspace as a ``RecordSource`` (for previews; it is never 'verified')."""

    def __init__(self, workspace: Any) -> None:
        self.ws = workspace
        self.label = str(workspace.root)

    @property
    def record_id(self) -> str | None:
        return str(self.ws.record.id)

    @property
    def record_name(self) -> str | None:
        return str(self.ws.name)

    @property
    def steps(self) -> Sequence[Step]:
        return tuple(self.ws.steps())

    def object_bytes(self, sha256: str) -> bytes | None:
        path = self.ws.object_path(sha256)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        return data if bytes_match(data, sha256) else None

    def approval_envelopes(self) -> Mapping[str, bytes]:
        from aitrace.signing.approvals import list_approvals

        return dict(list_approvals(self.ws))

    def signer_keyids(self) -> list[str]:
        return []

    def step_member(self, step: Step) -> str | None:
        return None

    def object_member(self, sha256: str) -> str | None:
        return None


def audit_workspace(workspace: Any, key_paths: Sequence[Path] = ()) -> AuditView:
    """The view of a local workspace (unsigned, so shown as not verified)."""
    keys = _load_keys(key_paths)
    return build_view(WorkspaceSource(workspace),
                      not_verified("a local workspace, not a signed bundle"), keys)


def _load_keys(key_paths: Sequence[Path]) -> list[Any]:
    if not key_paths:
        return []
    from aitrace.signing.keys import load_public_key

    return [load_public_key(Path(p)) for p in key_paths]


def audit_bundle(path: Path, *, key_paths: Sequence[Path] = (),
                 policy_path: Path | None = None,
                 default_policy: bool = False,
                 approver_key_paths: Sequence[Path] = (),
                 artifacts: Sequence[Path] = ()) -> AuditView:
    """Verify the bundle at ``path`` and build its view (the verdict comes first).

    ``key_paths`` are release keys (they may sign the attestation), ``approver_key_paths``
    approver keys (they may sign approvals), as for ``aitrace verify``. ``default_policy``
    applies aitrace's "complete record" policy when no file is given, as ``aitrace verify``
    does, and ``artifacts`` are checked as ``verify --artifact`` checks them, so the auditor's
    views and CI run the same checks and agree on the verdict.
    """
    from aitrace.bundle.read import OpenedBundle
    from aitrace.report.view import verification_from_report
    from aitrace.verify.bundle import verify_bundle

    keys = _load_keys(key_paths)
    approvers = _load_keys(approver_key_paths)
    policy = None
    label = None
    if policy_path is not None:
        from aitrace.verify.policy import load_policy

        policy = load_policy(policy_path)
        label = f"{policy.name} ({policy_path})"
    elif default_policy:
        from aitrace.verify.policy import default_policy as _default

        policy = _default()
        label = f"{policy.name} (aitrace default)"
    report = verify_bundle(path, keys, policy=policy, approver_keys=approvers,
                           artifacts=artifacts)
    verification = verification_from_report(report, keys_given=bool(keys))
    with OpenedBundle.open(path) as source:
        return build_view(source, verification, approvers, policy=label)


__all__ = ["RecordSource", "WorkspaceSource", "audit_bundle", "audit_workspace", "open_unverified"]


def open_unverified(path: Path) -> AuditView:
    """The view of a bundle read safely but not verified (``diff`` without ``--key``)."""
    from aitrace.bundle.read import OpenedBundle

    with OpenedBundle.open(path) as source:
        return build_view(source, not_verified("no key given; the bundle was read but its "
                                               "signature was not checked"))
