"""Verify a bundle straight from a registry, and publish only what verifies.

``verify_remote`` pulls the bundle an ``oci://`` or ``models:/`` reference leads to into a
temporary file, runs ``aitrace.verify.bundle.verify_bundle`` on exactly those bytes and adds the
registry's own checks in front of the bundle's:

* ``registry.digest`` (OCI): the bytes pulled are the blob the manifest names — the digest
  pulled is the digest verified, and the report's ``path`` is the reference pinned to the
  manifest digest; ``registry.referrer``: the bundle was found as a referrer of the model's
  artifact (which one, and how);
* ``registry.bundle-digest`` (MLflow): the attached bundle is the one published
  (``aitrace.bundle_sha256``); ``registry.files``: every file of the registered version is a
  released artifact, unchanged (``aitrace.publish.mlflow_registry``).

A blob that does not match its digest is still verified (the report then also says which
member was altered) but the verdict fails. ``publish_bundle`` verifies a local bundle, refuses
to publish one that fails, registers it, and moves an alias only after the registered version
verifies from the registry itself.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aitrace.publish.errors import PublishRefused
from aitrace.publish.refs import ModelRef, OciRef
from aitrace.verify.checks import Check, VerifyReport, abbrev

if TYPE_CHECKING:
    from aitrace.publish.mlflow_registry import Published
    from aitrace.signing.keys import PublicKey
    from aitrace.verify.policy import Policy


@dataclass(frozen=True)
class VerifyOptions:
    """What ``verify_bundle`` is asked besides the bundle (shared by every remote path)."""

    keys: Sequence[PublicKey]
    threshold: int = 1
    policy: Policy | None = None
    artifacts: Sequence[Path] = ()
    now: datetime | None = None
    approver_keys: Sequence[PublicKey] = ()


def verify_file(path: Path, opts: VerifyOptions) -> VerifyReport:
    """``verify_bundle`` on a local file with ``opts``."""
    from aitrace.verify.bundle import verify_bundle

    return verify_bundle(path, opts.keys, threshold=opts.threshold, policy=opts.policy,
                         artifacts=list(opts.artifacts), now=opts.now,
                         approver_keys=opts.approver_keys)


def _with(report: VerifyReport, path: str, front: Sequence[Check],
          back: Sequence[Check] = ()) -> VerifyReport:
    return replace(report, path=path, checks=(*front, *report.checks, *back))


def verify_oci(ref: OciRef, opts: VerifyOptions, *, plain_http: bool = False,
               env: Mapping[str, str] | None = None) -> VerifyReport:
    """Pull the bundle ``ref`` leads to and verify those bytes (see the module docstring)."""
    from aitrace.publish.artifact import pull_bundle

    with tempfile.TemporaryDirectory(prefix="aitrace-pull-") as tmp:
        pulled = pull_bundle(ref, Path(tmp) / "bundle.aitrace", plain_http=plain_http, env=env,
                             keep_mismatch=True)
        report = verify_file(pulled.path, opts)
    loc = pulled.located
    t_digest = "The bundle pulled is the blob the registry's manifest names"
    front = []
    if pulled.ok:
        front.append(Check("registry.digest", t_digest, "passed",
                           f"{loc.layer.digest} ({pulled.size} bytes) from {loc.ref}"))
    else:
        front.append(Check("registry.digest", t_digest, "failed",
                           f"the registry sent {pulled.actual} ({pulled.size} bytes) for the "
                           f"bundle blob {loc.layer.digest} ({loc.layer.size} bytes) of "
                           f"{loc.ref}: its copy was altered or corrupted"))
    if loc.referrer_of is not None:
        how = "the registry's referrers API" if loc.referrers == "api" else \
            f"the referrers tag {loc.referrer_of.replace(':', '-', 1)}"
        more = f" (the newest of {len(loc.others) + 1})" if loc.others else ""
        front.append(Check("registry.referrer",
                           "The bundle refers to the artifact that was named", "passed",
                           f"an aitrace bundle{more} whose subject is {ref} "
                           f"({loc.referrer_of}), found through {how}"))
    return _with(report, str(loc.ref), front)


def verify_model(ref: ModelRef, opts: VerifyOptions, *, tracking_uri: str | None = None
                 ) -> VerifyReport:
    """Download a model version's bundle and files; verify the bundle, then every file."""
    from aitrace.publish.mlflow_registry import (
        fetch_version,
        released_artifacts,
        resolve_tracking_uri,
        version_file_checks,
    )

    uri = resolve_tracking_uri(tracking_uri)
    with tempfile.TemporaryDirectory(prefix="aitrace-model-") as tmp:
        fetched = fetch_version(ref, Path(tmp) / "dl", uri)
        report = verify_file(fetched.bundle, opts)
        layout = released_artifacts(fetched.bundle, _pairs(report.subjects))
        files = version_file_checks(fetched, layout)
    t_bundle = "The attached bundle is the one that was published (aitrace.bundle_sha256)"
    if fetched.bundle_sha256 == fetched.published_sha256:
        first = Check("registry.bundle-digest", t_bundle, "passed",
                      f"sha256:{fetched.bundle_sha256}")
    else:
        first = Check("registry.bundle-digest", t_bundle, "failed",
                      f"the bundle attached to {fetched.ref} hashes to "
                      f"{abbrev(fetched.bundle_sha256)} but was published as "
                      f"{abbrev(fetched.published_sha256 or None)}: it was replaced")
    shown = str(fetched.ref) + (f" (@{ref.alias})" if ref.alias else "")
    return _with(report, shown, [first], files)


def verify_remote(ref: OciRef | ModelRef, opts: VerifyOptions, *, plain_http: bool = False,
                  tracking_uri: str | None = None,
                  env: Mapping[str, str] | None = None) -> VerifyReport:
    """``aitrace verify oci://…`` or ``models:/…``: every check, as for a local bundle."""
    if isinstance(ref, OciRef):
        return verify_oci(ref, opts, plain_http=plain_http, env=env)
    return verify_model(ref, opts, tracking_uri=tracking_uri)


def _refuse(report: VerifyReport, what: str) -> PublishRefused:
    failed = report.failed
    listed = "; ".join(f"{c.id}: {c.message}" for c in failed[:3])
    more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
    return PublishRefused(f"{what} does not verify: {listed}{more}",
                          hint=f"run `aitrace verify {report.path} --key …` for every check")


def publish_bundle(bundle: Path, opts: VerifyOptions, *, name: str, source_root: Path,
                   tracking_uri: str | None = None, alias: str | None = None) -> Published:
    """Verify ``bundle``, register its released files as a new version of ``name``.

    With ``alias``, the new version is verified again from the registry (bundle and every
    file, as ``aitrace verify models:/…`` does) and the alias moved only if that passes.

    Raises:
        PublishRefused: the bundle, a released file or the registered version failed a check.
    """
    from aitrace.bundle.read import OpenedBundle
    from aitrace.publish.mlflow_registry import (
        publish_version,
        resolve_tracking_uri,
        set_alias,
    )

    report = verify_file(bundle, opts)
    if not report.ok:
        raise _refuse(report, str(bundle))
    with OpenedBundle.open(bundle) as ob:
        chain_head = ob.predicate.chain_head
        record_name = ob.record_name or "model"
    uri = resolve_tracking_uri(tracking_uri)
    published = publish_version(bundle, name=name, subjects=_pairs(report.subjects),
                                verified_by=report.signers, chain_head=chain_head,
                                record_id=report.record_id or "", record_name=record_name,
                                source_root=source_root, tracking_uri=uri)
    if alias is None:
        return published
    check = verify_model(published.ref, opts, tracking_uri=uri)
    if not check.ok:
        raise _refuse(check, f"{published.ref} (registered; alias '{alias}' NOT set)")
    set_alias(published.ref, alias, uri)
    return replace(published, alias=alias)


def _pairs(subjects: Sequence[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """Statement subjects as (name, hex digest): a file's sha256 or a folder's dirHash.

    Both are what ``Hasher().digest`` computes for the registered copy of that path.
    """
    return [(name, digest) for name, _algorithm, digest in subjects]
