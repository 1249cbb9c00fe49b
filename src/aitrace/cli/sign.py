"""Signing commands: ``keygen``, ``bundle``, ``verify`` and ``unpack``.

Exit codes: 0 ok (verified), 1 verification failed (every failed check listed), 2 usage or
unreadable input. Passphrases come from a prompt or an environment variable named by
``--passphrase-env`` — never from a command-line value (see :mod:`aitrace.cli.options`).
"""

from __future__ import annotations

from pathlib import Path

import click

from aitrace.cli._common import emit_json, short
from aitrace.cli.options import (
    NewPassphrase,
    Passphrases,
    PolicyChoice,
    approver_keys_option,
    json_option,
    new_passphrase_options,
    passphrase_option,
    plain_http_option,
    policy_options,
    signing_keys_option,
    tracking_uri_option,
    trusted_keys_option,
)
from aitrace.report.terminal import terminal_safe

_STATUS_MARK = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}


@click.command("keygen", short_help="Create a signing key pair.")
@click.option("-o", "--output", "prefix", required=True, type=click.Path(),
              help="Path prefix: writes PREFIX.key (0600) and PREFIX.pub; a directory (keys/) "
                   "gets keys/signing.key and keys/signing.pub.")
@click.option("--type", "key_type", type=click.Choice(["ecdsa-p256", "ed25519"]),
              default="ecdsa-p256", show_default=True, help="Key algorithm.")
@new_passphrase_options
@click.option("--force", is_flag=True, help="Overwrite existing key files.")
@json_option
def keygen_cmd(prefix: str, key_type: str, passphrase: NewPassphrase, force: bool,
               as_json: bool) -> None:
    """Create a signing key pair (ECDSA P-256 by default; Ed25519 with --type)."""
    from aitrace.cli.keyguard import guard_private_key, key_prefix
    from aitrace.signing.keys import generate_keypair, load_public_key

    path, new_dir = key_prefix(prefix)
    pw = passphrase.value(f"{path}.key")
    priv, pub = generate_keypair(path, key_type=key_type,  # type: ignore[arg-type]
                                 passphrase=pw, force=force)
    kid = load_public_key(pub).keyid
    notes = guard_private_key(priv, new_dir=new_dir)
    if as_json:
        emit_json({"private_key": str(priv), "public_key": str(pub), "keyid": kid,
                   "type": key_type, "encrypted": pw is not None, "notes": notes})
        return
    click.echo(f"wrote {priv} (private, keep it secret) and {pub} (public)")
    click.echo(f"key id {kid}")
    for note in notes:
        click.echo(f"aitrace: {note}", err=True)


@click.command("bundle", short_help="Assemble and sign the record as a .aitrace archive.")
@signing_keys_option("Private key to sign with (repeat for several signers).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The archive to write (conventionally NAME.aitrace).")
@click.option("--include", multiple=True, type=click.Path(path_type=Path),
              help="Embed this file or directory under artifacts/ (repeatable).")
@click.option("--no-model-signing", is_flag=True,
              help="Do not write OpenSSF model-signing .sig files for released models.")
@passphrase_option
@json_option
def bundle_cmd(keys: tuple[Path, ...], output: Path, include: tuple[Path, ...],
               no_model_signing: bool, passphrases: Passphrases, as_json: bool) -> None:
    """Assemble the current record into a signed, deterministic .aitrace archive."""
    from aitrace.bundle.write import build_bundle
    from aitrace.errors import InputError, WriteError
    from aitrace.signing.keys import load_signer
    from aitrace.store.workspace import Workspace

    ws = Workspace.find()
    signers = [load_signer(k, passphrases.for_key(k)) for k in keys]
    try:
        info = build_bundle(ws, signers, output, include=list(include),
                            model_signing_key=None if no_model_signing else keys[0],
                            passphrase=passphrases.for_key(keys[0]))
    except WriteError:  # already names the file and the fix (a full disk, ulimit -f)
        raise
    except OSError as exc:  # the output place (a directory, no permission, a full disk)
        raise InputError(f"cannot write {output}: {exc.strerror or exc}",
                         hint="-o names the archive file to write, in a writable directory"
                         ) from None
    if as_json:
        emit_json(info.to_dict())
        return
    t = terminal_safe
    click.echo(f"wrote {t(info.path)} ({info.size:,} bytes, {info.members} members, "
               f"{info.steps} steps)")
    click.echo(f"  record     {t(info.record_id)}   created {t(info.created_at)}")
    click.echo(f"  chain head {short(info.chain_head, 16)}   manifest "
               f"{short(info.manifest_sha256, 16)}")
    click.echo("  signed by  " + ", ".join(short(k, 16) for k in info.signers))
    for r in info.released:
        alg, value = r.digest
        click.echo(f"  released   {t(r.path)}  {alg}:{t(short(value, 16))}")
    for s in info.model_signatures:
        click.echo(f"  model sig  {t(s)}")
    for n in info.notes:
        click.echo(f"  note: {t(n)}")


@click.command("verify", short_help="Verify a .aitrace archive: signatures, digests, policy.")
@click.argument("bundle", metavar="BUNDLE|oci://…|models:/NAME/VERSION")
@trusted_keys_option("A release key (.pub), trusted to sign the attestation; repeat for several "
                     "release signers.")
@approver_keys_option
@click.option("--threshold", default=1, show_default=True, type=int,
              help="Distinct release keys that must have signed.")
@policy_options
@click.option("--artifact", "artifacts", multiple=True, type=click.Path(path_type=Path),
              help="A deployed file or folder (an MLflow model) that must be a released "
                   "artifact.")
@plain_http_option
@tracking_uri_option
@json_option
def verify_cmd(bundle: str, keys: tuple[Path, ...], approver_keys: tuple[Path, ...],
               threshold: int, policy: PolicyChoice, artifacts: tuple[Path, ...],
               plain_http: bool, tracking_uri: str | None, as_json: bool) -> int:
    """Verify a .aitrace archive: safety, digests, signatures, chain, custody, evidence, policy.

    BUNDLE may also be oci://HOST/REPO:TAG (the bundle, or a model artifact it refers to) or
    models:/NAME/VERSION: it is pulled, its digest checked, and verified the same way (a model
    version's files are also checked against the released artifacts).

    Exit 0 when every check passed (or was skipped), 1 when any failed, 2 on bad input.
    """
    from aitrace.errors import InputError
    from aitrace.publish.refs import parse_remote
    from aitrace.signing.keys import load_public_key
    from aitrace.verify.bundle import verify_bundle

    if not keys:
        raise InputError("no trusted release key given",
                         hint="pass --key RELEASE.pub (the release signer's public key from "
                              "`aitrace keygen`); reviewers' keys go with --approver-key")
    trusted = [load_public_key(k) for k in keys]
    approvers = [load_public_key(k) for k in approver_keys]
    remote = parse_remote(bundle)
    if remote is not None:
        from aitrace.publish.remote import VerifyOptions, verify_remote

        report = verify_remote(remote, VerifyOptions(trusted, threshold, policy.load(),
                                                     list(artifacts), approver_keys=approvers),
                               plain_http=plain_http, tracking_uri=tracking_uri)
    else:
        report = verify_bundle(Path(bundle), trusted, threshold=threshold,
                               policy=policy.load(), artifacts=list(artifacts),
                               approver_keys=approvers)
    if as_json:
        emit_json(report.to_dict())
        return 0 if report.ok else 1
    t = terminal_safe
    width = max((len(c.id) for c in report.checks), default=10)
    for c in report.checks:
        where = f"  [{t(c.member)}]" if c.member and c.status == "failed" else ""
        click.echo(f"{_STATUS_MARK[c.status]}  {t(c.id):<{width}}  {t(c.message or c.title)}"
                   f"{where}")
    if report.answers is not None:
        click.echo("")
        for line in report.answers.lines():
            click.echo(t(line))
        click.echo(t(f"{report.answers.headline} ({report.answers.counts})"))
    else:  # pragma: no cover - verify_bundle always answers
        click.echo(t(report.verdict))
    return 0 if report.ok else 1


@click.command("unpack", short_help="Safely extract a .aitrace archive.")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("-d", "--directory", required=True, type=click.Path(path_type=Path),
              help="Where to extract (created; nothing is written outside it).")
@click.option("--force", is_flag=True, help="Overwrite files that already exist there.")
@json_option
def unpack_cmd(bundle: Path, directory: Path, force: bool, as_json: bool) -> None:
    """Safely extract a .aitrace archive (it is validated completely first)."""
    from aitrace.bundle._zip.extract import safe_extract

    written = safe_extract(bundle, directory, overwrite=force)
    if as_json:
        emit_json({"directory": str(directory), "files": [str(p) for p in written]})
        return
    click.echo(f"extracted {len(written)} files into {terminal_safe(directory)}")
    click.echo("note: extraction does not verify signatures; run `aitrace verify` first")
