"""Signing commands: ``keygen``, ``bundle``, ``verify`` and ``unpack``.

Exit codes: 0 ok (verified), 1 verification failed (every failed check listed), 2 usage or
unreadable input. Passphrases come from a prompt or an environment variable named by
``--passphrase-env`` — never from a command-line value.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from aitrace.cli._common import emit_json, json_option, short

_STATUS_MARK = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}


def _passphrase(env: str | None, prompt: bool, *, confirm: bool, what: str) -> bytes | None:
    from aitrace.errors import InputError
    from aitrace.signing.keys import passphrase_from_env

    if env and prompt:
        raise InputError("--passphrase-env and --passphrase-prompt exclude each other",
                         hint="choose one source for the passphrase")
    if env:
        return passphrase_from_env(env)
    if prompt:
        value: str = click.prompt(f"Passphrase for {what}", hide_input=True,
                                  confirmation_prompt=confirm)
        return value.encode("utf-8")
    return None


@click.command("keygen")
@click.option("-o", "--output", "prefix", required=True, type=click.Path(path_type=Path),
              help="Path prefix: writes PREFIX.key (0600) and PREFIX.pub.")
@click.option("--type", "key_type", type=click.Choice(["ecdsa-p256", "ed25519"]),
              default="ecdsa-p256", show_default=True, help="Key algorithm.")
@click.option("--passphrase-env", metavar="VAR",
              help="Encrypt the private key with the passphrase in environment variable VAR.")
@click.option("--passphrase-prompt", is_flag=True, help="Encrypt with a passphrase asked now.")
@click.option("--force", is_flag=True, help="Overwrite existing key files.")
@json_option
def keygen_cmd(prefix: Path, key_type: str, passphrase_env: str | None, passphrase_prompt: bool,
               force: bool, as_json: bool) -> None:
    """Create a signing key pair (ECDSA P-256 by default; Ed25519 with --type)."""
    from aitrace.signing.keys import generate_keypair, load_public_key

    pw = _passphrase(passphrase_env, passphrase_prompt, confirm=True, what=f"{prefix}.key")
    priv, pub = generate_keypair(prefix, key_type=key_type,  # type: ignore[arg-type]
                                 passphrase=pw, force=force)
    kid = load_public_key(pub).keyid
    if as_json:
        emit_json({"private_key": str(priv), "public_key": str(pub), "keyid": kid,
                   "type": key_type, "encrypted": pw is not None})
        return
    click.echo(f"wrote {priv} (private, keep it secret) and {pub} (public)")
    click.echo(f"key id {kid}")


def _load_signers(keys: tuple[Path, ...], passphrase_env: str | None) -> tuple[list[Any],
                                                                                bytes | None]:
    from aitrace.errors import InputError
    from aitrace.signing.keys import is_encrypted_key, load_signer, passphrase_from_env

    signers = []
    first_pw: bytes | None = None
    env_pw = passphrase_from_env(passphrase_env) if passphrase_env else None
    for i, k in enumerate(keys):
        pw = None
        if is_encrypted_key(k):
            if env_pw is not None:
                pw = env_pw
            elif sys.stdin.isatty():
                pw = click.prompt(f"Passphrase for {k}", hide_input=True).encode("utf-8")
            else:
                raise InputError(f"{k} is encrypted and no passphrase is available",
                                 hint="name an environment variable holding it with "
                                      "--passphrase-env VAR")
        signers.append(load_signer(k, pw))
        if i == 0:
            first_pw = pw
    return signers, first_pw


@click.command("bundle")
@click.option("--key", "keys", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Private key to sign with (repeat for several signers).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The archive to write (conventionally NAME.aitrace).")
@click.option("--include", multiple=True, type=click.Path(path_type=Path),
              help="Embed this file or directory under artifacts/ (repeatable).")
@click.option("--no-model-signing", is_flag=True,
              help="Do not write OpenSSF model-signing .sig files for released models.")
@click.option("--passphrase-env", metavar="VAR",
              help="Environment variable holding the passphrase of encrypted keys.")
@json_option
def bundle_cmd(keys: tuple[Path, ...], output: Path, include: tuple[Path, ...],
               no_model_signing: bool, passphrase_env: str | None, as_json: bool) -> None:
    """Assemble the current record into a signed, deterministic .aitrace archive."""
    from aitrace.bundle.write import build_bundle
    from aitrace.store.workspace import Workspace

    ws = Workspace.find()
    signers, first_pw = _load_signers(keys, passphrase_env)
    info = build_bundle(ws, signers, output, include=list(include),
                        model_signing_key=None if no_model_signing else keys[0],
                        passphrase=first_pw)
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


@click.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--key", "keys", multiple=True, type=click.Path(path_type=Path),
              help="Trusted public key (.pub); repeat for several signers or reviewers.")
@click.option("--threshold", default=1, show_default=True, type=int,
              help="Distinct trusted keys that must have signed.")
@click.option("--policy", "policy_path", type=click.Path(path_type=Path),
              help="Policy YAML (default: aitrace's 'complete record' policy).")
@click.option("--no-policy", is_flag=True, help="Skip policy checks.")
@click.option("--artifact", "artifacts", multiple=True, type=click.Path(path_type=Path),
              help="A deployed file that must be a released artifact of the record.")
@json_option
def verify_cmd(bundle: Path, keys: tuple[Path, ...], threshold: int, policy_path: Path | None,
               no_policy: bool, artifacts: tuple[Path, ...], as_json: bool) -> int:
    """Verify a .aitrace archive: safety, digests, signatures, chain, custody, evidence, policy.

    Exit 0 when every check passed (or was skipped), 1 when any failed, 2 on bad input.
    """
    from aitrace.errors import InputError
    from aitrace.signing.keys import load_public_key
    from aitrace.verify.bundle import verify_bundle
    from aitrace.verify.policy import default_policy, load_policy

    if not keys:
        raise InputError("no trusted public key given",
                         hint="pass --key KEY.pub (the signer's public key from `aitrace keygen`)")
    if no_policy and policy_path:
        raise InputError("--policy and --no-policy exclude each other", hint="choose one")
    trusted = [load_public_key(k) for k in keys]
    policy = None if no_policy else (load_policy(policy_path) if policy_path
                                     else default_policy())
    report = verify_bundle(bundle, trusted, threshold=threshold, policy=policy,
                           artifacts=list(artifacts))
    if as_json:
        emit_json(report.to_dict())
        return 0 if report.ok else 1
    width = max((len(c.id) for c in report.checks), default=10)
    for c in report.checks:
        where = f"  [{c.member}]" if c.member and c.status == "failed" else ""
        click.echo(f"{_STATUS_MARK[c.status]}  {c.id:<{width}}  {c.message or c.title}{where}")
    click.echo(report.verdict)
    return 0 if report.ok else 1


@click.command("unpack")
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
