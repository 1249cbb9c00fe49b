"""``aitrace monitor traces|review|feedback`` and ``verify --at --previous`` at the command line."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import pytest

from aitrace.cli import main
from tests.helpers.monitoring import (
    FEEDBACK_PLANTED,
    PLANTED,
    AppStore,
    Monitored,
    Released,
    fill_sheet,
    planted_in,
)

POLICY = ("monitoring:\n  max_age_days: 30\n  require: [traces, review, feedback]\n"
          "  min_review_correct: 0.9\n  max_open_high_feedback: 0\n")


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_traces_review_feedback_end_to_end(app_store: AppStore, released: Released,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["monitor", "traces", "--tracking-uri", app_store.uri, "--experiment",
                 app_store.experiment, "--sample", "6", "--keep-text", "--json"]) == 0
    traces = _json(capsys)
    assert traces["evidence"]["kind"] == "trace-sample"  # type: ignore[index]
    assert main(["monitor", "review", "--sample", "4", "-o", "sheet.csv"]) == 0
    assert "Wrote sheet.csv: 4 sampled outputs" in capsys.readouterr().out
    fill_sheet(Path("sheet.csv"))
    assert main(["monitor", "review", "--file", "sheet.csv", "--key",
                 str(released.reviewer_key), "--name", "QA lead"]) == 0
    assert "100% correct, 100% appropriate; signed by key" in capsys.readouterr().out
    assert main(["monitor", "feedback", "--category", "privacy", "--severity", "high", "--id",
                 "T-1", "--text", "asked for my card 5500-0055-5555-5559 and F131104093",
                 "--json"]) == 0
    assert _json(capsys)["ids"] == ["T-1"]
    Path("tickets.csv").write_text("id,category,severity,status,text,ref\n"
                                   "T-2,,,resolved,Fixed; li.wei@example.org,T-1\n")
    assert main(["monitor", "feedback", "--file", "tickets.csv"]) == 0
    assert "T-2 high privacy resolved; redacted email 1" in capsys.readouterr().out
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "after deployment:" in out and "monitoring    監控    done         step 6" in out
    assert planted_in(released.ws.dir, (*PLANTED, *FEEDBACK_PLANTED)) == {}


def test_without_keep_text_no_prompt_text_is_kept(app_store: AppStore, released: Released,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["monitor", "traces", "--tracking-uri", app_store.uri, "--experiment",
                 app_store.experiment, "--sample", "20"]) == 0
    assert "digests only, no text" in capsys.readouterr().out
    # not even the words of prompts without personal data
    assert planted_in(released.ws.dir, ("descale", "warranty", "temperatures", "delivery")) == {}


@pytest.mark.parametrize(("argv", "message"), [
    (["monitor", "review"], "give either -o SHEET.csv"),
    (["monitor", "review", "--file", "x.csv"], "needs the reviewer's --key and --name"),
    (["monitor", "review", "-o", "s.csv"], "no trace sample to review"),
    (["monitor", "feedback"], "no feedback given"),
    (["monitor", "feedback", "--text", "x", "--category", "other", "--severity", "low",
      "--status", "resolved"], "must reference the entry it resolves"),
    (["monitor", "traces", "--tracking-uri", "sqlite:///nowhere/app.db", "--experiment", "x"],
     "there is no MLflow store at nowhere/app.db"),
    (["run", "--stage", "monitor", "--", "true"], "use one of: problem,"),
])
def test_usage_errors_exit_2_with_a_hint(released: Released, argv: list[str], message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "hint:" in err


def test_a_tampered_sheet_exits_2_and_records_nothing(app_store: AppStore, released: Released,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["monitor", "traces", "--tracking-uri", app_store.uri, "--experiment",
                 app_store.experiment, "--sample", "4", "--keep-text"]) == 0
    assert main(["monitor", "review", "--sample", "3", "-o", "sheet.csv"]) == 0
    fill_sheet(Path("sheet.csv"))
    with Path("sheet.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[2]["response_sha256"] = rows[0]["response_sha256"]
    with Path("sheet.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    steps = len(released.ws.steps())
    capsys.readouterr()
    assert main(["monitor", "review", "--file", "sheet.csv", "--key",
                 str(released.reviewer_key), "--name", "QA"]) == 2
    assert "sheet.csv row 4: trace" in capsys.readouterr().err
    assert len(released.ws.steps()) == steps


def test_monitoring_is_a_stage_for_run(released: Released,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--stage", "monitoring", "--", "true"]) == 0
    assert released.ws.steps()[-1].stage == "monitoring"


def test_verify_at_and_previous(monitored: Monitored, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "fresh.yaml"
    policy.write_text(POLICY)
    keys = ["--key", str(monitored.released.release_pub), "--approver-key",
            str(monitored.released.reviewer_pub)]
    base = ["verify", str(monitored.v2), *keys, "--policy", str(policy)]
    assert main([*base, "--previous", str(monitored.v1)]) == 0
    out = capsys.readouterr().out
    assert "previous.extends" in out and "is an ancestor" in out and "VERIFIED" in out
    later = (monitored.done_at + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert main([*base, "--at", later, "--json"]) == 1
    report = _json(capsys)
    failed = {c["id"] for c in report["failed"]}  # type: ignore[union-attr]
    assert failed == {"policy.monitoring.fresh"}
    assert main([*base, "--previous", str(monitored.other)]) == 1
    assert "not an earlier release of this model" in capsys.readouterr().out
    assert main([*base, "--previous", str(tmp_path / "none.aitrace")]) == 2
    assert main([*base, "--at", "someday"]) == 2
    assert "--at 'someday' is not a time" in capsys.readouterr().err


def test_report_and_inspect_show_the_monitoring_section(monitored: Monitored, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    policy = tmp_path / "fresh.yaml"
    policy.write_text(POLICY)
    keys = ["--key", str(monitored.released.release_pub), "--approver-key",
            str(monitored.released.reviewer_pub)]
    out = tmp_path / "report.html"
    assert main(["report", str(monitored.v2), *keys, "--policy", str(policy), "-o",
                 str(out)]) == 0
    html = out.read_text()
    assert 'id="monitoring"' in html and "Freshness against the policy" in html
    assert "Human review of outputs" in html and "<script" not in html
    later = (monitored.done_at + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert main(["inspect", str(monitored.v2), *keys, "--policy", str(policy), "--at",
                 later]) == 1
    text = capsys.readouterr().out
    assert "After deployment (5 monitoring step(s), since release step 2)" in text
    assert "✗ Monitoring was recorded within 30 days" in text
