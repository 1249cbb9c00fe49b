"""An application's MLflow store with traces that carry personal data, and a released record.

* ``app_store`` (session): a real MLflow SQLite store written by a separate process, as an
  application would write it — experiment ``assistant-prod``, one CHAT_MODEL trace per prompt
  of ``PROMPTS`` (some carry ``PLANTED`` personal data and a credential), token usage set;
* ``released`` (function): a fresh workspace with a released model (a problem step with a
  success criterion, one deployment step) and reviewer and release key pairs;
* ``monitored`` (module): such a record bundled at release (v1), monitored — traces, a signed
  review, feedback opened and resolved, a drift check — and bundled again (v2), plus a bundle
  of another record;
* ``planted_in(path)`` / ``bundle_hits`` — every byte of a tree or of every member of a bundle,
  searched for the planted strings.

Imported by the conftest.py of tests/evidence/monitoring, tests/verify, tests/cli and tests/e2e.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aitrace.store.workspace import Workspace

EXPERIMENT = "assistant-prod"
PLANTED = ("jane.chen@example.com", "0912-345-678", "+886 2 2345 6789", "4111 1111 1111 1111",
           "A123456789", "s3cretPass")
PROMPTS = (
    "how do I descale the kettle",
    "Hi, this is jane.chen@example.com, how often should I descale it?",
    "Please call me on 0912-345-678, where is the serial number?",
    "Office line +886 2 2345 6789: can I change my delivery address?",
    "My card 4111 1111 1111 1111 was charged twice",
    "My national ID is A123456789, how do I register my warranty?",
    "Check https://admin:s3cretPass@shop.example.com/orders please",
    "how long is the warranty",
    "what temperatures can I choose",
    "is the kettle safe to boil dry",
)
FEEDBACK_PLANTED = ("5500-0055-5555-5559", "F131104093", "li.wei@example.org",
                    "+886 912 345 678", "bob.lin@example.net")

_WRITER = textwrap.dedent("""
    import sys
    import mlflow
    from mlflow.entities import SpanType

    uri, artifacts, prompts = sys.argv[1], sys.argv[2], sys.argv[3:]
    mlflow.set_tracking_uri(uri)
    exp = mlflow.create_experiment("assistant-prod", artifact_location=artifacts)
    mlflow.set_experiment(experiment_id=exp)
    for i, prompt in enumerate(prompts):
        with mlflow.start_span(name="kettle-chat", span_type=SpanType.CHAT_MODEL) as span:
            span.set_inputs({"messages": [{"role": "user", "content": prompt}]})
            span.set_attribute("mlflow.llm.model", "kettle-assistant-1.0")
            span.set_attribute("mlflow.chat.tokenUsage",
                               {"input_tokens": 5 + i, "output_tokens": 9, "total_tokens": 14 + i})
            span.set_outputs({"choices": [{"message": {"role": "assistant",
                                                       "content": f"Answer number {i}."}}]})
    mlflow.flush_trace_async_logging()
""")


@dataclass(frozen=True)
class AppStore:
    """Where the application's traces are."""

    uri: str
    path: Path
    experiment: str = EXPERIMENT


@pytest.fixture(scope="session")
def app_store(tmp_path_factory: pytest.TempPathFactory) -> AppStore:
    """An application's MLflow store, written by another process (never by aitrace)."""
    root = tmp_path_factory.mktemp("app")
    db = root / "mlflow.db"
    uri = f"sqlite:///{db}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AITRACE_"))}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    proc = subprocess.run([sys.executable, "-c", _WRITER, uri, str(root / "traces"), *PROMPTS],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = db.read_bytes()
    assert all(p.encode() in data for p in PLANTED), "the app store should hold the PII"
    return AppStore(uri=uri, path=db)


@dataclass(frozen=True)
class Released:
    """A workspace whose model was released, and a reviewer's keys."""

    ws: Workspace
    reviewer_key: Path
    reviewer_pub: Path
    release_key: Path
    release_pub: Path


def make_released(root: Path, *, mlflow: bool = False, name: str = "assistant") -> Released:
    """A new workspace at ``root`` with one deployment step releasing ``dist/model.json``."""
    import aitrace
    from aitrace.signing.keys import generate_keypair

    root.mkdir(parents=True, exist_ok=True)
    Workspace.init(root, name=name)
    if not mlflow:
        cfg = root / "aitrace.yaml"
        cfg.write_text(cfg.read_text().replace("  enabled: true", "  enabled: false"))
    ws = Workspace(root)
    with aitrace.stage("problem", workspace=ws) as step:
        step.log_params({"success.answer_accuracy": ">= 0.8"})
    model = root / "dist" / "model.json"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_text('{"counts": {}}\n')
    with aitrace.stage("deployment", workspace=ws, sbom=False) as step:
        step.output(model, role="model")
    rev_key, rev_pub = generate_keypair(root.parent / f"{name}-keys" / "reviewer")
    rel_key, rel_pub = generate_keypair(root.parent / f"{name}-keys" / "release")
    return Released(ws=ws, reviewer_key=rev_key, reviewer_pub=rev_pub, release_key=rel_key,
                    release_pub=rel_pub)


@pytest.fixture
def released(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Released:
    """A released workspace in ``tmp_path/project`` (the current directory)."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return make_released(root)


DRIFT_SUITE = {"name": "drift", "expectations": [
    {"type": "expect_column_mean_to_be_between",
     "kwargs": {"column": "prompt_words", "min_value": 3, "max_value": 25}},
    {"type": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "intent", "value_set": ["care", "orders", "none"]}}]}


@dataclass(frozen=True)
class Monitored:
    """A released record monitored after deployment, bundled before and after."""

    released: Released
    v1: Path
    v2: Path
    other: Path
    sheet: Path
    done_at: datetime


def fill_sheet(sheet: Path, verdict: str = "correct") -> None:
    """Fill every row of a review sheet (as a reviewer would), one note with an e-mail."""
    with sheet.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for i, r in enumerate(rows):
        r["verdict"], r["appropriate"] = verdict, "yes"
        r["notes"] = "customer bob.lin@example.net asked too" if i == 0 else ""
    with sheet.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def monitor_record(rel: Released, store: AppStore, root: Path) -> Path:
    """Traces (text kept, redacted), a signed review, feedback (resolved) and a drift check."""
    import aitrace
    from aitrace.evidence.monitoring.feedback import make_entry
    from aitrace.evidence.monitoring.record import (
        record_feedback,
        record_traces,
        workspace_samples,
    )
    from aitrace.evidence.monitoring.review import latest_sample, sheet_rows, write_sheet
    from aitrace.evidence.monitoring.traces import sample_traces
    from aitrace.signing.keys import load_signer
    from aitrace.signing.reviews import record_signed_review

    ws = rel.ws
    since = datetime.now(UTC) - timedelta(days=7)
    record_traces(ws, sample_traces(store.uri, store.experiment, since=since, size=8,
                                    keep_text=True))
    sheet = root / "review" / "sheet.csv"
    write_sheet(sheet, sheet_rows(latest_sample(workspace_samples(ws)), 5))
    fill_sheet(sheet)
    record_signed_review(ws, sheet, load_signer(rel.reviewer_key), "Support lead")
    first = make_entry(text="It asked for my card 5500-0055-5555-5559, ID F131104093, mail "
                            "li.wei@example.org", category="privacy", severity="high", id="T-1")
    record_feedback(ws, [first], source="command line")
    done = make_entry(text="Fixed; call +886 912 345 678 if not", category=None, severity=None,
                      status="resolved", ref="T-1", known={"T-1": first})
    record_feedback(ws, [done], source="command line")
    prod = root / "monitoring" / "production.csv"
    with aitrace.stage("monitoring", workspace=ws, outputs=[prod]) as step:
        prod.parent.mkdir(parents=True, exist_ok=True)
        prod.write_text("prompt_words,intent\n5,care\n7,orders\n9,none\n")
        step.log_metrics({"answer_accuracy": 0.9})
        step.check(prod, suite=DRIFT_SUITE)
    return sheet


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory, app_store: AppStore) -> Monitored:
    """One record per test module: released, bundled (v1), monitored, bundled again (v2)."""
    from aitrace.bundle.write import build_bundle
    from aitrace.signing.keys import load_signer

    base = tmp_path_factory.mktemp("monitored")
    with pytest.MonkeyPatch.context() as mp:
        root = base / "project"
        root.mkdir()
        mp.chdir(root)
        rel = make_released(root)
        signer = load_signer(rel.release_key)
        v1 = base / "v1.aitrace"
        build_bundle(rel.ws, [signer], v1)
        sheet = monitor_record(rel, app_store, root)
        v2 = base / "v2.aitrace"
        build_bundle(rel.ws, [signer], v2)
        other_root = base / "other"
        other = make_released(other_root, name="other")
        mp.chdir(other_root)
        other_bundle = base / "other.aitrace"
        build_bundle(other.ws, [load_signer(rel.release_key)], other_bundle)
    return Monitored(released=rel, v1=v1, v2=v2, other=other_bundle, sheet=sheet,
                     done_at=datetime.now(UTC))


def planted_in(root: Path, planted: tuple[str, ...]) -> dict[str, list[str]]:
    """Which planted strings occur in which file under ``root`` (every byte of every file)."""
    hits: dict[str, list[str]] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            data = (Path(dirpath) / name).read_bytes()
            for p in planted:
                if p.encode() in data:
                    hits.setdefault(p, []).append(str(Path(dirpath) / name))
    return hits


def bundle_hits(path: Path, planted: tuple[str, ...]) -> dict[str, list[str]]:
    """Planted strings in a bundle: its raw bytes and every member, decompressed."""
    hits: dict[str, list[str]] = {}
    raw = path.read_bytes()
    for p in planted:
        if p.encode() in raw:
            hits.setdefault(p, []).append(str(path))
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            data = z.read(name)
            for p in planted:
                if p.encode() in data:
                    hits.setdefault(p, []).append(f"{path}:{name}")
    return hits


__all__ = ["DRIFT_SUITE", "FEEDBACK_PLANTED", "PLANTED", "PROMPTS", "AppStore", "Monitored",
           "Released", "app_store", "bundle_hits", "fill_sheet", "make_released",
           "monitor_record", "monitored", "planted_in", "released"]
