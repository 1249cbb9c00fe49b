"""Run the wine-classifier example through all ten stages, then bundle, verify and report.

Usage: python examples/sklearn-pipeline/run_pipeline.py [--workdir DIR]

The pipeline's scripts are copied into a fresh work directory (a git repository, so the record
shows a code version), and each stage is recorded either with ``aitrace run -- cmd`` or with the
Python hooks inside the script. Everything runs offline on the embedded defaults: aitrace's step
runs in ``.aitrace/mlflow.db`` (the training script's own run goes where MLflow puts it by
default, ``./mlflow.db``, and is linked from there), a local ECDSA P-256 key.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
AITRACE = [PY, "-m", "aitrace"]


def sh(*argv: str, cwd: Path, check: bool = True) -> int:
    """Run one command, echoing it like a shell session would."""
    words = list(argv[3:]) if list(argv[:3]) == AITRACE else list(argv)
    prefix = "aitrace " if list(argv[:3]) == AITRACE else ""
    shown = prefix + shlex.join("python" if w == PY else w for w in words)
    print(f"\n$ {shown}", flush=True)
    rc = subprocess.run(list(argv), cwd=cwd, check=False).returncode
    if check and rc != 0:
        sys.exit(f"example: step failed with exit code {rc}: {shown}")
    return rc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=HERE / "work")
    args = parser.parse_args()
    work: Path = args.workdir.resolve()
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(HERE / "pipeline", work)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # the embedded SQLite store is the default
    git = ["git", "-c", "user.name=Example", "-c", "user.email=example@localhost"]
    sh(*git, "init", "-q", "-b", "main", cwd=work)
    sh(*git, "add", ".", cwd=work)
    sh(*git, "commit", "-q", "-m", "wine classifier pipeline", cwd=work)

    a = AITRACE
    sh(*a, "init", "--name", "wine-classifier", cwd=work)
    # 1 problem: statement + success criteria (hooks), risk register and self-check table
    sh(PY, "problem.py", cwd=work)
    sh(*a, "assess", "risk", "--stage", "problem", "--file", "risk.yaml", cwd=work)
    sh(*a, "assess", "checklist", "--stage", "problem", "--file", "checklist.yaml", cwd=work)
    # 2 collection (hooks, GX privacy pack)
    sh(PY, "collect.py", cwd=work)
    # 3 cleaning (aitrace run) + a GX suite check on the result
    sh(*a, "run", "--stage", "cleaning", "-i", "data/raw.csv", "-o", "data/clean.csv",
       "--", PY, "clean.py", cwd=work)
    sh(*a, "check", "data/clean.csv", "--suite", "suites/clean.json", "--stage", "cleaning",
       cwd=work)
    # 4 labeling (hooks, GX labels pack)
    sh(PY, "label.py", cwd=work)
    # 5 selection, 6 design (aitrace run)
    sh(*a, "run", "--stage", "selection", "-i", "data/labeled.csv", "-o", "docs/selection.json",
       "--", PY, "select_model.py", cwd=work)
    sh(*a, "run", "--stage", "design", "-i", "docs/selection.json", "-o", "config/model.json",
       "--", PY, "design.py", cwd=work)
    # 7 training (hooks + a user MLflow run), 8 evaluation (decorator), 9 optimization (hooks)
    sh(PY, "train.py", cwd=work)
    sh(PY, "evaluate.py", cwd=work)
    sh(PY, "optimize.py", cwd=work)
    # 10 deployment (aitrace run; the ML-BOM is attached automatically)
    sh(*a, "run", "--stage", "deployment", "-i", "models/model-small.pkl",
       "-o", "dist/wine-classifier.pkl", "-o", "dist/release.json", "--", PY, "deploy.py",
       cwd=work)
    sh(*a, "status", cwd=work)
    sh(*a, "log", cwd=work)
    # sign-off, SBOM, bundle, verify, auditor views
    sh(*a, "keygen", "-o", "keys/release", cwd=work)
    sh(*a, "keygen", "-o", "keys/reviewer", cwd=work)
    sh(*a, "approve", "--stage", "deployment", "--key", "keys/reviewer.key",
       "--name", "Quality reviewer", "--comment", "fairness slices reviewed", cwd=work)
    sh(*a, "sbom", "-o", "dist/bom.cdx.json", cwd=work)
    sh(*a, "bundle", "--key", "keys/release.key", "-o", "wine-classifier-1.0.0.aitrace", cwd=work)
    sh(*a, "verify", "wine-classifier-1.0.0.aitrace", "--key", "keys/release.pub",
       "--approver-key", "keys/reviewer.pub",
       "--artifact", "dist/wine-classifier.pkl", cwd=work)
    sh(*a, "inspect", "wine-classifier-1.0.0.aitrace", "--key", "keys/release.pub",
       "--approver-key", "keys/reviewer.pub", cwd=work)
    sh(*a, "report", "wine-classifier-1.0.0.aitrace", "--key", "keys/release.pub",
       "--approver-key", "keys/reviewer.pub",
       "-o", "report.html", cwd=work)
    print(f"\nexample: done. Work directory: {work}\n"
          f"  bundle  {work / 'wine-classifier-1.0.0.aitrace'}\n"
          f"  report  {work / 'report.html'}\n"
          f"  MLflow  mlflow ui --backend-store-uri sqlite:///{work / '.aitrace/mlflow.db'}")


if __name__ == "__main__":
    main()
