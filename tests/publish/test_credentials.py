"""Registry credentials: environment, Docker's config.json and its helpers; never shown."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from aitrace.errors import InputError
from aitrace.publish.credentials import docker_config_path, find_credentials

HOST = "127.0.0.1:5000"
SECRET = "s3cr3t-Pa55"


def _config(tmp_path: Path, doc: object) -> dict[str, str]:
    (tmp_path / "docker").mkdir(exist_ok=True)
    (tmp_path / "docker" / "config.json").write_text(json.dumps(doc))
    return {"DOCKER_CONFIG": str(tmp_path / "docker"), "PATH": os.environ.get("PATH", "")}


def _helper(tmp_path: Path, name: str, script: str) -> str:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    path = bindir / f"docker-credential-{name}"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return f"{bindir}:{os.environ.get('PATH', '')}"


def test_environment_wins_and_its_password_is_never_shown(tmp_path: Path) -> None:
    env = _config(tmp_path, {"auths": {HOST: {"auth": base64.b64encode(b"docker:pw").decode()}}})
    env |= {"AITRACE_REGISTRY_USERNAME": "ci", "AITRACE_REGISTRY_PASSWORD": SECRET}
    found = find_credentials(HOST, env)
    assert found.credentials is not None
    assert (found.credentials.username, found.credentials.password) == ("ci", SECRET)
    assert "AITRACE_REGISTRY_USERNAME" in found.describe()
    assert SECRET not in repr(found) and SECRET not in found.describe()


def test_docker_config_auths_in_both_spellings(tmp_path: Path) -> None:
    token = base64.b64encode(f"dev:{SECRET}".encode()).decode()
    env = _config(tmp_path, {"auths": {f"https://{HOST}/v1/": {"auth": token},
                                       "other.example.org": {"username": "u", "password": "p"}}})
    found = find_credentials(HOST, env).credentials
    assert found is not None and (found.username, found.password) == ("dev", SECRET)
    assert "config.json" in found.source
    other = find_credentials("other.example.org", env).credentials
    assert other is not None and other.username == "u"


def test_only_one_env_variable_and_no_config_says_where_it_looked(tmp_path: Path) -> None:
    env = {"AITRACE_REGISTRY_USERNAME": "ci", "DOCKER_CONFIG": str(tmp_path / "none")}
    found = find_credentials(HOST, env)
    assert found.credentials is None
    text = found.describe()
    assert "only one of them is set" in text and "absent" in text


def test_identity_tokens_are_skipped_with_a_reason(tmp_path: Path) -> None:
    env = _config(tmp_path, {"auths": {HOST: {"identitytoken": "tok"}}})
    found = find_credentials(HOST, env)
    assert found.credentials is None
    assert "identity tokens are not supported" in found.describe()


def test_credential_helper_is_asked_with_the_host(tmp_path: Path) -> None:
    env = _config(tmp_path, {"credHelpers": {HOST: "aitracetest"}, "auths": {}})
    env["PATH"] = _helper(tmp_path, "aitracetest",
                          f'read host\n[ "$1" = get ] && [ "$host" = "{HOST}" ] || exit 1\n'
                          f'echo \'{{"ServerURL":"{HOST}","Username":"helper",'
                          f'"Secret":"{SECRET}"}}\'\n')
    found = find_credentials(HOST, env).credentials
    assert found is not None and (found.username, found.password) == ("helper", SECRET)
    assert found.source == "Docker credential helper docker-credential-aitracetest"
    # another host: the helper says no (exit 1), and the lookup says so
    env2 = _config(tmp_path, {"credsStore": "aitracetest"})
    env2["PATH"] = env["PATH"]
    miss = find_credentials("elsewhere:1", env2)
    assert miss.credentials is None and "no credentials for elsewhere:1" in miss.describe()


def test_missing_helper_is_named(tmp_path: Path) -> None:
    env = _config(tmp_path, {"credsStore": "nonexistent-aitrace"})
    found = find_credentials(HOST, env)
    assert found.credentials is None
    assert "docker-credential-nonexistent-aitrace (not installed)" in found.describe()


def test_malformed_docker_config_is_an_input_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "config.json").write_text("{not json")
    with pytest.raises(InputError) as err:
        find_credentials(HOST, {"DOCKER_CONFIG": str(tmp_path / "d")})
    assert "config.json" in err.value.message
    assert docker_config_path({"DOCKER_CONFIG": "/x"}) == Path("/x/config.json")
