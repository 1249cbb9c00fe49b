"""Secret redaction of argv, free text and environment variables."""

from __future__ import annotations

import pytest

from aitrace.hooks.redact import (
    REDACTED,
    is_secret_name,
    redact_argv,
    redact_env,
    scrub,
    secret_values,
    strip_url_credentials,
)

ENV = {"MY_API_TOKEN": "tok-123456", "DB_PASSWORD": "hunter2!", "AWS_SECRET_ACCESS_KEY": "AKxyz9",
       "PATH": "/usr/bin", "LANG": "C.UTF-8", "SHORT_KEY": "ab", "HOME": "/root"}


@pytest.mark.parametrize("name", ["TOKEN", "GITHUB_TOKEN", "db_password", "PASSWD", "api-key",
                                  "--api-key", "AWS_SECRET_ACCESS_KEY", "MY_CREDENTIALS",
                                  "HTTP_AUTH", "SESSION_COOKIE", "PRIVATE_KEY_PATH",
                                  "PASSPHRASE"])
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["PATH", "HOME", "LANG", "PWD", "OLDPWD", "SSH_AUTH_SOCK",
                                  "MLFLOW_TRACKING_URI", "--epochs", "--lr", "CUDA_VISIBLE_DEVICES",
                                  "OMP_NUM_THREADS"])
def test_non_secret_names_kept(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(("url", "clean"), [
    ("https://user:pass@example.com/repo.git", "https://example.com/repo.git"),
    ("https://ghp_token@github.com/o/r", "https://github.com/o/r"),
    ("postgresql+psycopg://u:p%40ss@db:5432/x", "postgresql+psycopg://db:5432/x"),
    ("clone https://a:b@h/x and s3://k:s@bucket/y", "clone https://h/x and s3://bucket/y"),
    ("git@github.com:o/r.git", "git@github.com:o/r.git"),  # scp form: no password in it
    ("https://example.com/a@b", "https://example.com/a@b"),  # @ in the path is not userinfo
])
def test_url_credentials_stripped(url: str, clean: str) -> None:
    assert strip_url_credentials(url) == clean


def test_argv_flags_assignments_urls_and_known_values() -> None:
    argv = ["python", "train.py", "--password", "pw1", "--api-key=k-2", "-p", "pw5",
            "TOKEN=t3", "--db", "https://u:pw4@db.example/x", "--epochs", "3",
            "--note=uses tok-123456 inside", "lr=0.1", "--secret-file", "/run/s"]
    out = redact_argv(argv, secrets=secret_values(ENV))
    assert out == ("python", "train.py", "--password", REDACTED, f"--api-key={REDACTED}", "-p",
                   REDACTED, f"TOKEN={REDACTED}", "--db", "https://db.example/x", "--epochs", "3",
                   f"--note=uses {REDACTED} inside", "lr=0.1", "--secret-file", REDACTED)
    joined = " ".join(out)
    for planted in ("pw1", "k-2", "t3", "pw4", "tok-123456"):
        assert planted not in joined


def test_argv_header_arguments() -> None:
    out = redact_argv(["curl", "-H", "Authorization: Bearer abc123", "-H", "X-Api-Key:k9",
                       "-H", "Accept: text/csv", "https://host/x"], secrets=[])
    assert out == ("curl", "-H", f"Authorization: {REDACTED}", "-H", f"X-Api-Key: {REDACTED}",
                   "-H", "Accept: text/csv", "https://host/x")


def test_argv_trailing_secret_flag_without_value() -> None:
    assert redact_argv(["cmd", "--token"], secrets=[]) == ("cmd", "--token")


def test_argv_uses_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_TOKEN", "planted-value-42")
    assert redact_argv(["echo", "planted-value-42"]) == ("echo", REDACTED)
    assert scrub("log: planted-value-42 used") == f"log: {REDACTED} used"


def test_scrub_free_text() -> None:
    text = "error connecting to https://admin:hunter2!@db/x with hunter2! and AKxyz9"
    out = scrub(text, secret_values(ENV))
    assert out == f"error connecting to https://db/x with {REDACTED} and {REDACTED}"


def test_secret_values_longest_first_and_short_ones_ignored() -> None:
    vals = secret_values(ENV)
    assert vals == sorted(vals, key=len, reverse=True)
    assert set(vals) == {"tok-123456", "hunter2!", "AKxyz9"}
    assert "ab" not in vals  # too short to scrub safely from free text


def test_redact_env_allow_list() -> None:
    env = {**ENV, "CI_URL": "https://bot:tok-123456@ci.example/x",
           "NOTE": "mentions hunter2! in passing"}
    out = redact_env(["LANG", "MY_API_TOKEN", "CI_URL", "NOTE", "UNSET_VAR"], env)
    assert out == {"LANG": "C.UTF-8", "MY_API_TOKEN": REDACTED, "CI_URL": "https://ci.example/x",
                   "NOTE": f"mentions {REDACTED} in passing"}
    assert "PATH" not in redact_env(["LANG"], env)  # nothing outside the allow-list
