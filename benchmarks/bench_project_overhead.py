"""Per-step overhead of ``aitrace run`` on a real user's project (issue 10), against bare runs.

The project is ``tests/projects/house-prices`` in its own virtualenv (MLflow 2.4, pandas 2.0,
scikit-learn 1.2; ``make project-venvs`` builds it), wrapped unchanged; aitrace runs from its own
environment. One step — ``python train.py`` (imports pandas, scikit-learn and MLflow, fits a
model, logs it to MLflow's default file store) — runs bare and under ``aitrace run``
interleaved, ``RUNS`` times each, and the medians are compared in the same run. For context the
same is done for an instant command (``true``), without aitrace's own MLflow step run
(``mlflow.step_runs: false``: the user's runs are still observed and linked) and with
``--no-mlflow``.

Report only: the bar for step overhead is issue 13's (≤ 0.5 s for an instant command); this
prints the numbers and exits 0. Run: ``.venv/bin/python benchmarks/bench_project_overhead.py``.
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.projects.venvs import PROJECTS, find  # noqa: E402 - after the path fix

RUNS = 5
LAUNCHER = """#!{python}
import sys
sys.path[:0] = [{src!r}]
from aitrace.cli import main
sys.exit(main())
"""


def _wall(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def _pair(label: str, bare: list[str], wrapped: list[str], cwd: Path,
          env: dict[str, str]) -> tuple[float, float]:
    b, w = [], []
    for _ in range(RUNS):
        b.append(_wall(bare, cwd, env))
        w.append(_wall(wrapped, cwd, env))
    mb, mw = statistics.median(b), statistics.median(w)
    print(f"{label:<34} bare {mb:6.2f} s   wrapped {mw:6.2f} s   overhead {mw - mb:+6.2f} s "
          f"(median of {RUNS}; bare {min(b):.2f}–{max(b):.2f}, wrapped {min(w):.2f}–{max(w):.2f})",
          flush=True)
    return mb, mw


def main() -> int:
    venv = find("house-prices")
    if venv is None:
        print("house-prices virtualenv not built: run `make project-venvs` first")
        return 0
    work = Path(tempfile.mkdtemp(prefix="aitrace-bench-project-"))
    try:
        root = work / "house-prices"
        shutil.copytree(PROJECTS / "house-prices", root)
        bin_dir = work / "bin"
        bin_dir.mkdir()
        launcher = bin_dir / "aitrace"
        launcher.write_text(LAUNCHER.format(python=sys.executable, src=str(REPO / "src")))
        launcher.chmod(0o755)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MLFLOW_", "AITRACE_", "PYTHON", "VIRTUAL_ENV"))}
        env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{bin_dir}{os.pathsep}{env['PATH']}",
                    "VIRTUAL_ENV": str(venv), "GIT_PYTHON_REFRESH": "quiet",
                    "MLFLOW_DISABLE_TELEMETRY": "true"})
        aitrace = str(launcher)
        subprocess.run([aitrace, "init", "--name", "bench"], cwd=root, env=env, check=True,
                       capture_output=True)
        prep = subprocess.run(["python", "prepare.py"], cwd=root, env=env, check=True,
                              capture_output=True, text=True).stdout.strip().splitlines()[-1]
        # The first wrapped step creates aitrace's own MLflow store: not what a rerun pays.
        _wall([aitrace, "run", "--stage", "problem", "--", "true"], root, env)
        train = ["python", "train.py", "--data-run", prep]
        print(f"house-prices, Python from {venv.name}, {os.cpu_count()} CPUs")
        _pair("train.py (MLflow 2.4 script)", train,
              [aitrace, "run", "--stage", "training", "--", *train], root, env)
        _pair("true (instant command)", ["true"],
              [aitrace, "run", "--stage", "training", "--", "true"], root, env)
        # Observing the user's runs, the probe, hashing and the ML-BOM, without aitrace's own
        # MLflow step run (mlflow.step_runs: false), then with MLflow off altogether.
        cfg = root / "aitrace.yaml"
        cfg.write_text(cfg.read_text().replace("  step_runs: true", "  step_runs: false"))
        _pair("train.py, step_runs: false", train,
              [aitrace, "run", "--stage", "training", "--", *train], root, env)
        _pair("true, step_runs: false", ["true"],
              [aitrace, "run", "--stage", "training", "--", "true"], root, env)
        _pair("train.py, --no-mlflow", train,
              [aitrace, "run", "--stage", "training", "--no-mlflow", "--", *train], root, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
