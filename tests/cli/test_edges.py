"""Clean edges: every mistake a newcomer makes ends in one clear line and exit 2, not a
traceback; signals, names and printed commands do what they say."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.store.workspace import Workspace

PY = sys.executable
ROOT = Path(__file__).resolve().parents[2]


def test_bundle_to_a_directory_is_a_usage_error(workspace: Workspace, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from aitrace.signing.keys import generate_keypair

    key, _pub = generate_keypair(tmp_path / "k" / "release")
    assert main(["run", "--stage", "problem", "--", "true"]) == 0
    capsys.readouterr()
    rc = main(["bundle", "--key", str(key), "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "is a directory" in err and "Traceback" not in err
    blocked = tmp_path / "ro"
    blocked.mkdir(mode=0o500)
    if os.geteuid() != 0:  # root writes anywhere
        rc = main(["bundle", "--key", str(key), "-o", str(blocked / "x.aitrace")])
        assert rc == 2 and "cannot write" in capsys.readouterr().err


def test_sigint_to_aitrace_run_reaches_the_child(workspace: Workspace) -> None:
    """``kill -INT`` on aitrace (CI cancellation, ``timeout -s INT``): no terminal involved."""
    code = "import time; print('ready', flush=True); time.sleep(120); print('finished')"
    proc = subprocess.Popen([PY, "-m", "aitrace", "run", "--stage", "training", "--", PY, "-c",
                             code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=workspace.root)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"  # the child runs: interrupt aitrace now
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "finished" not in out
    (step,) = workspace.steps()
    assert step.status == "interrupted" and step.error and "SIGINT" in step.error


def test_log_with_an_unknown_stage_exits_2(workspace: Workspace,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--stage", "problem", "--", "true"]) == 0
    assert main(["log", "--stage", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "unknown stage 'bogus'" in err and "no steps recorded" not in err


def test_policy_typos_name_the_valid_keys(tmp_path: Path) -> None:
    from aitrace.errors import InputError
    from aitrace.verify.policy import load_policy

    bad = tmp_path / "p.yaml"
    bad.write_text("licences:\n  deny: [MIT]\n")
    with pytest.raises(InputError) as info:
        load_policy(bad)
    msg, hint = info.value.message, info.value.hint or ""
    assert msg.startswith(f"invalid policy in {bad}: field 'licences' is not a known field")
    assert "did you mean 'licenses'?" in msg and "required_stages" in msg
    assert "schemas/policy.schema.json" in hint and "restore it" not in hint
    bad.write_text("licenses:\n  dney: [MIT]\n")
    with pytest.raises(InputError, match=r"'licenses.dney' .*did you mean 'deny'"):
        load_policy(bad)


def test_readme_documents_the_metric_threshold_syntax() -> None:
    text = (ROOT / "README.md").read_text()
    assert 'accuracy: ">= 0.9"' in text and "op one of >=, >, <=, <, ==, !=" in text
    assert "{stage: optimization, metric: accuracy, op:" in text


def test_json_errors_are_whole_sentences() -> None:
    from aitrace.errors import InputError
    from aitrace.record.jsonio import parse_untrusted

    with pytest.raises(InputError) as info:
        parse_untrusted(b'{"a": 1,\n "b": "unterminated', "suite.json", error=InputError,
                        hint="")
    assert info.value.message == ("suite.json is not valid JSON at line 2, column 7: "
                                  "Unterminated string starting here")


def test_suite_init_into_a_directory_says_how(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,x\n2,y\n")
    rc = main(["suite", "init", str(data), "-o", str(tmp_path), "--force"])
    err = capsys.readouterr().err
    assert rc == 2 and "is a directory" in err and "hint: give a file name" in err


def test_keygen_names_hints_and_guards_private_keys(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q", "."], check=True)
    monkeypatch.delenv("NOPE", raising=False)
    assert main(["keygen", "-o", "x", "--passphrase-env", "NOPE"]) == 2
    err = capsys.readouterr().err
    assert "omit the option to be prompted" not in err and "--passphrase-prompt" in err
    # -o keys/ writes into keys/, not keys.key; the new directory ignores *.key
    assert main(["keygen", "-o", "keys/", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["private_key"] == "keys/signing.key" and doc["public_key"] == "keys/signing.pub"
    assert not Path("keys.key").exists()
    assert "*.key" in Path("keys/.gitignore").read_text()
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                            capture_output=True, text=True, check=True).stdout
    assert "signing.key" not in status and "signing.pub" in status
    # a private key written where git would pick it up is warned about
    assert main(["keygen", "-o", "release"]) == 0
    err = capsys.readouterr().err
    assert "release.key is inside a git work tree and not ignored" in err


def test_printed_commands_are_shell_quoted(workspace: Workspace,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    Path("my data").mkdir()
    Path("my data/raw file.csv").write_text("a\n1\n")
    assert main(["run", "--stage", "collection", "-i", "my data/raw file.csv", "--", "cat",
                 "my data/raw file.csv"]) == 0
    capsys.readouterr()
    assert main(["show", "1"]) == 0
    assert "command    cat 'my data/raw file.csv'" in capsys.readouterr().out


def test_init_with_another_name_says_it_was_not_applied(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "p"), "--name", "first"]) == 0
    capsys.readouterr()
    assert main(["init", str(tmp_path / "p"), "--name", "other"]) == 0
    captured = capsys.readouterr()
    assert "'first'" in captured.out
    assert "--name 'other' was not applied" in captured.err and "record.name" in captured.err


def test_status_help_names_every_state(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--help"]) == 0
    text = capsys.readouterr().out
    assert "interrupted" in text and "aitrace doctor" in text


def test_make_says_what_it_is_doing() -> None:
    proc = subprocess.run(["make", "-n", "-C", str(ROOT), "install", "VENV=/nonexistent/venv"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "installing aitrace and its dependencies" in proc.stdout
    assert "pip prints nothing until it is done" in proc.stdout
