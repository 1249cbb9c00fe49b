"""Time and order along the chain (``aitrace.verify.order``), on real recorded steps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aitrace
from aitrace.record.models import Step
from aitrace.verify.order import registered_criteria, time_anomalies
from tests.helpers.bundle import new_workspace, rewrite_history

NOW = datetime(2026, 3, 3, tzinfo=UTC)


def _steps(tmp_path: Path, times: list[tuple[str, str]],
           params: dict[int, dict[str, str]] | None = None,
           stages: list[str] | None = None) -> tuple[Step, ...]:
    ws = new_workspace(tmp_path / "p")
    names = stages or ["problem"] * len(times)
    for i, stage in enumerate(names):
        with aitrace.stage(stage, workspace=ws, sbom=False) as s:
            s.log_params((params or {}).get(i, {}))
            if stage == "evaluation":
                s.log_metrics({"accuracy": 0.8})

    def edit(docs: list[dict[str, Any]]) -> None:
        for doc, (start, end) in zip(docs, times, strict=True):
            doc["started_at"], doc["ended_at"] = start, end

    return tuple(rewrite_history(ws.root, edit).steps())


def _t(hour: int, minute: int = 0, second: int = 0) -> str:
    return f"2026-03-02T{hour:02d}:{minute:02d}:{second:02d}.000000Z"


def test_forward_time_and_concurrent_appends_pass(tmp_path: Path) -> None:
    # step 3 ended 40 s before step 2 (appended later: its MLflow link took longer)
    steps = _steps(tmp_path, [(_t(8), _t(9)), (_t(9), _t(10, 0, 40)), (_t(9, 30), _t(10))])
    assert time_anomalies(steps, NOW) == []


def test_each_kind_of_time_anomaly_is_named(tmp_path: Path) -> None:
    steps = _steps(tmp_path, [(_t(8), _t(9)), (_t(11), _t(10)), (_t(6), _t(7)),
                              ("2031-01-01T00:00:00.000000Z", "2031-01-01T01:00:00.000000Z")])
    found = [(a.seq, a.message) for a in time_anomalies(steps, NOW)]
    assert [seq for seq, _ in found] == [2, 3, 4]
    assert "step 2 (problem) ended at 2026-03-02T10:00:00.000000Z, 1.0 h before it started" \
        in found[0][1]
    assert found[1][1].startswith("step 3 (problem) ended at 2026-03-02T07:00:00.000000Z, "
                                  "3.0 h before step 2 (problem) that precedes it in the chain")
    assert found[2][1].startswith("step 4 (problem) is dated 2031-01-01T01:00:00.000000Z, "
                                  "1765.0 days in the future (now 2026-03-03T00:00:00Z)")


def test_criteria_registered_before_the_evaluation(tmp_path: Path) -> None:
    steps = _steps(tmp_path, [(_t(8), _t(9)), (_t(10), _t(11))],
                   params={0: {"success.accuracy": ">= 0.7"}},
                   stages=["problem", "evaluation"])
    reg = registered_criteria(steps)
    assert reg.anomalies == ()
    [c] = reg.criteria
    assert (c.metric, c.text, c.problem.seq if c.problem else None,
            c.evaluation.seq if c.evaluation else None) == ("accuracy", ">= 0.7", 1, 2)


def test_criteria_recorded_while_the_evaluation_ran_do_not_count(tmp_path: Path) -> None:
    """Earlier in the chain but ended after the evaluation started (beyond clock skew)."""
    steps = _steps(tmp_path, [(_t(8), _t(12)), (_t(10), _t(13))],
                   params={0: {"success.accuracy": ">= 0.7"}},
                   stages=["problem", "evaluation"])
    reg = registered_criteria(steps)
    assert reg.criteria[0].problem is None
    [a] = reg.anomalies
    assert a.seq == 1 and "sets success criterion success.accuracy '>= 0.7' only after " \
                          "evaluation step 2 (started 2026-03-02T10:00:00.000000Z)" in a.message
