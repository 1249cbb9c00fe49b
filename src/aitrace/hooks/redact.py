"""Secret redaction: what must never reach ``.aitrace/``, MLflow or any output.

Every capture path goes through here (command lines, environment variables, parameters, paths,
error texts, git remotes). What is removed:

* environment variables whose *names* look secret (TOKEN, SECRET, PASSWORD, KEY, PASS, PW, …)
  — their values are replaced, and any occurrence of those values elsewhere is scrubbed too;
* credentials in URLs, whatever their shape: ``https://user:pass@host``, passwords holding
  ``@`` or ``/``, scheme-relative ``//user:pw@host``, schemeless ``user:pw@host``, secret query
  or ``;``-parameters (``?access_token=``, ``&sig=``, ``jdbc:…;password=``), line breaks inside;
* tokens of well-known formats wherever they appear — GitHub, GitLab, AWS, Slack, Stripe,
  OpenAI/Anthropic, Hugging Face, Google, npm, PyPI, SendGrid, Databricks, JWTs, PEM private
  keys — so a token in an innocently named variable or in a file path is caught too;
* command arguments that carry secrets: after a secret-looking flag (``--password x``,
  ``--pass x``, ``--pw=x``, ``--bearer x``), ``-p x``/``-px``, ``-u user:pw``, assignments
  with dotted keys (``TOKEN=x``, ``--set db.password=x``, ``--conf …secret.key=x``,
  ``-Dtrust.password=x``), headers (``Authorization: Bearer x``, also as ``--header=…``) and a
  bare ``Bearer x``;
* parameter values whose *keys* hold a secret word (``api_key``, ``password``,
  ``auth_token``), matched by word so that ``max_tokens`` or ``tokenizer`` stay.

Why hand-written patterns and not ``detect-secrets``: that tool is built to scan repositories
against a baseline — process-global settings, findings that are fragments of a token (``ghp``
for a GitHub token), entropy plugins that flag every SHA-256 digest a record is full of, and
``requests`` pulled into ``aitrace run``. What it knows that we need is its list of provider
token formats, small and stable; the tests check that after ``scrub`` its provider plugins find
nothing left in every form above.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

REDACTED = "[REDACTED]"

_SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|PWD|KEY|CREDENTIAL|AUTH|COOKIE|SESSION|"
    r"SIGNATURE|PRIVATE|CERT|BEARER)", re.IGNORECASE)
# Short secret words that only count as a whole word of a name (``--pass``, ``DB_PW``).
_SECRET_WORDS = frozenset({"PASS", "PW", "SIG", "APIKEY"})
# Option names and lower-case keys are matched by word (``--token`` but not ``--tokenizer``,
# ``--api-key`` but not ``--monkey``), except for words no option name holds innocently.
_FLAG_SUBSTRINGS = re.compile(r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|CREDENTIAL|APIKEY|"
                              r"ACCESSKEY|PRIVATEKEY)", re.IGNORECASE)
_FLAG_WORDS = frozenset({"TOKEN", "KEY", "PASS", "PW", "PWD", "AUTH", "AUTHORIZATION",
                         "COOKIE", "SESSION", "BEARER", "SIG", "SIGNATURE", "PRIVATE",
                         "CREDENTIALS"})
# Names that contain a secret-looking word but are well known not to hold one.
_NOT_SECRET = {"PWD", "OLDPWD", "KEYTIMEOUT", "MLFLOW_TRACKING_URI", "GPG_TTY",
               "SSH_AUTH_SOCK"}
# Parameter keys: secret only by whole words, so that ML vocabulary (tokens, keys) stays.
_KEY_WORDS = frozenset({"password", "passwd", "pwd", "passphrase", "secret", "secrets",
                        "token", "apikey", "credential", "credentials", "cookie", "bearer"})
_KEY_PAIRS = frozenset({"api", "access", "secret", "private", "signing", "encryption",
                        "client", "auth", "session"})
_MIN_SECRET_LEN = 4

# Tokens by provider format (from the providers' documentation).
_TOKENS = re.compile("|".join([
    r"\bgh[pousr]_[A-Za-z0-9_]{30,255}\b", r"\bgithub_pat_[A-Za-z0-9_]{20,255}",
    r"\bglpat-[A-Za-z0-9_-]{20,}", r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}", r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",
    r"\bsk-(?:proj-|svcacct-|ant-)?[A-Za-z0-9_-]{20,}", r"\bhf_[A-Za-z0-9]{30,}",
    r"\bAIza[0-9A-Za-z_-]{35}", r"\bnpm_[A-Za-z0-9]{36}", r"\bpypi-AgE[A-Za-z0-9_-]{50,}",
    r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}", r"\bdapi[0-9a-f]{32}\b",
    r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
    r"(?i:AccountKey=)[A-Za-z0-9+/=]{40,}",
]))
# scheme://, or a scheme-relative // not inside a word or a path
_AUTHORITY = re.compile(r"(?<![\w/:.])//|\b[A-Za-z][A-Za-z0-9+.-]*://")
# Schemeless user:password@host (not scp's user@host:path, not an image's name:tag@sha256:…);
# greedy up to the last '@' of the word, so a password holding '@' goes too.
_USER_PASS = re.compile(r"(?<![\w.%+:/@-])[A-Za-z0-9._%+-]+:(?!//)\S*@(?!sha\d+:)(?=[A-Za-z0-9-])")
_HOSTISH = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d+)?(?:[/?#]|$)")
_QUERY = re.compile(r"([?&;#])([A-Za-z0-9_.\-]+)=([^&;#\s'\"]*)")
_QUERY_SECRETS = frozenset({"sig", "signature", "code", "x-amz-signature", "x-amz-credential",
                            "x-amz-security-token", "x-goog-signature", "x-goog-credential"})

_FLAG = re.compile(r"^(--?[A-Za-z0-9][\w.-]*)(=(.*))?$", re.DOTALL)
_ASSIGN = re.compile(r"^([A-Za-z_][\w.-]*)=(.*)$", re.DOTALL)
# An HTTP-style header given as one argument (``curl -H "Authorization: Bearer x"``).
_HEADER = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):\s*(.*)$", re.DOTALL)
_AUTH_SCHEME = re.compile(r"^(Bearer|Basic|Token|Digest)\s+\S", re.IGNORECASE)
_PORTISH = re.compile(r"^\d[\d:.,/a-z-]*$")
_USER_FLAGS = frozenset({"-u", "--user", "-U", "--proxy-user"})
# Programs whose -p takes no value (``mkdir -p dir``) or a plain one (``pytest -p plugin``,
# ``ssh -p 22``, ``find -path``); anywhere else ``-p x`` and ``-px`` may be a password (mysql).
_P_IS_NOT_A_PASSWORD = frozenset({
    "mkdir", "cp", "mv", "install", "rsync", "tar", "ls", "ln", "pytest", "py.test", "patch",
    "git", "diff", "cat", "xargs", "ssh", "scp", "sftp", "psql", "pg_dump", "pg_restore", "nc",
    "docker", "podman", "kubectl", "uvicorn", "find", "grep", "sed", "perl", "ps", "sort",
    "ping", "chmod", "chown", "date", "java", "make", "head", "tail"})


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def is_secret_name(name: str) -> bool:
    """Whether an environment variable or option name looks like it holds a secret."""
    upper = name.upper().lstrip("-")
    if upper in _NOT_SECRET:
        return False
    if _SECRET_NAME.search(upper.replace("-", "_")):
        return True
    return any(w.upper() in _SECRET_WORDS for w in _words(name))


def _is_secret_option(name: str) -> bool:
    """An option name or assignment key that holds a secret: by word, or env-style by name."""
    bare = name.lstrip("-")
    if bare.isupper() or (bare.upper() == bare and "_" in bare):  # TOKEN=…, MY_TOKEN=…
        return is_secret_name(bare)
    if _FLAG_SUBSTRINGS.search(bare.replace("-", "").replace("_", "")):
        return True
    return any(w.upper() in _FLAG_WORDS for w in _words(bare)) or is_secret_key(bare)


def is_secret_key(name: str) -> bool:
    """Whether a parameter key names a secret, by whole words (``api_key``, not ``key_dim``)."""
    words = [w.lower() for w in _words(name)]
    if any(w in _KEY_WORDS for w in words):
        return True
    return any(a in _KEY_PAIRS and b in ("key", "keys") for a, b in zip(words, words[1:],
                                                                        strict=False))


def _strip_authorities(text: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _AUTHORITY.finditer(text):
        if m.start() < pos:
            continue
        start = m.end()
        end = start
        while end < len(text) and text[end] not in " \t\"'<>":
            end += 1
        token = text[start:end]
        authority = re.split(r"[/?#\r\n]", token, maxsplit=1)[0]
        cut = -1
        if "@" in authority:
            cut = authority.rindex("@")
            last = token.rindex("@")
            if last > cut and _HOSTISH.match(token[last + 1:]):
                cut = last  # the password went on past a '/' (``bob:p@ss/x@host``)
        elif ":" in authority and not authority.startswith("["):
            after = authority.split(":", 1)[1]
            if after and not after.isdigit() and "@" in token:
                cut = token.rindex("@")  # a password holding '/' or a line break
        out.append(text[pos:start])
        pos = start + cut + 1 if cut >= 0 else start
    out.append(text[pos:])
    return "".join(out)


def strip_url_credentials(text: str) -> str:
    """Remove credentials from every URL in ``text`` (userinfo and secret query parameters)."""
    out = _strip_authorities(text)
    out = _USER_PASS.sub("", out)

    def query(m: re.Match[str]) -> str:
        name = m.group(2)
        if is_secret_key(name) or is_secret_name(name) or name.lower() in _QUERY_SECRETS:
            return f"{m.group(1)}{name}={REDACTED}"
        return m.group(0)

    return _QUERY.sub(query, out)


def scrub_tokens(text: str, secrets: Iterable[str] | None = None) -> str:
    """Remove provider-format tokens and known secret values (not URL parts: for paths)."""
    out = _TOKENS.sub(REDACTED, text)
    for value in secrets if secrets is not None else secret_values():
        if value in out:
            out = out.replace(value, REDACTED)
    return out


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of secret-named environment variables, longest first (for scrubbing)."""
    env = os.environ if environ is None else environ
    vals = {v for k, v in env.items() if is_secret_name(k) and len(v) >= _MIN_SECRET_LEN}
    return sorted(vals, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str] | None = None) -> str:
    """Remove URL credentials, provider tokens and known secret values from free text."""
    return scrub_tokens(strip_url_credentials(text), secrets)


def _redact_value(value: str, known: list[str]) -> str:
    """One argument's value: a header, an auth scheme, a secret assignment, or free text."""
    header = _HEADER.match(value)
    if header and (is_secret_name(header.group(1)) or _AUTH_SCHEME.match(header.group(2))):
        return f"{header.group(1)}: {REDACTED}"
    scheme = _AUTH_SCHEME.match(value)
    if scheme:
        return f"{scheme.group(1)} {REDACTED}"
    assign = _ASSIGN.match(value)
    if assign and _is_secret_option(assign.group(1)):
        prefix = value[: value.index("=")]
        return f"{prefix}={REDACTED}"
    return scrub(value, known)


def _user_pass(value: str, known: list[str]) -> str:
    for sep in (":", "%"):
        if sep in value:
            return value.split(sep, 1)[0] + sep + REDACTED
    return scrub(value, known)


def redact_argv(argv: Iterable[str], secrets: Iterable[str] | None = None) -> tuple[str, ...]:
    """A command line with secret values removed: option values, assignments, headers, URLs."""
    known = list(secrets) if secrets is not None else secret_values()
    args = list(argv)
    program = os.path.basename(args[0]) if args else ""
    p_is_password = program not in _P_IS_NOT_A_PASSWORD
    out: list[str] = []
    hide_next = user_next = p_next = False
    for arg in args:
        if hide_next or user_next or p_next:
            out.append(arg if p_next and _PORTISH.match(arg) else
                       _user_pass(arg, known) if user_next else REDACTED)
            hide_next = user_next = p_next = False
            continue
        if arg.lower() == "bearer":
            out.append(arg)
            hide_next = True
            continue
        if p_is_password and arg.startswith("-p") and len(arg) > 2 and arg[2] != "-" and \
                not _PORTISH.match(arg[2:]):
            out.append(f"-p{REDACTED}")
            continue
        if p_is_password and arg == "-p":
            out.append(arg)
            p_next = True
            continue
        flag = _FLAG.match(arg)
        if flag:
            name, value = flag.group(1), flag.group(3)
            if name in _USER_FLAGS:
                if value is None:
                    out.append(arg)
                    user_next = True
                else:
                    out.append(f"{name}={_user_pass(value, known)}")
                continue
            if _is_secret_option(name):
                if value is not None:
                    out.append(f"{name}={REDACTED}")
                else:
                    out.append(arg)
                    hide_next = True
                continue
            if value is not None:
                out.append(f"{name}={_redact_value(value, known)}")
                continue
            out.append(arg)
            continue
        out.append(_redact_value(arg, known))
    return tuple(out)


def redact_env(names: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed variables that are set, with secrets, tokens and URL credentials gone."""
    env = os.environ if environ is None else environ
    known = secret_values(env)
    out: dict[str, str] = {}
    for name in names:
        if name not in env:
            continue
        out[name] = REDACTED if is_secret_name(name) else scrub(env[name], known)
    return out


def redact_params(params: Mapping[str, str], secrets: Iterable[str] | None = None
                  ) -> dict[str, str]:
    """Parameters with the values of secret-named keys replaced and the rest scrubbed."""
    known = list(secrets) if secrets is not None else secret_values()
    return {k: REDACTED if is_secret_key(k) else scrub(v, known) for k, v in params.items()}
