"""A recording process SIGKILLed at any moment never corrupts the workspace.

A child process records one ``cleaning`` step and kills itself with SIGKILL at a chosen point
(the point is reached by wrapping one internal function in the child only). Afterwards the chain
must be intact, ``aitrace status`` must read it, a dangling start marker must be reported as
interrupted, and the next append must turn it into an ``interrupted`` step.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import aitrace
from aitrace.cli import main
from aitrace.store.workspace import Workspace

CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path

    os.chdir(sys.argv[1])
    point = sys.argv[2]
    import aitrace
    import aitrace.store.digest as D
    import aitrace.store.files as F
    import aitrace.store.markers as M
    import aitrace.store.workspace as W

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def partial_then_die(path, data):
        # what a torn write looks like: part of the bytes under a temp name, then death
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        (Path(path).parent / (F.TMP_PREFIX + "torn")).write_bytes(data[: len(data) // 2])
        die()

    real_hash, real_begin, real_end = D.hash_file, W.Workspace.begin, W.Workspace.end
    real_create, real_atomic = W.create_exclusive, W.atomic_write

    if point == "hashing-input":
        def hash_file(path, buf=None):
            with open(path, "rb") as fh:
                fh.read(1 << 20)
            die()
        D.hash_file = hash_file
    elif point == "writing-marker":
        def atomic_write(path, data, mode=0o644):
            partial_then_die(path, data) if "pending" in str(path) else real_atomic(path, data)
        M.atomic_write = atomic_write
    elif point == "after-begin":
        def begin(self, *a, **k):
            real_begin(self, *a, **k)
            die()
        W.Workspace.begin = begin
    elif point == "hashing-output":
        def hash_file(path, buf=None):
            if Path(path).name == "out.bin":
                die()
            return real_hash(path, buf)
        D.hash_file = hash_file
    elif point in ("writing-evidence", "writing-step"):
        where = "objects" if point == "writing-evidence" else "steps"
        def create_exclusive(path, data, mode=0o644):
            if where in str(path):
                partial_then_die(path, data)
            return real_create(path, data, mode=mode)
        W.create_exclusive = create_exclusive
    elif point == "after-step-written":
        def end(self, step_id):
            die()
        W.Workspace.end = end

    with aitrace.stage("cleaning", inputs=["big.bin"], mlflow=False) as rec:
        Path("out.bin").write_bytes(b"x" * 1000)
        rec.output("out.bin")
    print("survived", flush=True)
""")


@pytest.fixture
def big_input(workspace: Workspace) -> Path:
    path = workspace.root / "big.bin"
    path.write_bytes(b"\x5a" * (8 << 20))
    return path


def _kill_at(ws: Workspace, point: str) -> None:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(ws.root), point],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "survived" not in proc.stdout


def _status(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["status", "--json"]) == 0  # reads the workspace without error; chain intact
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def _next_step(ws: Workspace) -> None:
    with aitrace.stage("training", sbom=False):
        pass


@pytest.mark.parametrize("point", ["hashing-input", "writing-marker"])
def test_killed_before_the_marker_leaves_nothing(workspace: Workspace, big_input: Path,
                                                 point: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _kill_at(workspace, point)
    assert workspace.chain().intact
    assert workspace.pending() == []  # a torn marker is a temp file, ignored
    status = _status(capsys)
    assert status["steps"] == 0 and status["pending"] == []
    _next_step(workspace)
    assert [s.status for s in workspace.steps()] == ["succeeded"]


@pytest.mark.parametrize("point", ["after-begin", "hashing-output", "writing-evidence",
                                   "writing-step"])
def test_killed_mid_step_is_reported_then_recorded_as_interrupted(
        workspace: Workspace, big_input: Path, point: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    _kill_at(workspace, point)
    assert workspace.chain().intact
    assert workspace.steps() == ()
    (marker,) = workspace.pending()
    assert marker.stage == "cleaning" and not marker.alive
    status = _status(capsys)
    assert status["pending"] == [{"step_id": marker.step_id, "stage": "cleaning",
                                  "started_at": marker.started_at, "pid": marker.pid,
                                  "state": "interrupted", "host": marker.host}]
    cleaning = next(s for s in status["stages"] if s["stage"] == "cleaning")  # type: ignore[attr-defined]
    assert cleaning["interrupted_markers"] == 1

    _next_step(workspace)
    interrupted, training = workspace.steps()
    assert interrupted.id == marker.step_id and interrupted.status == "interrupted"
    assert interrupted.stage == "cleaning"
    assert "ended before the step finished" in (interrupted.error or "")
    # The input hashed before the crash survives in the interrupted step.
    assert [m.path for m in interrupted.materials] == ["big.bin"]
    assert training.status == "succeeded" and training.prev == interrupted.digest
    assert workspace.pending() == []
    assert workspace.chain().intact


def test_killed_after_the_step_was_written_is_not_recorded_twice(
        workspace: Workspace, big_input: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _kill_at(workspace, "after-step-written")
    (step,) = workspace.steps()
    assert step.status == "succeeded"
    _status(capsys)
    _next_step(workspace)
    steps = workspace.steps()
    assert [s.stage for s in steps] == ["cleaning", "training"]
    assert len({s.id for s in steps}) == 2
    assert workspace.pending() == []


def test_dead_marker_from_other_host_is_left_alone(workspace: Workspace) -> None:
    from aitrace.record.models import Actor
    from aitrace.record.times import utc_now
    from aitrace.store.workspace import new_id

    sid = new_id()
    workspace.begin(sid, "training", utc_now(), Actor(user="u", host="elsewhere"), None, ())
    doc = json.loads((workspace.dir / "pending" / f"{sid}.json").read_bytes())
    doc["host"] = "some-other-host"
    (workspace.dir / "pending" / f"{sid}.json").write_text(json.dumps(doc))
    (marker,) = workspace.pending()
    assert marker.alive  # cannot tell: another machine's process may still run
    _next_step(workspace)
    assert [s.stage for s in workspace.steps()] == ["training"]
    assert [p.step_id for p in workspace.pending()] == [sid]
