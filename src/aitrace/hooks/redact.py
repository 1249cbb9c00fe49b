"""Secret redaction: what must never reach ``.aitrace/``, MLflow or any output.

Three leaks are closed here, and every capture path goes through them:

* environment variables whose *names* look secret (TOKEN, SECRET, PASSWORD, KEY, …) — their
  values are replaced, and any occurrence of those values elsewhere is scrubbed too;
* credentials inside URLs (``https://user:pass@host``) — the userinfo is removed;
* command arguments after a secret-looking flag (``--password x``, ``--api-key=x``,
  ``TOKEN=x``, ``"Authorization: Bearer x"``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

REDACTED = "[REDACTED]"

_SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|PWD|KEY|CREDENTIAL|AUTH|COOKIE|SESSION|"
    r"SIGNATURE|PRIVATE|CERT)", re.IGNORECASE)
# Names that contain a secret-looking word but are well known not to hold one.
_NOT_SECRET = {"PWD", "OLDPWD", "KEYTIMEOUT", "MLFLOW_TRACKING_URI", "GPG_TTY",
               "SSH_AUTH_SOCK"}
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
_FLAG = re.compile(r"^(--?[A-Za-z0-9][\w.-]*)(=(.*))?$", re.DOTALL)
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
# An HTTP-style header given as one argument (``curl -H "Authorization: Bearer x"``).
_HEADER = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):\s*(.*)$", re.DOTALL)
_MIN_SECRET_LEN = 4


def is_secret_name(name: str) -> bool:
    """Whether an environment variable or option name looks like it holds a secret."""
    upper = name.upper().lstrip("-")
    if upper in _NOT_SECRET:
        return False
    return bool(_SECRET_NAME.search(upper.replace("-", "_")))


def strip_url_credentials(text: str) -> str:
    """Remove ``user:password@`` from every URL in ``text``."""
    return _URL_USERINFO.sub(lambda m: m.group("scheme"), text)


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of secret-named environment variables, longest first (for scrubbing)."""
    env = os.environ if environ is None else environ
    vals = {v for k, v in env.items() if is_secret_name(k) and len(v) >= _MIN_SECRET_LEN}
    return sorted(vals, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str] | None = None) -> str:
    """Remove URL credentials and known secret values from free text."""
    out = strip_url_credentials(text)
    for value in secrets if secrets is not None else secret_values():
        if value in out:
            out = out.replace(value, REDACTED)
    return out


def redact_argv(argv: Iterable[str], secrets: Iterable[str] | None = None) -> tuple[str, ...]:
    """A command line with secret option values, assignments and URL credentials removed."""
    known = list(secrets) if secrets is not None else secret_values()
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        flag = _FLAG.match(arg)
        if flag and is_secret_name(flag.group(1)):
            if flag.group(2) is not None:
                out.append(f"{flag.group(1)}={REDACTED}")
            else:
                out.append(arg)
                hide_next = True
            continue
        assign = _ASSIGN.match(arg)
        if assign and is_secret_name(assign.group(1)):
            out.append(f"{assign.group(1)}={REDACTED}")
            continue
        header = _HEADER.match(arg)
        if header and is_secret_name(header.group(1)):
            out.append(f"{header.group(1)}: {REDACTED}")
            continue
        out.append(scrub(arg, known))
    return tuple(out)


def redact_env(names: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed variables that are set, with secrets and URL credentials removed."""
    env = os.environ if environ is None else environ
    known = secret_values(env)
    out: dict[str, str] = {}
    for name in names:
        if name not in env:
            continue
        out[name] = REDACTED if is_secret_name(name) else scrub(env[name], known)
    return out
