"""A generative assistant through development, release and monitoring after deployment.

Usage: python examples/genai-assistant/run_assistant.py [--workdir DIR]

The kettle support assistant is a tiny generative model (a word trigram model, ``ngram.py``)
fine-tuned locally from a base model on the FAQ that ships with the example — nothing is
downloaded. The story, each part recorded by aitrace:

1. the ten stages, with a base model whose licence forbids commercial use (CC-BY-NC-4.0):
   the bundle verifies as authentic but **fails the policy**;
2. the base model is replaced (selection re-run with a CC0 model, then design to deployment
   again): release 1.0.0 passes, a reviewer signs the deployment off;
3. the deployed app answers customers — each call an MLflow trace in the app's own store, some
   prompts carrying personal data and a credential;
4. monitoring: a sample of the traces (text kept only redacted), a review sheet written,
   filled by a script acting as the reviewer and recorded signed, user feedback (a ticket and a
   ticket export), drift checks and the success criterion on production data;
5. a second bundle, verified with ``--previous`` (it extends release 1.0.0) against a policy
   with a freshness section — which passes now and fails 40 days later (``--at``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
AITRACE = [PY, "-m", "aitrace"]
V0 = "kettle-assistant-0.9.0.aitrace"
V1 = "kettle-assistant-1.0.0.aitrace"
V2 = "kettle-assistant-1.0.0-monitored.aitrace"


def sh(*argv: str, cwd: Path, expect: int = 0) -> int:
    """Run one command, echoing it like a shell session would; stop on an unexpected exit."""
    words = list(argv[3:]) if list(argv[:3]) == AITRACE else list(argv)
    prefix = "aitrace " if list(argv[:3]) == AITRACE else ""
    shown = prefix + " ".join("python" if w == PY else w for w in words)
    print(f"\n$ {shown}", flush=True)
    rc = subprocess.run(list(argv), cwd=cwd, check=False).returncode
    if rc != expect:
        sys.exit(f"example: exit code {rc} (expected {expect}): {shown}")
    return rc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=HERE / "work")
    args = parser.parse_args()
    work: Path = args.workdir.resolve()
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(HERE / "assistant", work, ignore=shutil.ignore_patterns("__pycache__"))
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # the record's embedded store is the default
    app_store = f"sqlite:///{work / 'app' / 'mlflow.db'}"
    (work / "app").mkdir()
    git = ["git", "-c", "user.name=Example", "-c", "user.email=example@localhost"]
    sh(*git, "init", "-q", "-b", "main", cwd=work)
    sh(*git, "add", ".", cwd=work)
    sh(*git, "commit", "-q", "-m", "kettle assistant", cwd=work)

    a = AITRACE
    keys = ("--key", "keys/release.pub", "--approver-key", "keys/reviewer.pub")
    sh(*a, "init", "--name", "kettle-assistant", cwd=work)
    # Run metadata goes to the record's MLflow store for training, evaluation and monitoring
    # only (--mlflow / mlflow=True), which keeps the example quick; the sklearn example links
    # every step.
    cfg = work / "aitrace.yaml"
    cfg.write_text(cfg.read_text().replace("  enabled: true", "  enabled: false"))
    sh(*a, "keygen", "-o", "keys/release", cwd=work)
    sh(*a, "keygen", "-o", "keys/reviewer", cwd=work)

    # 1. development, with a base model that forbids commercial use
    sh(PY, "pipeline.py", "problem", cwd=work)
    sh(*a, "assess", "risk", "--stage", "problem", "--file", "risk.yaml", cwd=work)
    sh(*a, "assess", "checklist", "--stage", "problem", "--file", "checklist.yaml", cwd=work)
    sh(PY, "pipeline.py", "data", cwd=work)              # collection, cleaning, labeling
    release(work, "base/community-chat-ngram.json")      # selection … deployment
    sh(*a, "bundle", "--key", "keys/release.key", "-o", V0, cwd=work)
    sh(*a, "verify", V0, *keys, cwd=work, expect=1)      # the licence is denied

    # 2. the base model replaced: release 1.0.0
    release(work, "base/open-chat-ngram.json")
    sh(*a, "approve", "--stage", "deployment", "--key", "keys/reviewer.key",
       "--name", "Support lead", "--comment", "answers and licences reviewed", cwd=work)
    sh(*a, "bundle", "--key", "keys/release.key", "-o", V1, cwd=work)
    sh(*a, "verify", V1, *keys, "--artifact", "dist/assistant.json", cwd=work)

    # 3. the assistant in use: its calls are traces in the app's own MLflow
    sh(PY, "app.py", app_store, cwd=work)

    # 4. monitoring after deployment
    sh(*a, "monitor", "traces", "--tracking-uri", app_store, "--experiment", "assistant-prod",
       "--since", "7d", "--sample", "12", "--keep-text", cwd=work)
    sh(*a, "monitor", "review", "--sample", "8", "-o", "review/sheet.csv", cwd=work)
    sh(PY, "fill_review.py", "review/sheet.csv", cwd=work)
    sh(*a, "monitor", "review", "--file", "review/sheet.csv", "--key", "keys/reviewer.key",
       "--name", "Support lead", cwd=work)
    sh(*a, "monitor", "feedback", "--category", "privacy", "--severity", "high", "--id",
       "TCK-101", "--text", "The chat asked for my card number 5500-0055-5555-5559 and my ID "
       "F131104093; reach me at li.wei@example.org", cwd=work)
    sh(*a, "monitor", "feedback", "--file", "tickets.csv", cwd=work)
    sh(*a, "run", "--stage", "monitoring", "--mlflow", "-i", "dist/assistant.json",
       "-i", "data/eval.jsonl", "-o", "monitoring/production.csv", "--", PY, "monitor.py",
       app_store, cwd=work)
    sh(*a, "status", cwd=work)

    # 5. a release that extends the release, and a record that goes stale
    sh(*a, "bundle", "--key", "keys/release.key", "-o", V2, cwd=work)
    sh(*a, "verify", V2, *keys, "--previous", V1, "--policy", "policies/release.yaml",
       "--artifact", "dist/assistant.json", cwd=work)
    later = (datetime.now(UTC) + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sh(*a, "verify", V2, *keys, "--policy", "policies/release.yaml", "--at", later, cwd=work,
       expect=1)
    sh(*a, "report", V2, *keys, "--policy", "policies/release.yaml", "-o", "report.html",
       cwd=work)
    print(f"\nexample: done. Work directory: {work}\n"
          f"  bundles {V0} (policy fails: licence), {V1}, {V2} (extends {V1})\n"
          f"  report  {work / 'report.html'}\n"
          f"  app's traces  mlflow ui --backend-store-uri {app_store}")


def release(work: Path, base: str) -> None:
    """Selection with ``base``, then design to deployment (a first release or a re-run)."""
    sh(*AITRACE, "run", "--stage", "selection", "-o", "docs/base-model.json", "--", PY,
       "select_model.py", base, cwd=work)
    sh(PY, "pipeline.py", "model", cwd=work)             # design, training, evaluation, opt.
    sh(*AITRACE, "run", "--stage", "deployment", "-i", "models/assistant-small.json",
       "--", PY, "deploy.py", cwd=work)


if __name__ == "__main__":
    main()
