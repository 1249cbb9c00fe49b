"""``aitrace run`` step overhead: what wrapping a command costs over running it bare.

Three commands, each run bare and wrapped — ``aitrace run --stage S --no-mlflow -- CMD`` and
``aitrace run --stage S -- CMD`` (MLflow linking on, the default, embedded SQLite store) —
interleaved round by round in one workspace, so a noisy machine moves all sides alike:

* an instant command (``true``);
* a three-second command (``sleep 3``);
* a real MLflow-using training script (``python train.py``: imports mlflow, starts a run in
  its own SQLite store, logs 20 params and 100 metrics in one batch, logs an artifact).

Printed: the median wall time of each, and the wrapped minus bare difference (the step
overhead). Bars (issue 13): instant command with linking on <= +0.5 s; ``sleep 3`` with
linking on <= +0.3 s; with ``--no-mlflow`` both <= +0.3 s. The warm-up round's first step
creates the embedded store through MLflow; the measured steps write their step runs straight
into it (``aitrace.evidence.mlflow.sqlwrite``). The MLflow script's overheads are reported
without a bar.
Run: ``.venv/bin/python benchmarks/bench_step_overhead.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import REPO, Series, child_env, interleaved, python  # noqa: E402

TRAIN = """\
import os, sys
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

mlflow.set_tracking_uri("sqlite:///" + os.path.abspath("user-mlflow.db"))
exp = "bench-user"
if mlflow.get_experiment_by_name(exp) is None:
    mlflow.create_experiment(exp, artifact_location="file://" + os.path.abspath("user-artifacts"))
mlflow.set_experiment(exp)
with mlflow.start_run() as run:
    MlflowClient().log_batch(
        run.info.run_id,
        metrics=[Metric(f"m{i}", i / 100, 0, 0) for i in range(100)],
        params=[Param(f"p{i}", str(i)) for i in range(20)])
    with open("model.txt", "w") as fh:
        fh.write("weights")
    mlflow.log_artifact("model.txt")
print("trained", run.info.run_id)
"""

NO_MLFLOW_BAR = 0.3
INSTANT_BAR = 0.5
SLEEP_BAR = 0.3


def _workspace() -> Path:
    from aitrace.store.workspace import Workspace

    root = Path(tempfile.mkdtemp(prefix="aitrace-bench-step-"))
    Workspace.init(root, name="bench-steps")  # MLflow linking on, as by default
    (root / "train.py").write_text(TRAIN)
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    root = _workspace()
    env = child_env([REPO / "src", REPO / "plugins/aitrace-sklearn/src"])
    aitrace = [python(), "-m", "aitrace", "run"]
    ok = True
    try:
        cases: list[tuple[str, str, list[str], float | None, float | None]] = [
            ("instant", "selection", ["true"], NO_MLFLOW_BAR, INSTANT_BAR),
            ("sleep 3", "design", ["sleep", "3"], NO_MLFLOW_BAR, SLEEP_BAR),
            ("MLflow script", "training", [python(), "train.py"], None, None),
        ]
        for label, stage, cmd, off_bar, linked_bar in cases:
            cmds: dict[str, Any] = {
                f"{label}: bare": (cmd, env, root),
                f"{label}: aitrace run --no-mlflow": (
                    [*aitrace, "--stage", stage, "--no-mlflow", "--", *cmd], env, root),
                f"{label}: aitrace run (MLflow on)": (
                    [*aitrace, "--stage", stage, "--", *cmd], env, root),
            }
            res = interleaved(cmds, args.rounds)
            bare, off, on = res.values()
            for s in (bare, off, on):
                print(s.line(bare))
            if off_bar is not None:
                ok &= _bar(f"{label}, --no-mlflow", off, bare, off_bar)
            if linked_bar is not None:
                ok &= _bar(f"{label}, MLflow on", on, bare, linked_bar)
            print()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def _bar(label: str, wrapped: Series, bare: Series, bar: float) -> bool:
    overhead = wrapped.median - bare.median
    good = overhead <= bar
    print(f"  overhead {label}: {overhead:+.3f} s (bar <= +{bar} s): {'PASS' if good else 'FAIL'}")
    return good


if __name__ == "__main__":
    raise SystemExit(main())
