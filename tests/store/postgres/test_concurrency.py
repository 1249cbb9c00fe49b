"""Many writers on one shared record: one linear chain, and a killed writer leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from aitrace.store.workspace import Workspace
from tests.store.postgres.conftest import append_simple, shared_workspace

ROOT = Path(__file__).resolve().parents[3]


def _writer(root: Path, arg: str, **kw: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "tests.store.postgres._writer", str(root),
                             arg], env=env, text=True, cwd=ROOT, **kw)  # type: ignore[call-overload]


def test_eight_processes_from_two_workspaces_make_one_chain_of_200(tmp_path: Path,
                                                                   db_url: str) -> None:
    a = shared_workspace(tmp_path / "a", db_url)
    b = shared_workspace(tmp_path / "b", db_url)
    procs = [_writer(ws.root, "25") for ws in (a, b) * 4]
    assert [p.wait(timeout=300) for p in procs] == [0] * 8
    report = Workspace(b.root).chain()
    assert report.intact
    assert [s.seq for s in report.steps] == list(range(1, 201))
    assert len({s.id for s in report.steps}) == 200
    assert {s.origin.workspace for s in report.steps if s.origin} == {
        (a.dir / "workspace-id").read_text().strip(), (b.dir / "workspace-id").read_text().strip()}
    assert b.shared is not None
    assert b.shared.remote.quick_check() == (200, report.head, None)


def test_sigkill_inside_the_append_leaves_no_partial_step(tmp_path: Path, db_url: str) -> None:
    a = shared_workspace(tmp_path / "a", db_url)
    append_simple(a, "problem")
    proc = _writer(a.root, "hang", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"  # inside the transaction, lock held
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # The lock went with the killed connection: the next append goes through at once.
    step = append_simple(a, "collection")
    report = Workspace(a.root).chain()
    assert report.intact
    assert [s.stage for s in report.steps] == ["problem", "collection"]
    assert step.seq == 2
