"""Shared by the benchmarks: run commands in fresh processes, interleaved, wall time + peak RSS.

The development machine is shared and noisy, so a benchmark never compares against a number
measured on another day: it measures its baseline in the same run, alternating baseline and
subject round by round, and reports medians (and minimums) of both, their difference and their
ratio. Children run with a bytecode cache (``PYTHONPYCACHEPREFIX`` in a temp directory, like an
installed package's ``.pyc`` files) even when the caller sets ``PYTHONDONTWRITEBYTECODE``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_PYCACHE = Path(tempfile.gettempdir()) / "aitrace-bench-pycache"
REPO = Path(__file__).resolve().parents[1]


def child_env(pythonpath: Sequence[str | os.PathLike[str]] = (),
              extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured child: bytecode cached, MLflow quiet, ``pythonpath`` first."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(_PYCACHE)
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    env.pop("AITRACE_WORKSPACE", None)
    paths = [str(p) for p in pythonpath]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Run:
    """One measured process."""

    seconds: float
    cpu: float  # user + system seconds of the child itself (steadier than wall when loaded)
    peak_rss: int  # bytes (the child's own VmHWM, from wait4)
    returncode: int
    stdout: str
    stderr: str


def run(cmd: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
        stdin: str | None = None) -> Run:
    """Run ``cmd`` to its end; its wall time and its own peak RSS (not its children's)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd,
                                env=dict(env) if env is not None else None, stdout=out,
                                stderr=err,
                                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
        if stdin is not None and proc.stdin is not None:
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
        err.seek(0)
        errors = err.read().decode(errors="replace")
    return Run(seconds=elapsed, cpu=usage.ru_utime + usage.ru_stime,
               peak_rss=usage.ru_maxrss * 1024, returncode=proc.returncode,
               stdout=text, stderr=errors)


@dataclass
class Series:
    """Repeated runs of one command."""

    name: str
    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def best(self) -> float:
        return min(r.seconds for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def peak_rss(self) -> int:
        return max(r.peak_rss for r in self.runs)

    def line(self, baseline: Series | None = None) -> str:
        text = (f"{self.name:<52} median {self.median:7.3f} s  min {self.best:7.3f} s  "
                f"cpu {self.cpu:7.3f} s  peak {self.peak_rss / 2**20:5.0f} MiB")
        if baseline is not None and baseline is not self:
            text += (f"   {self.median - baseline.median:+7.3f} s vs {baseline.name!s:.24}"
                     f" ({self.median / baseline.median:.2f}x)")
        return text


def interleaved(commands: Mapping[str, tuple[Sequence[str], Mapping[str, str], Path | None]],
                rounds: int, *, warm: bool = True,
                check: bool = True) -> dict[str, Series]:
    """Run every command once per round, in turn, ``rounds`` times (after one warm-up each).

    With ``check``, a run that exits other than 0 or 1 (a verdict), or that leaves a Python
    traceback, stops the benchmark: a crash must not pass for a fast run.
    """
    out = {name: Series(name) for name in commands}
    if warm:
        for cmd, env, cwd in commands.values():
            run(cmd, cwd=cwd, env=env)
    for _ in range(rounds):
        for name, (cmd, env, cwd) in commands.items():
            r = run(cmd, cwd=cwd, env=env)
            if check and (r.returncode not in (0, 1) or "Traceback (most recent" in r.stderr):
                sys.exit(f"{name}: exit {r.returncode}: {' '.join(cmd)}\n{r.stderr[-2000:]}")
            out[name].runs.append(r)
    return out


def python() -> str:
    """The interpreter the benchmark runs under (the project's venv)."""
    return sys.executable
