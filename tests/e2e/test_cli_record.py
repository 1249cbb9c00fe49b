"""The record commands through the real CLI: init, run, log, show, status, digest."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.record.jsonio import canonical_bytes
from aitrace.store.workspace import Workspace

PY = sys.executable


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, object]:
    capsys.readouterr()
    rc = main(argv)
    return rc, json.loads(capsys.readouterr().out)


def test_init_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    rc, first = _json(capsys, ["init", "--name", "demo", "--json"])
    assert rc == 0 and first["created"] is True and first["name"] == "demo"  # type: ignore[index]
    (tmp_path / "aitrace.yaml").write_text("record:\n  name: kept\n")
    rc, second = _json(capsys, ["init", "--json"])
    assert rc == 0 and second["created"] is False  # type: ignore[index]
    assert second["record_id"] == first["record_id"]  # type: ignore[index]
    assert (tmp_path / "aitrace.yaml").read_text() == "record:\n  name: kept\n"


def test_run_records_inputs_outputs_and_exit_code(workspace: Workspace,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    Path("raw.csv").write_text("a,b\n1,2\n")
    assert main(["run", "--stage", "collection", "-o", "raw.csv", "--", PY, "-c", "pass"]) == 0
    code = "import shutil; shutil.copy('raw.csv', 'clean.csv')"
    assert main(["run", "--stage", "cleaning", "-i", "raw.csv", "-o", "clean.csv",
                 "--", PY, "-c", code]) == 0
    # The child's exit code is aitrace's, and a failed step is still recorded.
    assert main(["run", "--stage", "training", "-i", "clean.csv", "--", PY, "-c",
                 "import sys; sys.exit(3)"]) == 3
    steps = workspace.steps()
    assert [s.stage for s in steps] == ["collection", "cleaning", "training"]
    assert [s.status for s in steps] == ["succeeded", "succeeded", "failed"]
    clean = steps[1]
    expected = hashlib.sha256(Path("raw.csv").read_bytes()).hexdigest()
    assert clean.materials[0].sha256 == expected and clean.products[0].sha256 == expected
    assert clean.command is not None and clean.command.exit_code == 0
    assert steps[2].command is not None and steps[2].command.exit_code == 3
    assert steps[1].prev == steps[0].digest and steps[2].prev == steps[1].digest

    rc, log = _json(capsys, ["log", "--json"])
    assert rc == 0 and [r["status"] for r in log["steps"]] == [  # type: ignore[index]
        "succeeded", "succeeded", "failed"]
    assert log["steps"][1]["inputs"] == 1 and log["chain_intact"] is True  # type: ignore[index]
    rc, shown = _json(capsys, ["show", "2", "--json"])
    assert shown["id"] == clean.id and shown["digest"] == clean.digest  # type: ignore[index]
    rc, status = _json(capsys, ["status", "--json"])
    states = {s["stage"]: s["state"] for s in status["stages"]}  # type: ignore[index]
    assert states["collection"] == "done" and states["training"] == "failed"
    assert states["problem"] == "missing" and status["chain_intact"] is True  # type: ignore


def test_missing_input_is_a_clear_error_and_writes_nothing(
        workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["run", "--stage", "cleaning", "-i", "data/nope.csv", "--", PY, "-c", "pass"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "data/nope.csv" in err and "Traceback" not in err
    assert workspace.chain().steps == () and workspace.pending() == []


def test_missing_declared_output_fails_the_step(workspace: Workspace,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["run", "--stage", "training", "-o", "model.bin", "--", PY, "-c", "pass"])
    assert rc == 1
    assert "model.bin" in capsys.readouterr().err
    (step,) = workspace.steps()
    assert step.status == "failed" and "model.bin" in (step.error or "")


def test_unknown_stage_and_unknown_command(workspace: Workspace,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--stage", "trainig", "--", PY, "-c", "pass"]) == 2
    assert "unknown stage 'trainig'" in capsys.readouterr().err
    assert main(["run", "--stage", "training", "--", "no-such-program-xyz"]) == 2
    assert "command not found: no-such-program-xyz" in capsys.readouterr().err
    assert workspace.chain().steps == ()


def test_status_names_the_first_edited_step(workspace: Workspace,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    for stage in ("problem", "collection", "cleaning"):
        assert main(["run", "--stage", stage, "--", PY, "-c", "pass"]) == 0
    path = workspace.dir / "steps" / "000002.json"
    os.chmod(path, 0o644)
    doc = json.loads(path.read_text())
    doc["actor"]["user"] = "mallory"
    path.write_bytes(canonical_bytes(doc))  # re-encoded as aitrace would: only the chain tells
    rc, status = _json(capsys, ["status", "--json"])
    assert rc == 1 and status["chain_intact"] is False  # type: ignore[index]
    assert status["broken"]["seq"] == 3  # type: ignore[index]
    assert "step 2 was edited" in status["broken"]["reason"]  # type: ignore[index]
    assert main(["status"]) == 1
    assert "BROKEN at step 3" in capsys.readouterr().out
    # Nothing more can be appended onto damaged history.
    assert main(["run", "--stage", "labeling", "--", PY, "-c", "pass"]) == 1
    assert "refusing to append" in capsys.readouterr().err


def test_digest_matches_sha256sum_and_directory_format(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "b.txt").write_bytes(b"bee")
    (tmp_path / "d" / "sub" / "a.txt").write_bytes(b"ay")
    capsys.readouterr()
    assert main(["digest", "d/b.txt", "d"]) == 0
    lines = capsys.readouterr().out.splitlines()
    out = subprocess.run(["sha256sum", "d/b.txt"], capture_output=True, text=True,
                         check=True).stdout.split()[0]
    assert lines[0] == f"sha256:{out}  d/b.txt"
    # in-toto dirHash: sha256 of the sorted "<sha256>  <path>\n" listing of the files.
    listing = (f"{hashlib.sha256(b'bee').hexdigest()}  b.txt\n"
               f"{hashlib.sha256(b'ay').hexdigest()}  sub/a.txt\n").encode()
    assert lines[1] == f"dirHash:{hashlib.sha256(listing).hexdigest()}  d"
    rc, rows = _json(capsys, ["digest", "d", "--json"])
    assert rows == [{"path": "d", "dirHash": hashlib.sha256(listing).hexdigest(), "size": 5,
                     "type": "directory"}]
    assert main(["digest", "missing.bin"]) == 2
    assert "missing.bin" in capsys.readouterr().err


def test_ctrl_c_records_an_interrupted_step(workspace: Workspace) -> None:
    """SIGINT to the process group (what a terminal's Ctrl-C does) → an interrupted step."""
    script = ("import sys,time; open('started','w').close(); "
              "[time.sleep(0.05) for _ in range(2000)]")
    proc = subprocess.Popen(
        [PY, "-m", "aitrace", "run", "--stage", "training", "--no-mlflow", "--", PY, "-c",
         script], cwd=workspace.root, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started = workspace.root / "started"
    for _ in range(600):  # bounded poll for the child to be running
        if started.exists():
            break
        try:
            proc.wait(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            continue
    assert started.exists(), proc.stderr.read() if proc.stderr else ""
    os.killpg(proc.pid, signal.SIGINT)
    rc = proc.wait(timeout=60)
    assert rc == 128 + signal.SIGINT
    (step,) = workspace.steps()
    assert step.status == "interrupted" and step.command is not None
    assert workspace.pending() == []
