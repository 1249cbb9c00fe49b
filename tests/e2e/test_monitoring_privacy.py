"""Planted personal data in prompts, review notes and feedback never reaches what aitrace writes.

Every byte is searched: each file under ``.aitrace/`` (steps, evidence objects, approvals and
the MLflow store aitrace writes, ``mlflow.db`` and its artifacts), the bundle (raw and every
member decompressed) and the HTML report — after the whole monitoring cycle at the command
line, with redacted text kept.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aitrace.cli import main
from tests.helpers.monitoring import (
    FEEDBACK_PLANTED,
    PLANTED,
    AppStore,
    bundle_hits,
    fill_sheet,
    make_released,
    planted_in,
)

pytestmark = pytest.mark.slow
EVERYTHING = (*PLANTED, *FEEDBACK_PLANTED)


def test_planted_pii_is_never_in_the_record_its_mlflow_store_the_bundle_or_the_report(
        app_store: AppStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "project"
    rel = make_released(root, mlflow=True)  # aitrace writes its own MLflow store too
    monkeypatch.chdir(root)
    run = ["monitor", "traces", "--tracking-uri", app_store.uri, "--experiment",
           app_store.experiment, "--sample", "10", "--keep-text"]
    assert main(run) == 0
    assert main(["monitor", "review", "--sample", "10", "-o", "sheet.csv"]) == 0
    fill_sheet(Path("sheet.csv"))  # one note carries an e-mail address
    assert main(["monitor", "review", "--file", "sheet.csv", "--key", str(rel.reviewer_key),
                 "--name", "Support lead"]) == 0
    assert main(["monitor", "feedback", "--category", "privacy", "--severity", "high", "--id",
                 "T-1", "--text", "It asked for my card 5500-0055-5555-5559, my ID F131104093 "
                                  "and li.wei@example.org"]) == 0
    Path("tickets.csv").write_text("id,category,severity,status,text,ref\n"
                                   "T-2,,,resolved,Fixed. Call +886 912 345 678 if not,T-1\n")
    assert main(["monitor", "feedback", "--file", "tickets.csv"]) == 0
    assert main(["run", "--stage", "monitoring", "--mlflow", "--", "true"]) == 0
    assert (root / ".aitrace" / "mlflow.db").is_file()
    assert main(["bundle", "--key", str(rel.release_key), "-o", "monitored.aitrace"]) == 0
    assert main(["report", "monitored.aitrace", "--key", str(rel.release_pub), "--approver-key",
                 str(rel.reviewer_pub), "--no-policy", "-o", "report.html"]) == 0
    capsys.readouterr()
    # The planted strings really were there to find: in the app's store and the user's files.
    assert all(p.encode() in app_store.path.read_bytes() for p in PLANTED)
    assert planted_in(root, ("bob.lin@example.net",))  # the sheet and ticket files (user's)
    assert planted_in(root / ".aitrace", EVERYTHING) == {}
    assert bundle_hits(root / "monitored.aitrace", EVERYTHING) == {}
    report = (root / "report.html").read_bytes()
    assert b"After deployment" in report
    assert [p for p in EVERYTHING if p.encode() in report] == []
    # and the redacted text that was kept is there, so the search looked at the right place
    assert b"[REDACTED:email]" in b"".join(
        p.read_bytes() for p in (root / ".aitrace" / "objects").rglob("*") if p.is_file())
