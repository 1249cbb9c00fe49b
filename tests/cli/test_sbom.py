"""``aitrace sbom``: record mode, CI mode without a workspace, errors, and what CI mode imports."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aitrace.cli import main
from tests.helpers.sbom import check_bom, components


def _model(path: Path) -> Path:
    header = json.dumps({"w": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]}})
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + bytes(48))
    return path


@pytest.fixture
def bare_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with no aitrace workspace anywhere above it."""
    d = tmp_path / "ci"
    d.mkdir()
    monkeypatch.chdir(d)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    return d


def test_ci_mode_without_a_workspace(bare_dir: Path) -> None:
    _model(bare_dir / "model.safetensors")
    assert main(["sbom", "--model", "model.safetensors", "--env", "-o", "bom.cdx.json"]) == 0
    doc = json.loads((bare_dir / "bom.cdx.json").read_text())
    check_bom(doc)
    model = doc["metadata"]["component"]
    assert model["type"] == "machine-learning-model" and model["name"] == "model.safetensors"
    assert model["modelCard"]["modelParameters"]["modelArchitecture"] == "12 parameters"
    libs = components(doc, "library")
    assert any(c["purl"] == f"pkg:pypi/click@{_version('click')}" for c in libs)
    assert doc["metadata"]["timestamp"].startswith("2023-11-14T22:13:20")
    assert not (bare_dir / ".aitrace").exists()
    # SOURCE_DATE_EPOCH makes CI output reproducible, byte for byte
    assert main(["sbom", "--model", "model.safetensors", "--env", "-o", "again.json"]) == 0
    assert (bare_dir / "again.json").read_bytes() == (bare_dir / "bom.cdx.json").read_bytes()


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def test_ci_json_summary_and_stdout(bare_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _model(bare_dir / "a.safetensors")
    assert main(["sbom", "--model", "a.safetensors", "--json", "-o", "bom.json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["valid"] is True and summary["output"] == "bom.json"
    assert summary["components"] == {"total": 1, "machine-learning-model": 1}
    assert summary["model"]["path"] == "a.safetensors"
    assert main(["sbom", "--model", "a.safetensors"]) == 0
    check_bom(json.loads(capsys.readouterr().out))
    assert main(["sbom", "--model", "a.safetensors", "-o", "-", "--json"]) == 2
    assert "cannot go there too" in capsys.readouterr().err


def test_missing_model_and_bad_usage_exit_2(bare_dir: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sbom", "--model", "nope.onnx", "-o", "bom.json"]) == 2
    err = capsys.readouterr().err
    assert "model file nope.onnx does not exist" in err and "hint:" in err
    assert not (bare_dir / "bom.json").exists()
    assert main(["sbom", "-o", "bom.json"]) == 2  # record mode, no workspace
    assert "no aitrace workspace" in capsys.readouterr().err
    assert main(["sbom", "--step", "3", "--model", "x"]) == 2
    assert "one or the other" in capsys.readouterr().err
    (bare_dir / "evil.safetensors").write_bytes(struct.pack("<Q", 2**63) + b"{}")
    assert main(["sbom", "--model", "evil.safetensors"]) == 2
    assert "exceeds the" in capsys.readouterr().err


def test_record_mode_and_step(lineage: Any, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(lineage.root)
    out = lineage.root.parent / "bom.cdx.json"
    assert main(["sbom", "-o", str(out)]) == 0
    assert "licence needs review: data/raw.csv: CC-BY-NC-4.0" in capsys.readouterr().err
    doc = json.loads(out.read_text())
    check_bom(doc)
    assert doc["metadata"]["component"]["name"] == "wine.pkl"
    training = next(s for s in lineage.steps() if s.stage == "training")
    assert main(["sbom", "--step", training.id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"]["path"] == "models/model.pkl"
    assert main(["sbom", "--step", "999"]) == 2


def test_ci_mode_imports_neither_mlflow_nor_gx(bare_dir: Path) -> None:
    _model(bare_dir / "m.safetensors")
    code = ("import sys\nfrom aitrace.cli import main\n"
            "rc = main(['sbom', '--model', 'm.safetensors', '--env', '-o', 'b.json'])\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('mlflow', 'great_expectations', 'pandas', 'sklearn'))\n"
            "print(rc, heavy)\n")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("AITRACE_WORKSPACE", None)
    res = subprocess.run([sys.executable, "-c", code], cwd=bare_dir, env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "0 []", res.stdout + res.stderr
    check_bom(json.loads((bare_dir / "b.json").read_text()))
