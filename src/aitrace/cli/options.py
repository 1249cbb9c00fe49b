"""The options several commands share, each defined once so it behaves the same everywhere.

* ``--stage/-s STAGE`` is checked against the ten stage ids while the command line is parsed:
  an unknown id stops the command with ``unknown stage '…'`` and exit 2 before anything runs.
* ``--key/-k FILE`` names a key file; the library opens it and names the file when it cannot.
  For verification keys have roles: ``--key`` is a release key (it may sign the attestation),
  ``--approver-key`` an approver key (it may sign approvals); neither acts in the other role.
* ``--passphrase-env VAR`` unlocks encrypted private keys; without it the passphrase is asked on
  a terminal, and elsewhere the command stops with a hint. A passphrase is never an argument.
* ``--policy/-p FILE|NAME`` / ``--no-policy``: a policy file (or ``partial``, a policy shipped
  with aitrace), or none; with neither, aitrace's default "complete record" policy. Giving
  both is an error.
* ``--json`` prints the command's documented JSON document instead of text.
* ``--plain-http`` (OCI registries without TLS) and ``--tracking-uri URI`` (the MLflow server of
  ``models:/`` references) for the commands that talk to registries.

This module is imported by the sub-command modules only, never by ``aitrace --help``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from aitrace.errors import InputError
from aitrace.record.stages import STAGE_IDS, is_stage

if TYPE_CHECKING:
    from aitrace.verify.policy import Policy

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print machine-readable JSON (documented, stable).")


# ---------------------------------------------------------------------------- --stage


def _check_stage(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not is_stage(value):
        raise InputError(f"unknown stage '{value}'", hint="use one of: " + ", ".join(STAGE_IDS))
    return value


def stage_option(help_text: str, *, required: bool = False,
                 default: str | None = None) -> Callable[[F], F]:
    """``--stage/-s STAGE``, refused at parse time (exit 2) unless it is one of the ten ids."""
    return click.option("--stage", "-s", "stage", metavar="STAGE", required=required,
                        default=default, show_default=default is not None,
                        callback=_check_stage, help=help_text)


# ---------------------------------------------------------------------------- --key

_KEY_FILE = click.Path(dir_okay=False, path_type=Path)


def trusted_keys_option(help_text: str) -> Callable[[F], F]:
    """``--key/-k FILE`` (repeatable): trusted public keys, as the parameter ``keys``."""
    return click.option("--key", "-k", "keys", multiple=True, type=_KEY_FILE, help=help_text)


def approver_keys_option(f: F) -> F:
    """``--approver-key FILE`` (repeatable): keys trusted to sign approvals only."""
    option = click.option(
        "--approver-key", "approver_keys", multiple=True, type=_KEY_FILE,
        help="A reviewer's public key, trusted to sign approvals (never the release); "
             "repeatable.")
    return option(f)


def signing_keys_option(help_text: str) -> Callable[[F], F]:
    """``--key/-k FILE`` (repeatable, required): private keys to sign with, as ``keys``."""
    return click.option("--key", "-k", "keys", multiple=True, required=True, type=_KEY_FILE,
                        help=help_text)


def signing_key_option(help_text: str) -> Callable[[F], F]:
    """``--key/-k FILE`` (once, required): the one private key to sign with, as ``key``."""
    return click.option("--key", "-k", "key", required=True, type=_KEY_FILE, help=help_text)


# ---------------------------------------------------------------------------- passphrases


def stdin_is_terminal() -> bool:
    """Whether a passphrase can be asked (tests replace this to simulate a terminal)."""
    return sys.stdin.isatty()


class Passphrases:
    """Where the passphrase of an encrypted private key comes from.

    The environment variable named by ``--passphrase-env`` if given (read once, so an unset
    variable is reported even when no key needs it), else a prompt when stdin is a terminal;
    otherwise an encrypted key is refused with a hint. Unencrypted keys get ``None``.
    """

    __slots__ = ("_asked", "_env_value")

    def __init__(self, env: str | None) -> None:
        from aitrace.signing.keys import passphrase_from_env

        self._env_value = passphrase_from_env(env) if env else None
        self._asked: dict[Path, bytes] = {}

    def for_key(self, path: Path) -> bytes | None:
        """The passphrase for the private key at ``path`` (``None``: it is not encrypted)."""
        from aitrace.signing.keys import is_encrypted_key

        if not is_encrypted_key(path):
            return None
        if self._env_value is not None:
            return self._env_value
        if path not in self._asked:
            if not stdin_is_terminal():
                raise InputError(f"{path} is encrypted and no passphrase is available",
                                 hint="name an environment variable holding it with "
                                      "--passphrase-env VAR")
            value: str = click.prompt(f"Passphrase for {path}", hide_input=True)
            self._asked[path] = value.encode("utf-8")
        return self._asked[path]


def _to_passphrases(_ctx: click.Context, _param: click.Parameter,
                    value: str | None) -> Passphrases:
    return Passphrases(value)


def passphrase_option(f: F) -> F:
    """``--passphrase-env VAR`` for unlocking keys, as the parameter ``passphrases``."""
    option = click.option(
        "--passphrase-env", "passphrases", metavar="VAR", callback=_to_passphrases,
        help="Environment variable holding the passphrase of encrypted keys (on a terminal "
             "you are asked instead).")
    return option(f)


class NewPassphrase:
    """The passphrase to encrypt a key being created: from ``--passphrase-env`` or a prompt.

    Both at once is an error; neither leaves the key unencrypted.
    """

    __slots__ = ("_env", "_prompt")

    def __init__(self, env: str | None, prompt: bool) -> None:
        if env and prompt:
            raise InputError("--passphrase-env and --passphrase-prompt exclude each other",
                             hint="choose one source for the passphrase")
        self._env = env
        self._prompt = prompt

    def value(self, what: str) -> bytes | None:
        """The passphrase (asked twice when prompting) for the key file ``what``."""
        from aitrace.signing.keys import passphrase_from_env

        if self._env:
            try:
                return passphrase_from_env(self._env)
            except InputError as exc:  # keygen never prompts unless asked to
                raise InputError(exc.message, hint=f"export {self._env}=... with the new key's "
                                 "passphrase, or use --passphrase-prompt to type it, or leave "
                                 "both out for an unencrypted key") from None
        if self._prompt:
            value: str = click.prompt(f"Passphrase for {what}", hide_input=True,
                                      confirmation_prompt=True)
            return value.encode("utf-8")
        return None


def _new_passphrase(f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)
    def wrapper(*args: Any, passphrase_env: str | None, passphrase_prompt: bool,
                **kwargs: Any) -> Any:
        return f(*args, passphrase=NewPassphrase(passphrase_env, passphrase_prompt), **kwargs)

    return wrapper


def new_passphrase_options(f: F) -> F:
    """``--passphrase-env VAR`` / ``--passphrase-prompt``, as ``passphrase: NewPassphrase``."""
    wrapped = _new_passphrase(f)
    wrapped = click.option("--passphrase-prompt", is_flag=True,
                           help="Encrypt with a passphrase asked now.")(wrapped)
    wrapped = click.option(
        "--passphrase-env", metavar="VAR",
        help="Encrypt the private key with the passphrase in environment variable VAR.")(wrapped)
    return wrapped  # type: ignore[return-value]


# ---------------------------------------------------------------------------- --policy


@dataclass(frozen=True)
class PolicyChoice:
    """What ``--policy FILE`` / ``--no-policy`` asked for.

    Attributes:
        path: the policy file given, if any.
        default: apply aitrace's default policy (neither option was given).
    """

    path: Path | None
    default: bool

    def load(self) -> Policy | None:
        """The policy to check against (``None``: ``--no-policy``)."""
        from aitrace.verify.policy import default_policy, load_policy

        if self.path is not None:
            return load_policy(self.path)
        return default_policy() if self.default else None


def _policy_choice(f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)
    def wrapper(*args: Any, policy_path: Path | None, no_policy: bool, **kwargs: Any) -> Any:
        if policy_path is not None and no_policy:
            raise InputError("--policy and --no-policy exclude each other", hint="choose one")
        choice = PolicyChoice(path=policy_path, default=policy_path is None and not no_policy)
        return f(*args, policy=choice, **kwargs)

    return wrapper


def policy_options(f: F) -> F:
    """``--policy/-p FILE`` and ``--no-policy``, as the parameter ``policy: PolicyChoice``."""
    wrapped = _policy_choice(f)
    wrapped = click.option("--no-policy", is_flag=True,
                           help="Check integrity and signatures only, no policy.")(wrapped)
    wrapped = click.option(
        "--policy", "-p", "policy_path", type=click.Path(dir_okay=False, path_type=Path),
        help="A policy file the record must satisfy, or a shipped policy by name: 'partial' "
             "(no stage required) (default: aitrace's 'complete record' policy).")(wrapped)
    return wrapped  # type: ignore[return-value]


# ---------------------------------------------------------------------------- registries

plain_http_option = click.option(
    "--plain-http", is_flag=True,
    help="Talk to the OCI registry over plain HTTP (a local registry without TLS).")

tracking_uri_option = click.option(
    "--tracking-uri", metavar="URI",
    help="MLflow tracking server of models:/ references (default: MLFLOW_TRACKING_URI, else "
         "the current workspace's store).")
