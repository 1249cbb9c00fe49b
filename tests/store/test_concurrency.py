"""Several processes appending at once produce one linear, intact chain."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

from aitrace.store.workspace import Workspace

RAW_WRITER = textwrap.dedent("""
    import sys
    from aitrace.record.models import STEP_FORMAT, Actor, Step
    from aitrace.record.times import utc_now
    from aitrace.store.workspace import Workspace, new_id

    ws = Workspace(__import__("pathlib").Path(sys.argv[1]))
    writer, count = sys.argv[2], int(sys.argv[3])
    record_id = ws.record.id
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(count):
        def build(seq, prev, i=i):
            now = utc_now()
            return Step(format=STEP_FORMAT, id=new_id(), record_id=record_id, seq=seq,
                        stage="collection", status="succeeded", started_at=now, ended_at=now,
                        actor=Actor(user="u", host="h"), prev=prev,
                        params={"writer": writer, "i": str(i)})
        ws.append(build)
""")

TRACKER_WRITER = textwrap.dedent("""
    import os, sys
    import aitrace

    os.chdir(sys.argv[1])
    writer, count = sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(count):
        with aitrace.stage("cleaning", inputs=["shared.csv"], mlflow=False) as rec:
            out = f"out-{writer}-{i}.csv"
            open(out, "w").write(f"{writer},{i}\\n")
            rec.output(out)
            rec.log_params({"writer": writer, "i": i})
""")


def _race(script: str, root: Path, writers: int, count: int) -> None:
    """Start all writers, let them reach the gate, then release them together."""
    procs = [subprocess.Popen([sys.executable, "-c", script, str(root), f"w{n}", str(count)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for n in range(writers)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        assert p.wait(timeout=120) == 0


def _check_linear(ws: Workspace, writers: int, count: int) -> None:
    report = ws.chain()
    assert report.intact, report.broken
    steps = report.steps
    assert len(steps) == writers * count
    assert [s.seq for s in steps] == list(range(1, writers * count + 1))
    assert len({s.id for s in steps}) == len(steps)
    for prev, step in zip(steps, steps[1:], strict=False):
        assert step.prev == prev.digest
    seen: dict[str, list[int]] = defaultdict(list)
    for s in steps:
        seen[s.params["writer"]].append(int(s.params["i"]))
    # Every write landed exactly once, and each writer's own order is kept.
    assert seen == {f"w{n}": list(range(count)) for n in range(writers)}
    assert ws.pending() == []
    assert sorted(p.name for p in (ws.dir / "steps").iterdir()) == \
        [f"{n:06d}.json" for n in range(1, writers * count + 1)]


def test_raw_appends_from_four_processes(workspace: Workspace) -> None:
    _race(RAW_WRITER, workspace.root, writers=4, count=25)
    _check_linear(workspace, 4, 25)


def test_recorded_stages_from_three_processes(workspace: Workspace) -> None:
    (workspace.root / "shared.csv").write_text("a,b\n" + "1,2\n" * 1000)
    _race(TRACKER_WRITER, workspace.root, writers=3, count=4)
    _check_linear(workspace, 3, 4)
    digests = {m.sha256 for s in workspace.steps() for m in s.materials}
    assert len(digests) == 1  # the shared input hashed identically by every writer
