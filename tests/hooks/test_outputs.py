"""Outputs found when ``aitrace run`` ends (globs, folders), untouched ones flagged; values."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.errors import InputError
from aitrace.hooks.outputs import OutputWatch, fingerprint, is_glob
from aitrace.hooks.values import flatten_numbers, read_metrics_file
from aitrace.store.workspace import Workspace

PY = sys.executable


def _run(*argv: str) -> int:
    return main(["run", "--no-mlflow", "--no-sbom", *argv])


def test_a_glob_is_evaluated_after_the_command(workspace: Workspace) -> None:
    script = ("import os, uuid\n"
              "d = os.path.join('mlruns', '0', uuid.uuid4().hex, 'artifacts', 'model')\n"
              "os.makedirs(d)\n"
              "open(os.path.join(d, 'model.pkl'), 'wb').write(b'w')\n")
    assert _run("--stage", "training", "--output", "mlruns/*/*/artifacts/model",
                "--", PY, "-c", script) == 0
    (step,) = workspace.steps()
    (product,) = step.products
    assert product.type == "directory" and product.path.startswith("mlruns/0/")
    assert product.path.endswith("/artifacts/model") and product.unchanged is None
    # A second run: the earlier run's folder matches the glob too, but only the new one was
    # written by this step.
    assert _run("--stage", "training", "--output", "mlruns/*/*/artifacts/model",
                "--", PY, "-c", script) == 0
    (second,) = workspace.steps()[-1].products
    assert second.path != product.path


def test_an_output_that_existed_unchanged_is_flagged(
        workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    Path("old.csv").write_text("a\n1\n")
    Path("folder").mkdir()
    Path("folder/x.txt").write_text("x")
    assert _run("--stage", "cleaning", "-o", "old.csv", "-o", "folder", "--", "true") == 0
    step = workspace.steps()[-1]
    assert {p.path: p.unchanged for p in step.products} == {"old.csv": True, "folder": True}
    assert "not written by this step (unchanged since it started): old.csv, folder" in \
        capsys.readouterr().err
    # Touched by the command (even with the same bytes): not flagged.
    assert _run("--stage", "cleaning", "-o", "old.csv", "-o", "folder", "--", PY, "-c",
                "open('old.csv', 'w').write('a\\n1\\n'); open('folder/y.txt', 'w')") == 0
    step = workspace.steps()[-1]
    assert {p.path: p.unchanged for p in step.products} == {"old.csv": None, "folder": None}


def test_a_glob_without_match_fails_the_step(workspace: Workspace,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--stage", "training", "-o", "out/*.bin", "--", "true") != 0
    assert workspace.steps()[-1].status == "failed"
    assert "out/*.bin" in capsys.readouterr().err


def test_metrics_files_params_and_metrics(workspace: Workspace) -> None:
    script = ("import json\n"
              "json.dump({'test_mae': 1.5, 'nested': {'r2': 0.9}, 'name': 'x',"
              " 'ok': True}, open('metrics.json', 'w'))\n")
    assert _run("--stage", "evaluation", "--metrics", "metrics.json", "--param", "seed=7",
                "--metric", "test_mae=1.25", "--", PY, "-c", script) == 0
    (step,) = workspace.steps()
    # An explicit --metric wins over the file; strings and booleans are not metrics.
    assert step.metrics == {"test_mae": 1.25, "nested.r2": 0.9}
    assert step.params == {"seed": "7"}
    (metrics_file,) = step.products
    assert metrics_file.role == "metrics"
    assert metrics_file.sha256 == hashlib.sha256(Path("metrics.json").read_bytes()).hexdigest()


def test_metrics_file_errors(workspace: Workspace, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--stage", "evaluation", "--metric", "mae=abc", "--", "true") == 2
    assert "must be a number" in capsys.readouterr().err
    assert _run("--stage", "evaluation", "--param", "novalue", "--", "true") == 2
    bad = tmp_path / "m.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(InputError, match="not valid JSON or YAML"):
        read_metrics_file(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="no mapping"):
        read_metrics_file(bad)
    good = tmp_path / "m.yml"
    good.write_text("eval:\n  mae: 2\n  nan: .nan\n")
    assert read_metrics_file(good) == {"eval.mae": 2.0}
    assert flatten_numbers({"a": {"b": {"c": 1}}}) == {"a.b.c": 1.0}
    # A metrics file the command does not write fails the step like any declared output.
    assert _run("--stage", "evaluation", "--metrics", "never.json", "--", "true") != 0


def test_fingerprints_see_writes_and_copies(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("a")
    before = fingerprint(str(f))
    assert fingerprint(str(f)) == before
    os.utime(f, ns=(0, 0))  # a copy that keeps an old mtime still changes the ctime
    assert fingerprint(str(f)) != before
    assert fingerprint(str(tmp_path / "absent")) is None
    assert is_glob("a/*.csv") and not is_glob("a/b.csv") and not is_glob("s3://b/*.csv")
    watch = OutputWatch()
    watch.before([str(f)])
    assert watch.unchanged(str(f)) and watch.produced([str(f)]) == []
    f.write_text("b")
    assert not watch.unchanged(str(f))
