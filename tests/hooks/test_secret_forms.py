"""Every secret form the hardening issue found leaking, table by table.

Each row plants a unique secret in one shape — an argv form, a URL form, an environment
variable, a parameter, a file path, a git remote — and checks that no byte of it survives the
redaction that path goes through. ``detect-secrets``' provider plugins are the second opinion:
on the provider-format tokens they must recognise the sample (it is a real shape), and after
``scrub`` they must find nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import aitrace
from aitrace.hooks.redact import (
    REDACTED,
    redact_argv,
    redact_env,
    scrub,
    strip_url_credentials,
)
from aitrace.hooks.values import clean_params
from aitrace.store.workspace import Workspace

S = "Sx9planted"  # every planted secret contains this; none may survive

# ----------------------------------------------------------------------------- command lines
ARGV: dict[str, list[str]] = {
    "-p X": ["mysql", "-h", "db", "-p", f"{S}-1"],
    "-pX": ["mysql", f"-p{S}-2", "app"],
    "-u admin:X": ["curl", "-u", f"admin:{S}-3", "https://api.example/x"],
    "--user=admin:X": ["curl", f"--user=admin:{S}-4", "https://api.example/x"],
    "?access_token=X in a URL": ["curl", f"https://api.example/v1?access_token={S}-5"],
    "--pass X": ["tool", "--pass", f"{S}-6"],
    "--pw=X": ["tool", f"--pw={S}-7"],
    "--bearer X": ["tool", "--bearer", f"{S}-8"],
    "bare 'Bearer X'": ["tool", f"Bearer {S}-9"],
    "bare Bearer, X": ["tool", "Bearer", f"{S}-10"],
    "--header=Authorization: Bearer X": ["curl", f"--header=Authorization: Bearer {S}-11"],
    "-H 'Authorization: Bearer X'": ["curl", "-H", f"Authorization: Bearer {S}-12"],
    "--set db.password=X": ["helm", "install", "app", "--set", f"db.password={S}-13"],
    "--set=db.password=X": ["helm", "install", "app", f"--set=db.password={S}-14"],
    "--conf …secret.key=X": ["spark-submit", "--conf", f"spark.ssl.secret.key={S}-15"],
    "-D…password=X": ["java", f"-Djavax.net.ssl.trustStorePassword={S}-16", "-jar", "a.jar"],
    "--password X": ["tool", "--password", f"{S}-17"],
    "--api-key=X": ["tool", f"--api-key={S}-18"],
    "TOKEN=X": ["env", f"TOKEN={S}-19", "tool"],
    "URL credential argument": ["git", "clone", f"https://bob:{S}-20@git.example/r.git"],
}

# ----------------------------------------------------------------------------- URLs (13 forms)
URLS: dict[str, str] = {
    "user:password": f"https://user:{S}-a@host.example/x",
    "token as user": f"https://{S}-b@github.com/o/r",
    "percent-encoded password": f"postgresql+psycopg://u:{S}%40c@db:5432/x",
    "s3 key:secret": f"s3://AKIDEXAMPLE:{S}-d@bucket/y",
    "empty user": f"redis://:{S}-e@cache:6379/0",
    "ftp": f"ftp://u:{S}-f@ftp.example/file",
    "password with '@'": f"https://user:p@{S}-g@host.example/x",
    "password with '/'": f"https://user:p/{S}-h@host.example/x",
    "schemeless user:pw@host": f"admin:{S}-i@db.example.com:5432",
    "query token": f"https://api.example/v1?page=2&access_token={S}-j&x=1",
    "scheme-relative //user:pw@host": f"//user:{S}-k@host.example/x",
    "jdbc ?password=": f"jdbc:mysql://db:3306/app?user=app&password={S}-l",
    "embedded newline": f"https://user:se\n{S}-m@host.example/x",
}
KEPT = {  # what must not change
    "scp form": "git@github.com:o/r.git",
    "@ in a path": "https://example.com/a@b",
    "port, then @ in the path": "https://example.com:8080/a@b",
    "image digest": "python:3.11@sha256:0123abcd",
    "plain query": "https://example.com/x?page=2&sort=asc",
}

# ----------------------------------------------------------------------------- provider tokens
TOKENS = {
    "GitHub": "ghp_Sx9plantedAbCdEfGhIjKlMnOpQrStUvWxYz",
    "GitHub fine-grained": "github_pat_11ABCDEFG0Sx9planted_aBcDeFgHiJkLmNoPqRsTuVwXyZ01",
    "GitLab": "glpat-Sx9plantedAbCdEfGhIjK",
    "AWS": "AKIASX9PLANTEDAAAAAA",
    "Slack": "xoxb-123456789012-1234567890123-Sx9plantedAbCdEf",
    "Stripe": "sk_live_Sx9plantedAbCdEfGhIjKlMn",
    "OpenAI": "sk-Sx9plantedAbCdEfGhIjT3BlbkFJKlMnOpQrStUvWxYz0123",
    "OpenAI project key": "sk-proj-Sx9plantedAbCdEfGhIjKlMnOpQrStUv",
    "Hugging Face": "hf_Sx9plantedAbCdEfGhIjKlMnOpQrStUvW",
    "JWT": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJTeDlwbGFudGVkIn0.Sx9planted-signature_AbC",
    "SendGrid": "SG.Sx9plantedAbCdEfGhIjKl.Sx9plantedAbCdEfGhIjKlMnOpQrStUvWxYz0123456",
    "npm": "//registry.npmjs.org/:_authToken=npm_Sx9plantedAbCdEfGhIjKlMnOpQrStUvWxYz",
    "private key": "-----BEGIN RSA PRIVATE KEY-----\nMIIBSx9planted\n-----END RSA PRIVATE KEY-----",
}
NOT_IN_DETECT_SECRETS = {"GitHub fine-grained", "OpenAI project key", "Hugging Face"}


@pytest.mark.parametrize("form", sorted(ARGV))
def test_argv_form(form: str) -> None:
    out = redact_argv(ARGV[form], secrets=[])
    assert S not in " ".join(out), (form, out)
    assert out != tuple(ARGV[form]) and out[0] == ARGV[form][0]
    assert len(out) == len(ARGV[form])


def test_argv_keeps_what_is_not_a_secret() -> None:
    argv = ["python", "train.py", "--epochs", "3", "--lr=0.1", "--tokenizer", "bert",
            "--header=Accept: text/csv", "--set", "replicas=3", "--compass", "north"]
    assert redact_argv(argv, secrets=[]) == tuple(argv)
    assert redact_argv(["mkdir", "-p", "out/dir"], secrets=[]) == ("mkdir", "-p", "out/dir")
    assert redact_argv(["psql", "-p", "5432"], secrets=[]) == ("psql", "-p", "5432")
    assert redact_argv(["tool", "-p", "8080:80"], secrets=[]) == ("tool", "-p", "8080:80")
    assert redact_argv(["find", ".", "-path", "x"], secrets=[]) == ("find", ".", "-path", "x")


@pytest.mark.parametrize("form", sorted(URLS))
def test_url_form(form: str) -> None:
    out = strip_url_credentials(URLS[form])
    assert S not in out, (form, out)
    assert out  # a host or path stays


@pytest.mark.parametrize("form", sorted(KEPT))
def test_url_without_credentials_is_kept(form: str) -> None:
    assert strip_url_credentials(KEPT[form]) == KEPT[form]


@pytest.mark.parametrize("provider", sorted(TOKENS))
def test_provider_tokens_anywhere(provider: str) -> None:
    token = TOKENS[provider]
    for text in (token, f"data/{token}/x.csv", f"seed={token}", f"see {token}."):
        out = scrub(text, secrets=[])
        assert S not in out and "planted" not in out.lower(), (provider, out)


def test_an_innocently_named_variable_holding_a_token() -> None:
    env = {"MY_SEED": TOKENS["GitHub"], "CI_URL": URLS["password with '@'"], "LANG": "C"}
    out = redact_env(["MY_SEED", "CI_URL", "LANG"], env)
    assert S not in "".join(out.values()) and out["LANG"] == "C"


def test_git_remotes_with_at_and_slash_in_the_password() -> None:
    for remote in (f"https://bob:p@ss/{S}@git.example.org/m.git",
                   f"https://bob:{S}/x@y@git.example.org/m.git"):
        assert strip_url_credentials(remote) == "https://git.example.org/m.git"


@pytest.mark.parametrize(("key", "secret"), [
    ("api_key", True), ("password", True), ("db_password", True), ("apiKey", True),
    ("auth_token", True), ("client_secret", True), ("access_key", True), ("token", True),
    ("max_tokens", False), ("tokenizer", False), ("key_dim", False), ("monkey", False),
    ("n_estimators", False), ("success.accuracy", False)])
def test_secret_parameter_keys(key: str, secret: bool) -> None:
    from aitrace.hooks.redact import is_secret_key

    assert is_secret_key(key) is secret


def test_secret_parameters_are_redacted() -> None:
    out = clean_params({"api_key": f"{S}-p1", "password": f"{S}-p2", "n_estimators": 200,
                        "endpoint": f"https://u:{S}-p3@api.example", "max_tokens": 512})
    assert out == {"api_key": REDACTED, "password": REDACTED, "n_estimators": "200",
                   "endpoint": "https://api.example", "max_tokens": "512"}


def test_a_token_in_a_file_path_is_not_recorded(workspace: Workspace) -> None:
    folder = Path("data") / TOKENS["GitHub"]
    folder.mkdir(parents=True)
    (folder / "x.csv").write_text("a\n1\n")
    with aitrace.stage("collection", inputs=[folder / "x.csv"]):
        pass
    [step] = workspace.steps()
    assert step.materials[0].path == f"data/{REDACTED}/x.csv"
    assert S.encode() not in b"".join(p.read_bytes() for p in workspace.dir.rglob("*.json"))


def test_step_params_named_secret_never_reach_mlflow(mlflow_workspace: Workspace) -> None:
    """aitrace's own MLflow run for the step gets the redacted values, too."""
    with aitrace.stage("training") as s:
        s.log_params({"api_key": f"{S}-m1", "password": f"{S}-m2", "lr": 0.1})
    [step] = mlflow_workspace.steps()
    assert step.params["api_key"] == REDACTED and step.params["lr"] == "0.1"
    data = b"".join(p.read_bytes() for p in mlflow_workspace.dir.rglob("*") if p.is_file())
    assert S.encode() not in data
    from mlflow.tracking import MlflowClient

    run_id = next(m.run_id for m in step.mlflow if m.role == "step")
    client = MlflowClient(tracking_uri=step.mlflow[0].tracking_uri)
    assert client.get_run(run_id).data.params["api_key"] == REDACTED


def test_aitrace_run_records_none_of_the_argv_forms(workspace: Workspace) -> None:
    from aitrace.cli import main

    argv = ["run", "--stage", "problem", "--no-mlflow", "--no-sbom", "--", sys.executable, "-c",
            "import sys; sys.exit(0)"]
    for form in ("-p X", "-u admin:X", "--pw=X", "--bearer X", "bare 'Bearer X'",
                 "--header=Authorization: Bearer X", "--set db.password=X",
                 "--conf …secret.key=X", "?access_token=X in a URL"):
        argv += ARGV[form][1:]
    assert main(argv) == 0
    stored = b"".join(p.read_bytes() for p in workspace.dir.rglob("*") if p.is_file())
    assert S.encode() not in stored


# ----------------------------------------------------------------------------- detect-secrets


def _provider_findings(text: str) -> list[str]:
    pytest.importorskip("detect_secrets")
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import transient_settings

    plugins = ["AWSKeyDetector", "AzureStorageKeyDetector", "BasicAuthDetector",
               "GitHubTokenDetector", "GitLabTokenDetector", "JwtTokenDetector", "NpmDetector",
               "OpenAIDetector", "PrivateKeyDetector", "PypiTokenDetector", "SendGridDetector",
               "SlackDetector", "StripeDetector", "TwilioKeyDetector", "DiscordBotTokenDetector",
               "TelegramBotTokenDetector", "MailchimpDetector", "ArtifactoryDetector"]
    with transient_settings({"plugins_used": [{"name": n} for n in plugins]}):
        return [f.type for line in text.splitlines() for f in scan_line(line)]


@pytest.mark.parametrize("provider", sorted(set(TOKENS) - NOT_IN_DETECT_SECRETS))
def test_detect_secrets_agrees_the_samples_are_real_and_finds_nothing_after(
        provider: str) -> None:
    token = TOKENS[provider]
    assert _provider_findings(token), f"detect-secrets does not recognise the {provider} sample"
    assert _provider_findings(scrub(f"x = {token}", secrets=[])) == []


def test_detect_secrets_finds_nothing_in_any_redacted_form() -> None:
    texts = [" ".join(redact_argv(a, secrets=[])) for a in ARGV.values()]
    texts += [strip_url_credentials(u) for u in URLS.values()]
    assert [(t, f) for t in texts for f in _provider_findings(t)] == []


def test_the_git_remote_of_a_real_repository(workspace: Workspace) -> None:
    from aitrace.hooks.capture import capture_code_version

    subprocess.run(["git", "init", "-q"], cwd=workspace.root, check=True)
    subprocess.run(["git", "remote", "add", "origin",
                    f"https://bob:p@ss/{S}@git.example.org/m.git"], cwd=workspace.root,
                   check=True)
    code = capture_code_version(workspace.root)
    assert code is not None and code.remote == "https://git.example.org/m.git"
