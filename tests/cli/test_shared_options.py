"""The shared options behave the same in every command that takes them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from aitrace.cli import main
from aitrace.cli import options as cli_options
from aitrace.cli.governance import approve_cmd
from aitrace.record.stages import STAGE_IDS
from aitrace.signing.keys import generate_keypair
from aitrace.store.workspace import Workspace

PY = sys.executable
PASSPHRASE = "correct horse"


def _objects(ws: Workspace) -> list[Path]:
    return sorted(p for p in ws.dir.rglob("*") if p.is_file() and "cache" not in p.parts)


@pytest.mark.parametrize("argv", [
    ["run", "--stage", "baking", "--", PY, "-c", "pass"],
    ["check", "data.csv", "--pack", "privacy", "--stage", "baking"],
    ["assess", "risk", "--stage", "baking", "--file", "risk.yaml"],
    ["assess", "checklist", "-s", "baking", "--file", "checks.yaml"],
    ["approve", "--stage", "baking", "--key", "reviewer.key", "--name", "A"],
    ["log", "--stage", "baking"],
    ["log", "-s", "baking", "--json"],
])
def test_unknown_stage_exits_2_before_anything_runs(workspace: Workspace, argv: list[str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    before = _objects(workspace)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "aitrace: error: unknown stage 'baking'" in captured.err
    assert "hint: use one of: " + ", ".join(STAGE_IDS) in captured.err
    assert captured.out == "" and "Traceback" not in captured.err
    assert _objects(workspace) == before


def test_log_filters_by_a_valid_stage(workspace: Workspace,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "-s", "problem", "--", PY, "-c", "pass"]) == 0
    assert main(["run", "-s", "collection", "--", PY, "-c", "pass"]) == 0
    capsys.readouterr()
    assert main(["log", "--stage", "collection", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["steps"]
    assert [r["stage"] for r in rows] == ["collection"]


@pytest.mark.parametrize("command", ["verify", "inspect", "report"])
def test_policy_and_no_policy_exclude_each_other(tmp_path: Path, command: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "b.aitrace"
    bundle.write_bytes(b"not read: the options are refused first")
    policy = tmp_path / "p.yaml"
    policy.write_text("name: p\n")
    argv = [command, str(bundle), "--key", str(tmp_path / "k.pub"), "--policy", str(policy),
            "--no-policy"]
    if command == "report":
        argv += ["-o", str(tmp_path / "r.html")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--policy and --no-policy exclude each other" in err
    assert not (tmp_path / "r.html").exists()


def test_policy_choice_means_file_default_or_none(tmp_path: Path) -> None:
    from aitrace.verify.policy import default_policy

    assert cli_options.PolicyChoice(path=None, default=False).load() is None
    chosen = cli_options.PolicyChoice(path=None, default=True).load()
    assert chosen is not None and chosen.name == default_policy().name


@pytest.mark.parametrize("command", ["verify", "inspect", "report", "diff"])
def test_missing_trusted_key_is_named_by_the_library(tmp_path: Path, command: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "b.aitrace"
    bundle.write_bytes(b"")
    argv = [command, str(bundle), *([str(bundle)] if command == "diff" else []),
            "-k", str(tmp_path / "nobody.pub")]
    if command == "report":
        argv += ["-o", str(tmp_path / "r.html")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"key file {tmp_path / 'nobody.pub'} does not exist" in err
    assert "aitrace keygen" in err


@pytest.fixture
def encrypted_key(tmp_path: Path) -> Path:
    key, _pub = generate_keypair(tmp_path / "keys" / "rev", passphrase=PASSPHRASE.encode())
    return key


@pytest.fixture
def deployed(workspace: Workspace) -> Workspace:
    assert main(["run", "--stage", "deployment", "--no-sbom", "--", PY, "-c", "pass"]) == 0
    return workspace


@pytest.mark.parametrize("command", ["bundle", "approve"])
def test_encrypted_key_without_a_terminal_needs_passphrase_env(
        deployed: Workspace, encrypted_key: Path, tmp_path: Path, command: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    argv = (["bundle", "-k", str(encrypted_key), "-o", str(tmp_path / "b.aitrace")]
            if command == "bundle" else
            ["approve", "-s", "deployment", "-k", str(encrypted_key), "--name", "A"])
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{encrypted_key} is encrypted and no passphrase is available" in err
    assert "--passphrase-env VAR" in err


@pytest.mark.parametrize("command", ["bundle", "approve"])
def test_passphrase_env_names_an_unset_variable(deployed: Workspace, encrypted_key: Path,
                                                tmp_path: Path, command: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    argv = (["bundle", "-k", str(encrypted_key), "-o", str(tmp_path / "b.aitrace")]
            if command == "bundle" else
            ["approve", "-s", "deployment", "-k", str(encrypted_key), "--name", "A"])
    assert main([*argv, "--passphrase-env", "AITRACE_TEST_NO_SUCH_VAR"]) == 2
    assert "environment variable AITRACE_TEST_NO_SUCH_VAR is not set" in capsys.readouterr().err


def test_approve_with_passphrase_env(deployed: Workspace, encrypted_key: Path,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REVIEW_PW", PASSPHRASE)
    assert main(["approve", "-s", "deployment", "-k", str(encrypted_key), "--name", "A",
                 "--passphrase-env", "REVIEW_PW", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "approved"


def test_approve_asks_for_the_passphrase_on_a_terminal(deployed: Workspace,
                                                       encrypted_key: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_options, "stdin_is_terminal", lambda: True)
    result = CliRunner().invoke(approve_cmd, ["-s", "deployment", "-k", str(encrypted_key),
                                              "--name", "A", "--json"],
                                input=PASSPHRASE + "\n")
    assert result.exit_code == 0, result.output
    assert result.output.count(f"Passphrase for {encrypted_key}") == 1


def test_passphrase_is_asked_once_per_key(encrypted_key: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def fake_prompt(text: str, **_kwargs: object) -> str:
        asked.append(text)
        return PASSPHRASE

    monkeypatch.setattr(cli_options, "stdin_is_terminal", lambda: True)
    monkeypatch.setattr("click.prompt", fake_prompt)
    source = cli_options.Passphrases(None)
    assert source.for_key(encrypted_key) == PASSPHRASE.encode()
    assert source.for_key(encrypted_key) == PASSPHRASE.encode()
    assert asked == [f"Passphrase for {encrypted_key}"]


def test_passphrase_for_an_unencrypted_key_is_none(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    key, _pub = generate_keypair(tmp_path / "plain")
    monkeypatch.setenv("SOME_PW", "x")
    assert cli_options.Passphrases("SOME_PW").for_key(key) is None


def test_keygen_passphrase_sources_exclude_each_other(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KEY_PW", PASSPHRASE)
    assert main(["keygen", "-o", str(tmp_path / "k"), "--passphrase-env", "KEY_PW",
                 "--passphrase-prompt"]) == 2
    assert "exclude each other" in capsys.readouterr().err
    assert not (tmp_path / "k.key").exists()
