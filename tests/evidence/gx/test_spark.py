"""``--engine spark`` through GX's Spark datasource (skipped when pyspark is not installed)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.store.workspace import Workspace
from tests.helpers.gx import DECOYS, PLANTED, tree_contains

pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover - depends on the machine
    pytest.skip("Spark needs a Java runtime", allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("gx_loaded")]


@pytest.fixture(scope="module", autouse=True)
def _stop_spark() -> Iterator[None]:
    """Stop the local Spark session (and its JVM's work) when the module is done."""
    yield
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


def test_spark_engine_suite_and_privacy(data_dir: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    rc = main(["check", "clean.csv", "--suite", "suites/strict.json", "--pack", "privacy",
               "--engine", "spark", "--stage", "cleaning", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1
    suite, privacy = out["checks"]
    assert suite["summary"]["engine"] == "spark" and suite["summary"]["failed"] == 1
    assert suite["summary"]["rows"] == 60 and suite["bound"] is True
    assert suite["summary"]["data_sha256"] == hashlib.sha256(
        Path("clean.csv").read_bytes()).hexdigest()
    assert privacy["summary"]["success"] is True  # no personal data in clean.csv
    rc = main(["check", "privacy.csv", "--pack", "privacy", "--engine", "spark",
               "--stage", "collection", "--json"])
    out = json.loads(capsys.readouterr().out)
    found = {(f["column"], f["detector"]): f["count"]
             for f in out["checks"][0]["summary"]["findings"]}
    assert rc == 1 and found[("comment", "card")] == 2 and found[("comment", "tw_id")] == 2
    leaked = tree_contains(Workspace.find().root / ".aitrace",
                           [v for vs in PLANTED.values() for v in vs] + DECOYS)
    assert leaked == []
