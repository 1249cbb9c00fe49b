"""Capture of actor, git state and environment, with secrets stripped."""

from __future__ import annotations

import getpass
import hashlib
import json
import socket
import subprocess
from pathlib import Path

import pytest

from aitrace.evidence.environment import (
    ENVIRONMENT_FORMAT,
    capture_environment,
    installed_distributions,
)
from aitrace.hooks.capture import capture_actor, capture_code_version
from aitrace.hooks.redact import REDACTED


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for k, v in {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
                 "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
                 "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)}.items():
        monkeypatch.setenv(k, v)
    root = tmp_path / "repo"
    root.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (root / "train.py").write_text("print('v1')\n")
    git("add", "train.py")
    git("commit", "-q", "-m", "v1")
    git("remote", "add", "origin", "https://alice:s3cr3t-pw@git.example.org/team/model.git")
    return root


def test_git_state_clean_with_credentials_stripped(repo: Path) -> None:
    cv = capture_code_version(repo)
    assert cv is not None
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                          text=True, check=True).stdout.strip()
    assert cv.commit == head and cv.branch == "main"
    assert cv.dirty is False and cv.diff_sha256 is None
    assert cv.remote == "https://git.example.org/team/model.git"
    assert "s3cr3t-pw" not in json.dumps(cv.__dict__)


def test_dirty_tree_records_digest_of_the_diff(repo: Path) -> None:
    (repo / "train.py").write_text("print('v2')\n")
    cv = capture_code_version(repo / ".")
    assert cv is not None and cv.dirty
    diff = subprocess.run(["git", "diff", "HEAD", "--binary"], cwd=repo, capture_output=True,
                          check=True).stdout
    assert cv.diff_sha256 == hashlib.sha256(diff).hexdigest()
    (repo / "train.py").write_text("print('v3')\n")
    cv3 = capture_code_version(repo)
    assert cv3 is not None and cv3.diff_sha256 != cv.diff_sha256


def test_untracked_files_do_not_make_the_tree_dirty(repo: Path) -> None:
    (repo / "scratch.txt").write_text("x")
    cv = capture_code_version(repo)
    assert cv is not None and not cv.dirty


def test_not_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    plain = tmp_path / "plain"
    plain.mkdir()
    assert capture_code_version(plain) is None


def test_actor() -> None:
    actor = capture_actor()
    assert actor.user == getpass.getuser() and actor.host == socket.gethostname()


def test_environment_document_and_redacted_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-planted-777")
    monkeypatch.setenv("TEAM_URL", "https://bot:tok-planted-777@ci.example.org/x")
    monkeypatch.setenv("UNLISTED", "not recorded")
    env, doc = capture_environment(["MY_SERVICE_TOKEN", "TEAM_URL"])
    assert doc["format"] == ENVIRONMENT_FORMAT
    assert set(doc) == {"format", "python", "implementation", "executable", "detected_by",
                        "interpreter", "platform", "machine", "cpu_count", "memory_bytes",
                        "distributions"}
    assert doc["detected_by"] == "process" and doc["executable"].startswith("file:///")
    assert env.python == doc["python"] and env.cpu_count == doc["cpu_count"] >= 1
    assert env.variables["OMP_NUM_THREADS"] == "2"
    assert env.variables["MY_SERVICE_TOKEN"] == REDACTED
    assert env.variables["TEAM_URL"] == "https://ci.example.org/x"
    assert "UNLISTED" not in env.variables
    assert "tok-planted-777" not in json.dumps([doc, dict(env.variables)])


def test_installed_distributions_sorted_unique_with_versions() -> None:
    dists = installed_distributions()
    names = [d["name"].lower() for d in dists]
    assert names == sorted(names)
    assert len({n.replace("_", "-") for n in names}) == len(names)
    by = {d["name"].lower(): d for d in dists}
    assert "click" in by and by["click"]["version"]
    assert "aitrace" in by
    assert all(set(d) <= {"name", "version", "license", "summary", "homepage"} for d in dists)
