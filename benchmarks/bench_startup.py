"""CLI start-up: ``aitrace --help`` and ``aitrace log`` wall time, and what they import.

Bars (issue 2): each <= 0.25 s (median of several runs of the installed console script, in a
workspace holding 50 steps), and ``python -X importtime -m aitrace --help`` imports neither
mlflow nor great_expectations (nor pandas).
Run: ``.venv/bin/python benchmarks/bench_startup.py`` (or ``make bench``); exit 1 = a bar missed.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aitrace.record.models import STEP_FORMAT, Actor, Step
from aitrace.store.workspace import Workspace, new_id, utc_now

RUNS = 9
HEAVY = ("mlflow", "great_expectations", "pandas")


def aitrace_exe() -> list[str]:
    exe = Path(sys.executable).parent / "aitrace"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "aitrace"]


def wall(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def heavy_imports(args: list[str], cwd: Path, env: dict[str, str]) -> list[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "aitrace", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, check=True)
    names = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    return sorted(n for n in names if n.split(".")[0] in HEAVY)


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="aitrace-bench-startup-"))
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("AITRACE_WORKSPACE", None)
    ok = True
    try:
        ws, _ = Workspace.init(root, name="bench")
        for i in range(50):
            def build(seq: int, prev: str | None, i: int = i) -> Step:
                now = utc_now()
                return Step(format=STEP_FORMAT, id=new_id(), record_id=ws.record.id, seq=seq,
                            stage="training", status="succeeded", started_at=now, ended_at=now,
                            actor=Actor(user="u", host="h"), prev=prev, params={"i": str(i)})
            ws.append(build)
        exe = aitrace_exe()
        for args in (["--help"], ["log"]):
            wall(exe + args, root, env)  # warm the bytecode cache
            t = statistics.median(wall(exe + args, root, env) for _ in range(RUNS))
            heavy = heavy_imports(args, root, env)
            good = t <= 0.25 and not heavy
            ok &= good
            print(f"[4] aitrace {' '.join(args):<7} median {t * 1000:.0f} ms of {RUNS} (<= 250 ms)"
                  f"   heavy imports: {', '.join(heavy) or 'none'}   "
                  f"{'PASS' if good else 'FAIL'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
