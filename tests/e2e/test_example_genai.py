"""The generative example end to end: licence gate, release, traces, review, feedback, freshness."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.store.workspace import Workspace
from tests.helpers.monitoring import bundle_hits, planted_in

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "genai-assistant" / "run_assistant.py"
V0, V1 = "kettle-assistant-0.9.0.aitrace", "kettle-assistant-1.0.0.aitrace"
V2 = "kettle-assistant-1.0.0-monitored.aitrace"
KEYS = ["--key", "keys/release.pub", "--approver-key", "keys/reviewer.pub"]
# Planted in the example's production prompts (data/production-prompts.jsonl), its feedback
# (run_assistant.py, tickets.csv) and the reviewer's notes (fill_review.py).
PLANTED = ("jane.chen@example.com", "0912-345-678", "+886 2 2345 6789", "4111 1111 1111 1111",
           "A123456789", "s3cretPass", "5500-0055-5555-5559", "F131104093",
           "li.wei@example.org", "+886 912 345 678", "bob.lin@example.net")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("genai") / "work"
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--workdir", str(work)],
                          capture_output=True, text=True, check=False, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-4000:]
    return work


def _verify(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str]]:
    capsys.readouterr()
    rc = main(["verify", *args, *KEYS, "--json"])
    doc = json.loads(capsys.readouterr().out)
    return rc, {c["id"]: c["message"] for c in doc["failed"]}


def test_the_planted_pii_is_nowhere_aitrace_wrote(example: Path) -> None:
    app = (example / "app" / "mlflow.db").read_bytes()
    assert [p for p in PLANTED[:6] if p.encode() not in app] == []  # the app keeps its own
    assert planted_in(example / ".aitrace", PLANTED) == {}
    assert (example / ".aitrace" / "mlflow.db").is_file()
    for bundle in (V0, V1, V2):
        assert bundle_hits(example / bundle, PLANTED) == {}, bundle
    report = (example / "report.html").read_bytes()
    assert [p for p in PLANTED if p.encode() in report] == []


def test_the_noncommercial_base_model_failed_the_policy_until_replaced(
        example: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(example)
    rc, failed = _verify([V0], capsys)
    assert rc == 1 and set(failed) == {"policy.licenses"}
    assert "CC-BY-NC-4.0" in failed["policy.licenses"]
    rc, failed = _verify([V1, "--artifact", "dist/assistant.json"], capsys)
    assert rc == 0, failed


def test_the_monitored_release_extends_the_release_and_goes_stale(
        example: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(example)
    policy = ["--policy", "policies/release.yaml"]
    rc, failed = _verify([V2, *policy, "--previous", V1], capsys)
    assert rc == 0, failed
    later = (datetime.now(UTC) + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rc, failed = _verify([V2, *policy, "--at", later], capsys)
    assert rc == 1 and set(failed) == {"policy.monitoring.fresh"}
    # another record's bundle is no earlier release of this one
    other = ROOT / "tests" / "assets" / "bundles" / "v1" / "wine-classifier-1.0.0.aitrace"
    rc, failed = _verify([V2, "--previous", str(other), "--key",
                          str(other.parent / "release.pub")], capsys)
    assert rc == 1 and "previous.same-record" in failed and "previous.extends" in failed


def test_the_record_after_deployment(example: Path) -> None:
    steps = Workspace(example).steps()
    release = max(s.seq for s in steps if s.stage == "deployment")
    after = [s for s in steps if s.seq > release]
    assert {s.stage for s in after} == {"monitoring"} and all(s.status == "succeeded"
                                                             for s in after)
    kinds = [e.kind for s in after for e in s.evidence if e.kind != "environment"]
    assert {"trace-sample", "output-review", "user-feedback", "gx-validation"} <= set(kinds)
    drift = next(s for s in after if s.metrics.get("answer_accuracy") is not None)
    assert drift.metrics["answer_accuracy"] >= 0.8 and drift.mlflow
    html = (example / "report.html").read_text(encoding="utf-8")
    assert "After deployment: monitoring 監控" in html and "Trace volume" in html
    assert "Post-market monitoring" in html and "<script" not in html
