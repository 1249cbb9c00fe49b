"""Signing commands: ``keygen``, ``bundle``, ``verify`` and ``unpack``.

Exit codes: 0 ok (verified), 1 verification failed (every failed check listed), 2 usage or
unreadable input. Passphrases come from a prompt or an environment variable named by
``--passphrase-env`` — never from a command-line value (see :mod:`aitrace.cli.options`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from aitrace.cli._common import emit_json, short
from aitrace.cli.options import (
    NewPassphrase,
    Passphrases,
    PolicyChoice,
    at_option,
    json_option,
    new_passphrase_options,
    passphrase_option,
    policy_options,
    signing_keys_option,
    trusted_keys_option,
)

_STATUS_MARK = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}


@click.command("keygen", short_help="Create a signing key pair.")
@click.option("-o", "--output", "prefix", required=True, type=click.Path(path_type=Path),
              help="Path prefix: writes PREFIX.key (0600) and PREFIX.pub.")
@click.option("--type", "key_type", type=click.Choice(["ecdsa-p256", "ed25519"]),
              default="ecdsa-p256", show_default=True, help="Key algorithm.")
@new_passphrase_options
@click.option("--force", is_flag=True, help="Overwrite existing key files.")
@json_option
def keygen_cmd(prefix: Path, key_type: str, passphrase: NewPassphrase, force: bool,
               as_json: bool) -> None:
    """Create a signing key pair (ECDSA P-256 by default; Ed25519 with --type)."""
    from aitrace.signing.keys import generate_keypair, load_public_key

    pw = passphrase.value(f"{prefix}.key")
    priv, pub = generate_keypair(prefix, key_type=key_type,  # type: ignore[arg-type]
                                 passphrase=pw, force=force)
    kid = load_public_key(pub).keyid
    if as_json:
        emit_json({"private_key": str(priv), "public_key": str(pub), "keyid": kid,
                   "type": key_type, "encrypted": pw is not None})
        return
    click.echo(f"wrote {priv} (private, keep it secret) and {pub} (public)")
    click.echo(f"key id {kid}")


@click.command("bundle", short_help="Assemble and sign the record as a .aitrace archive.")
@signing_keys_option("Private key to sign with (repeat for several signers).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
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
    from aitrace.signing.keys import load_signer
    from aitrace.store.workspace import Workspace

    ws = Workspace.find()
    signers = [load_signer(k, passphrases.for_key(k)) for k in keys]
    info = build_bundle(ws, signers, output, include=list(include),
                        model_signing_key=None if no_model_signing else keys[0],
                        passphrase=passphrases.for_key(keys[0]))
    if as_json:
        emit_json(info.to_dict())
        return
    click.echo(f"wrote {info.path} ({info.size:,} bytes, {info.members} members, "
               f"{info.steps} steps)")
    click.echo(f"  record     {info.record_id}   created {info.created_at}")
    click.echo(f"  chain head {short(info.chain_head, 16)}   manifest "
               f"{short(info.manifest_sha256, 16)}")
    click.echo("  signed by  " + ", ".join(short(k, 16) for k in info.signers))
    for r in info.released:
        click.echo(f"  released   {r.path}  sha256:{short(r.sha256, 16)}")
    for s in info.model_signatures:
        click.echo(f"  model sig  {s}")
    for n in info.notes:
        click.echo(f"  note: {n}")


@click.command("verify", short_help="Verify a .aitrace archive: signatures, digests, policy.")
@click.argument("bundle", type=click.Path(path_type=Path))
@trusted_keys_option("Trusted public key (.pub); repeat for several signers or reviewers.")
@click.option("--threshold", default=1, show_default=True, type=int,
              help="Distinct trusted keys that must have signed.")
@policy_options
@click.option("--artifact", "artifacts", multiple=True, type=click.Path(path_type=Path),
              help="A deployed file that must be a released artifact of the record.")
@click.option("--previous", type=click.Path(dir_okay=False, path_type=Path),
              help="An earlier bundle of the same record that this one must extend.")
@at_option
@json_option
def verify_cmd(bundle: Path, keys: tuple[Path, ...], threshold: int, policy: PolicyChoice,
               artifacts: tuple[Path, ...], previous: Path | None, at: datetime | None,
               as_json: bool) -> int:
    """Verify a .aitrace archive: safety, digests, signatures, chain, custody, evidence, policy.

    With --previous OLD, also prove that this bundle's chain extends OLD's (same record, OLD's
    chain head an ancestor, nothing rewritten). Exit 0 when every check passed (or was
    skipped), 1 when any failed, 2 on bad input.
    """
    from aitrace.errors import InputError
    from aitrace.signing.keys import load_public_key
    from aitrace.verify.bundle import verify_bundle

    if not keys:
        raise InputError("no trusted public key given",
                         hint="pass --key KEY.pub (the signer's public key from `aitrace keygen`)")
    trusted = [load_public_key(k) for k in keys]
    if previous is not None:
        from aitrace.verify.extension import verify_extension

        if not previous.is_file():
            raise InputError(f"--previous {previous}: no such file",
                             hint="give the earlier .aitrace bundle of this record")
        report = verify_extension(bundle, previous, trusted, threshold=threshold,
                                  policy=policy.load(), artifacts=list(artifacts), now=at)
    else:
        report = verify_bundle(bundle, trusted, threshold=threshold, policy=policy.load(),
                               artifacts=list(artifacts), now=at)
    if as_json:
        emit_json(report.to_dict())
        return 0 if report.ok else 1
    width = max((len(c.id) for c in report.checks), default=10)
    for c in report.checks:
        where = f"  [{c.member}]" if c.member and c.status == "failed" else ""
        click.echo(f"{_STATUS_MARK[c.status]}  {c.id:<{width}}  {c.message or c.title}{where}")
    click.echo(report.verdict)
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
    click.echo(f"extracted {len(written)} files into {directory}")
    click.echo("note: extraction does not verify signatures; run `aitrace verify` first")
