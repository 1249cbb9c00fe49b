"""Registry credentials, from where CI systems and developers already keep them — never shown.

Looked up only when a registry asks for authentication, in this order:

1. ``AITRACE_REGISTRY_USERNAME`` and ``AITRACE_REGISTRY_PASSWORD`` in the environment (a CI
   secret; the password may be a token);
2. Docker's ``config.json`` (``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``):
   a ``credHelpers`` entry for the host, else the host's ``auths`` entry (``auth`` =
   base64 of ``user:password``, or ``username`` + ``password``), else the ``credsStore``. A
   helper is Docker's own protocol: ``docker-credential-<name> get`` with the host on stdin.

Identity tokens (``identitytoken``, a helper's ``<token>`` user) are not supported; such an
entry is skipped and the lookup says so. ``Credentials`` never prints its secret (``repr``
hides it) and no error message contains one.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitrace.errors import InputError
from aitrace.record.jsonio import as_map, read_json_file

ENV_USERNAME = "AITRACE_REGISTRY_USERNAME"
ENV_PASSWORD = "AITRACE_REGISTRY_PASSWORD"  # noqa: S105 - the variable's name, not a secret
_HELPER_TIMEOUT_S = 30


@dataclass(frozen=True)
class Credentials:
    """A username and secret for one registry, and where they came from (for messages)."""

    username: str
    password: str = field(repr=False)
    source: str = ""

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, source={self.source!r})"


@dataclass(frozen=True)
class Lookup:
    """The outcome of a credential search: what was found, and what was looked at."""

    credentials: Credentials | None
    searched: tuple[str, ...] = ()

    def describe(self) -> str:
        """Where credentials came from, or where none were found (safe to print)."""
        if self.credentials is not None:
            return self.credentials.source
        return "no credentials found (looked at " + ", ".join(self.searched) + ")"


def docker_config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    env = os.environ if env is None else env
    base = env.get("DOCKER_CONFIG")
    return (Path(base) if base else Path.home() / ".docker") / "config.json"


def _host_of(key: str) -> str:
    """``https://host:5000/v1/`` → ``host:5000`` (how Docker's ``auths`` keys are spelt)."""
    text = key.split("://", 1)[-1]
    return text.split("/", 1)[0].lower()


def _from_auth_entry(entry: Any, source: str) -> Credentials | None | str:
    """Credentials from one ``auths`` entry; a string says why the entry was skipped."""
    if not isinstance(entry, dict):
        return None
    if isinstance(entry.get("auth"), str) and entry["auth"]:
        try:
            user, sep, password = base64.b64decode(entry["auth"], validate=True).decode(
                "utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return f"{source} (its 'auth' value is not base64 of user:password)"
        if sep:
            return Credentials(user, password, source)
    if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
        return Credentials(entry["username"], entry["password"], source)
    if entry.get("identitytoken"):
        return f"{source} (identity tokens are not supported)"
    return None


def _from_helper(helper: str, host: str, env: Mapping[str, str]) -> Credentials | None | str:
    program = f"docker-credential-{helper}"
    source = f"Docker credential helper {program}"
    try:
        proc = subprocess.run([program, "get"], input=host.encode(), capture_output=True,
                              timeout=_HELPER_TIMEOUT_S, check=False, env=dict(env))
    except FileNotFoundError:
        return f"{source} (not installed)"
    except subprocess.TimeoutExpired:
        return f"{source} (no answer within {_HELPER_TIMEOUT_S} s)"
    if proc.returncode != 0:
        return f"{source} (no credentials for {host})"
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        return f"{source} (its answer is not JSON)"
    user, secret = doc.get("Username"), doc.get("Secret")
    if not isinstance(user, str) or not isinstance(secret, str) or not secret:
        return f"{source} (its answer holds no username and secret)"
    if user == "<token>":
        return f"{source} (identity tokens are not supported)"
    return Credentials(user, secret, source)


def find_credentials(host: str, env: Mapping[str, str] | None = None) -> Lookup:
    """Credentials for registry ``host`` (``host:port``), searched in the documented order.

    Raises:
        InputError: Docker's config.json exists but is not valid JSON (its path is named).
    """
    env = os.environ if env is None else env
    searched: list[str] = []
    user, password = env.get(ENV_USERNAME), env.get(ENV_PASSWORD)
    if user and password:
        return Lookup(Credentials(user, password, f"environment ({ENV_USERNAME}, "
                                                   f"{ENV_PASSWORD})"))
    searched.append(f"{ENV_USERNAME}/{ENV_PASSWORD}"
                    + (" (only one of them is set)" if user or password else ""))
    path = docker_config_path(env)
    if not path.is_file():
        searched.append(f"{path} (absent)")
        return Lookup(None, tuple(searched))
    doc = read_json_file(path, error=InputError,
                         hint="fix Docker's config.json, or set "
                              f"{ENV_USERNAME} and {ENV_PASSWORD} instead")
    if not isinstance(doc, dict):
        doc = {}
    wanted = host.lower()
    helpers = as_map(doc.get("credHelpers"))
    candidates: list[tuple[str, Any]] = []
    for key, helper in helpers.items():
        if _host_of(key) == wanted and isinstance(helper, str):
            candidates.append(("helper", helper))
    auths = as_map(doc.get("auths"))
    for key, entry in auths.items():
        if _host_of(key) == wanted:
            candidates.append(("auth", entry))
    if isinstance(doc.get("credsStore"), str) and doc["credsStore"]:
        candidates.append(("helper", doc["credsStore"]))
    for kind, value in candidates:
        found = (_from_helper(value, host, env) if kind == "helper"
                 else _from_auth_entry(value, f"{path} (auths)"))
        if isinstance(found, Credentials):
            return Lookup(found, tuple(searched))
        if isinstance(found, str):
            searched.append(found)
    if not candidates:
        searched.append(f"{path} (no entry for {host})")
    return Lookup(None, tuple(searched))
