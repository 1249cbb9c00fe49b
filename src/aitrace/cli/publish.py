"""Registry commands: ``push`` and ``pull`` (OCI registries), ``publish`` (MLflow Model Registry).

Each prints the one reference it produced on stdout (``oci://…@sha256:…``, a file, or
``models:/NAME/VERSION``) so scripts can capture it, and its details on stderr; ``--json``
prints the documented document instead. Exit codes: 0 done, 1 a check failed (the bundle does
not verify, a blob does not match its digest, a released file changed), 2 usage, access or
addressing problems (auth, not found, not an aitrace artifact). ``aitrace verify oci://…`` and
``verify models:/…`` live with ``verify`` (``aitrace.cli.sign``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from aitrace.cli._common import emit_json, short
from aitrace.cli.options import (
    PolicyChoice,
    json_option,
    plain_http_option,
    policy_options,
    tracking_uri_option,
    trusted_keys_option,
)
from aitrace.errors import InputError

if TYPE_CHECKING:
    from aitrace.publish.remote import VerifyOptions


def _note(text: str) -> None:
    click.echo(text, err=True)


def _verify_options(keys: tuple[Path, ...], threshold: int,
                    policy: PolicyChoice) -> VerifyOptions:
    from aitrace.publish.remote import VerifyOptions
    from aitrace.signing.keys import load_public_key

    return VerifyOptions(keys=[load_public_key(k) for k in keys], threshold=threshold,
                         policy=policy.load())


@click.command("push", short_help="Push a bundle to an OCI registry as an artifact.")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("target", metavar="oci://HOST[:PORT]/REPO:TAG")
@click.option("--subject", metavar="oci://HOST/REPO@sha256:…",
              help="The model's own artifact (same repository, by digest or tag): attach the "
                   "bundle to it as an OCI referrer.")
@trusted_keys_option("Verify the bundle with this public key first (repeatable) and record "
                     "its id in the artifact's annotations.")
@policy_options
@plain_http_option
@json_option
def push_cmd(bundle: Path, target: str, subject: str | None, keys: tuple[Path, ...],
             policy: PolicyChoice, plain_http: bool, as_json: bool) -> int:
    """Push BUNDLE to an OCI registry as an artifact of type application/vnd.aitrace.bundle.v1+zip.

    Credentials come from AITRACE_REGISTRY_USERNAME / AITRACE_REGISTRY_PASSWORD or Docker's
    config.json (and its credential helpers); they are never printed.
    """
    from aitrace.publish.artifact import push_bundle
    from aitrace.publish.errors import PublishRefused
    from aitrace.publish.refs import parse_oci

    ref = parse_oci(target)
    subject_ref = parse_oci(subject) if subject else None
    verified_by: tuple[str, ...] = ()
    if keys:
        from aitrace.publish.remote import verify_file

        report = verify_file(bundle, _verify_options(keys, 1, policy))
        if not report.ok:
            raise PublishRefused(f"{bundle} does not verify ({len(report.failed)} check(s) "
                                 f"failed, first: {report.failed[0].id}: "
                                 f"{report.failed[0].message}); nothing was pushed",
                                 hint=f"run `aitrace verify {bundle} --key …` for every check")
        verified_by = report.signers
    result = push_bundle(bundle, ref, subject=subject_ref, plain_http=plain_http,
                         verified_by=verified_by)
    if as_json:
        emit_json(result.to_dict() | {"verified_by": list(verified_by)})
        return 0
    _note(f"pushed {bundle} ({bundle.stat().st_size:,} bytes) to {ref}")
    _note(f"  manifest   {result.digest}")
    _note(f"  bundle     sha256:{result.bundle_sha256}")
    if result.subject is not None:
        how = "the registry's referrers API" if result.referrers == "api" else \
            "the referrers tag " + result.subject.reference.replace(":", "-", 1)
        _note(f"  referrer of {result.subject} (indexed by {how})")
    if verified_by:
        _note("  verified by " + ", ".join(short(k, 16) for k in verified_by))
    click.echo(str(result.ref))
    return 0


@click.command("pull", short_help="Get a bundle back from an OCI registry or a model version.")
@click.argument("ref", metavar="oci://…|models:/NAME/VERSION")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write (byte-identical to the pushed bundle).")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@plain_http_option
@tracking_uri_option
@json_option
def pull_cmd(ref: str, output: Path, force: bool, plain_http: bool, tracking_uri: str | None,
             as_json: bool) -> int:
    """Get the bundle REF leads to, byte-identical, its digest checked (not its signatures).

    REF is an aitrace artifact, or the model's own OCI artifact (its newest aitrace referrer is
    pulled), or a model version published with `aitrace publish`.
    """
    from aitrace.publish.refs import OciRef, parse_remote

    remote = parse_remote(ref)
    if remote is None:
        raise InputError(f"'{ref}' is not a registry reference",
                         hint="use oci://HOST[:PORT]/REPO:TAG or models:/NAME/VERSION")
    if output.exists() and not force:
        raise InputError(f"{output} already exists", hint="pass --force to overwrite it")
    if isinstance(remote, OciRef):
        from aitrace.publish.artifact import pull_bundle

        result = pull_bundle(remote, output, plain_http=plain_http)
        doc = result.to_dict()
        pinned, sha = str(result.located.ref), result.actual
        if result.located.referrer_of and not as_json:
            more = f", the newest of {len(result.located.others) + 1}" if \
                result.located.others else ""
            _note(f"  {remote} is not a bundle; pulled its aitrace referrer{more}")
    else:
        from aitrace.publish.mlflow_registry import fetch_version, resolve_tracking_uri

        with tempfile.TemporaryDirectory(prefix="aitrace-pull-") as tmp:
            fetched = fetch_version(remote, Path(tmp) / "dl", resolve_tracking_uri(tracking_uri),
                                    with_files=False)
            output.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fetched.bundle, output)
        pinned, sha = str(fetched.ref), f"sha256:{fetched.bundle_sha256}"
        doc = {"reference": pinned, "file": str(output), "size": output.stat().st_size,
               "bundle_sha256": fetched.bundle_sha256,
               "published_sha256": fetched.published_sha256}
    if as_json:
        emit_json(doc)
        return 0
    _note(f"pulled {pinned} ({output.stat().st_size:,} bytes, {sha})")
    _note(f"note: pulling does not verify signatures; run `aitrace verify {output} --key …`")
    click.echo(str(output))
    return 0


@click.command("publish", short_help="Register the released model as an MLflow model version.")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--registered-model", "name", required=True, metavar="NAME",
              help="The registered model to add a version to (created if needed).")
@click.option("--alias", metavar="ALIAS",
              help="Point this alias (e.g. champion) at the new version — only after it "
                   "verifies from the registry.")
@tracking_uri_option
@click.option("--from", "source_root", type=click.Path(file_okay=False, path_type=Path),
              help="Where the recorded paths of the released files are relative to (default: "
                   "the current workspace's root, else the current directory).")
@trusted_keys_option("Trusted public key the bundle must verify with (repeatable).")
@click.option("--threshold", default=1, show_default=True, type=int,
              help="Distinct trusted keys that must have signed.")
@policy_options
@json_option
def publish_cmd(bundle: Path, name: str, alias: str | None, tracking_uri: str | None,
                source_root: Path | None, keys: tuple[Path, ...], threshold: int,
                policy: PolicyChoice, as_json: bool) -> int:
    """Verify BUNDLE, then register its released model files as a new MLflow model version.

    The bundle is attached to the version (artifact + tags aitrace.bundle_sha256,
    aitrace.chain_head, aitrace.verified_by); prints models:/NAME/VERSION.
    """
    from aitrace.errors import WorkspaceError
    from aitrace.publish.remote import publish_bundle
    from aitrace.store.workspace import Workspace

    if not keys:
        raise InputError("no trusted public key given",
                         hint="pass --key KEY.pub: only a bundle that verifies is published")
    if source_root is None:
        try:
            source_root = Workspace.find().root
        except WorkspaceError:
            source_root = Path.cwd()
    published = publish_bundle(bundle, _verify_options(keys, threshold, policy), name=name,
                               source_root=source_root, tracking_uri=tracking_uri, alias=alias)
    if as_json:
        emit_json(published.to_dict())
        return 0
    _note(f"registered {published.ref} with {len(published.files)} released artifact(s): "
          + ", ".join(published.files))
    _note(f"  bundle     sha256:{published.bundle_sha256} (attached, run {published.run_id})")
    _note(f"  tracking   {published.tracking_uri}")
    _note("  verified by " + ", ".join(short(k, 16) for k in published.verified_by))
    if published.alias:
        _note(f"  alias      @{published.alias} → version {published.ref.version} (verified "
              "from the registry first)")
    click.echo(str(published.ref))
    return 0
