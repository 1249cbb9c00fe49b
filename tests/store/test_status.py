"""``store.status.record_status``: typed, frozen, one snapshot; ``aitrace status`` prints it."""

from __future__ import annotations

import dataclasses
import json
import socket
import sys

import pytest
import rfc8785

import aitrace
from aitrace.cli import main
from aitrace.record.models import Actor
from aitrace.record.stages import STAGE_IDS
from aitrace.record.times import utc_now
from aitrace.store.status import RecordStatus, StageStatus, record_status
from aitrace.store.workspace import Workspace, new_id

PY = sys.executable


def _dead_marker(ws: Workspace, stage: str) -> str:
    """A start marker of this host whose process is gone (its start time does not match)."""
    sid = new_id()
    path = ws.begin(sid, stage, utc_now(), Actor(user="u", host=socket.gethostname()), None, ())
    doc = json.loads(path.read_bytes())
    doc["pid_start"] = "not-this-process"
    path.write_text(json.dumps(doc))
    return sid


def test_status_of_a_new_record(workspace: Workspace) -> None:
    status = record_status(workspace)
    assert isinstance(status, RecordStatus) and status.intact
    assert [s.stage for s in status.stages] == list(STAGE_IDS)
    assert {s.state for s in status.stages} == {"missing"}
    assert status.pending == () and status.chain.head is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.stages[0].state = "done"  # type: ignore[misc]


def test_stage_states_markers_and_the_cli_document(workspace: Workspace,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "-s", "problem", "--", PY, "-c", "pass"]) == 0
    assert main(["run", "-s", "collection", "--", PY, "-c", "raise SystemExit(3)"]) == 3
    assert main(["run", "-s", "collection", "--", PY, "-c", "pass"]) == 0
    sid = _dead_marker(workspace, "cleaning")
    with aitrace.stage("training", workspace=workspace):
        status = record_status(workspace)
    by_stage: dict[str, StageStatus] = {s.stage: s for s in status.stages}
    assert by_stage["problem"].state == "done" and by_stage["problem"].latest_step == 1
    # The latest step of a stage decides its state; earlier ones are counted.
    assert by_stage["collection"].state == "done"
    assert (by_stage["collection"].latest_step, by_stage["collection"].steps) == (3, 2)
    assert by_stage["cleaning"].interrupted_markers == 1 and by_stage["cleaning"].running == 0
    assert by_stage["training"].running == 1 and by_stage["training"].state == "missing"
    assert {(p.stage, p.state) for p in status.pending} == {("cleaning", "interrupted"),
                                                          ("training", "running")}
    assert sid in {p.step_id for p in status.pending}

    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    now = record_status(workspace).to_dict()
    assert printed == json.loads(json.dumps(now))
    # Appending the training step recorded the dead marker as an interrupted cleaning step.
    assert printed["steps"] == 5 and printed["chain_intact"] is True
    assert printed["pending"] == []
    cleaning = next(s for s in printed["stages"] if s["stage"] == "cleaning")
    assert cleaning["state"] == "interrupted" and cleaning["interrupted_markers"] == 0


def test_a_failed_latest_step_is_the_stage_state(workspace: Workspace,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "-s", "design", "--", PY, "-c", "raise SystemExit(1)"]) == 1
    (design,) = [s for s in record_status(workspace).stages if s.stage == "design"]
    assert design.state == "failed"
    capsys.readouterr()
    assert main(["status"]) == 0
    assert "design" in capsys.readouterr().out


def test_broken_chain(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    for stage in ("problem", "collection"):
        assert main(["run", "-s", stage, "--", PY, "-c", "pass"]) == 0
    first = workspace.dir / "steps" / "000001.json"
    doc = json.loads(first.read_bytes())
    doc["description"] = "edited"
    first.write_bytes(rfc8785.dumps(doc))  # as a careful forger would: canonical form
    status = record_status(workspace)
    assert not status.intact and status.chain.broken is not None
    assert status.chain.broken.seq == 2
    assert status.to_dict()["broken"]["seq"] == 2
    capsys.readouterr()
    assert main(["status"]) == 1
    assert "hash chain: BROKEN at step 2" in capsys.readouterr().out
