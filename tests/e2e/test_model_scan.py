"""A planted malicious pickle through the real CLI: flagged, failed by policy, never loaded.

The model's ``__reduce__`` would create ``MARKER`` when unpickled. ``run`` (training and
deployment), ``sbom`` (record and CI mode), ``bundle``, ``verify``, ``inspect`` and ``report``
all handle the file; the marker must never appear, and the default policy must fail the record
naming the released file and the finding.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.record.stages import EVIDENCE_MODEL_SCAN
from aitrace.store.workspace import Workspace
from tests.helpers.model_files import OpensMarker, sklearn_models, write_pickle

PY = sys.executable


def _policy(path: Path, extra: str = "") -> Path:
    path.write_text("name: scan-gate\nrefuse_unsafe_models: true\n" + extra)
    return path


def test_a_planted_pickle_is_flagged_and_never_runs(
        workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "MARKER"
    write_pickle(Path("models/model.pkl"), OpensMarker(marker))
    copy = "import shutil; shutil.copy('models/model.pkl', 'dist/model.pkl')"
    Path("dist").mkdir()
    assert main(["run", "--stage", "training", "-o", "models/model.pkl", "--no-mlflow",
                 "--", PY, "-c", "pass"]) == 0
    assert main(["run", "--stage", "deployment", "-i", "models/model.pkl", "-o",
                 "dist/model.pkl", "--no-mlflow", "--", PY, "-c", copy]) == 0
    assert not marker.exists()
    steps = workspace.steps()
    scans = [e for s in steps for e in s.evidence if e.kind == EVIDENCE_MODEL_SCAN]
    assert [e.summary["verdict"] for e in scans] == ["unsafe", "unsafe"]
    assert all(e.bound for e in scans)
    assert scans[1].subject is not None and scans[1].subject.path == "dist/model.pkl"

    assert main(["sbom", "-o", "bom.cdx.json"]) == 0
    assert main(["sbom", "--model", "dist/model.pkl", "--env", "-o", "ci.cdx.json"]) == 0
    assert main(["keygen", "-o", str(tmp_path / "keys" / "rel")]) == 0
    assert main(["bundle", "--key", str(tmp_path / "keys" / "rel.key"), "-o",
                 "m.aitrace"]) == 0
    pub = str(tmp_path / "keys" / "rel.pub")
    capsys.readouterr()

    assert main(["verify", "m.aitrace", "--key", pub, "--json"]) == 1  # the default policy
    report = json.loads(capsys.readouterr().out)
    scan = [c for c in report["checks"] if c["id"] == "policy.model-scan"]
    assert [c["status"] for c in scan] == ["failed"]
    assert "dist/model.pkl" in scan[0]["message"] and "io.open" in scan[0]["message"]

    strict = _policy(tmp_path / "strict.yaml")
    assert main(["verify", "m.aitrace", "--key", pub, "--policy", str(strict)]) == 1
    out = capsys.readouterr().out
    assert "deployment model dist/model.pkl" in out and "flagged unsafe" in out

    allowed = _policy(tmp_path / "allowed.yaml", "allow_unsafe_pickles: [dist/model.pkl]\n")
    capsys.readouterr()
    assert main(["verify", "m.aitrace", "--key", pub, "--policy", str(allowed), "--json"]) == 0
    checks = json.loads(capsys.readouterr().out)["checks"]
    exception = [c for c in checks if c["id"] == "policy.model-scan"]
    assert exception[0]["status"] == "passed"
    assert exception[0]["message"].startswith("EXCEPTION: deployment model dist/model.pkl")

    assert main(["inspect", "m.aitrace", "--key", pub, "--no-policy"]) == 0
    shown = capsys.readouterr().out
    assert "unsafe model" in shown
    assert main(["report", "m.aitrace", "--key", pub, "--no-policy", "-o", "r.html"]) == 0
    assert "unsafe model" in Path("r.html").read_text(encoding="utf-8")
    assert not marker.exists()


def test_a_plain_scikit_learn_release_passes_the_scan_rule(
        workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_pickle(Path("dist/model.pkl"), sklearn_models()["pipeline"])
    assert main(["run", "--stage", "deployment", "-o", "dist/model.pkl", "--no-mlflow",
                 "--", PY, "-c", "pass"]) == 0
    assert main(["keygen", "-o", str(tmp_path / "k")]) == 0
    assert main(["bundle", "--key", str(tmp_path / "k.key"), "-o", "m.aitrace"]) == 0
    capsys.readouterr()
    strict = _policy(tmp_path / "strict.yaml")
    assert main(["verify", "m.aitrace", "--key", str(tmp_path / "k.pub"), "--policy",
                 str(strict), "--json"]) == 0
    checks = json.loads(capsys.readouterr().out)["checks"]
    scan = [c for c in checks if c["id"] == "policy.model-scan"]
    assert scan[0]["status"] == "passed" and "dist/model.pkl" in scan[0]["message"]
