"""The stages: ten development stages exactly as before, ``monitoring`` after deployment."""

from __future__ import annotations

from pathlib import Path

import aitrace
from aitrace.record.completeness import completeness
from aitrace.record.stages import (
    ALL_STAGE_IDS,
    POST_DEPLOYMENT,
    POST_DEPLOYMENT_IDS,
    STAGE_IDS,
    STAGES,
    get_stage,
    is_development_stage,
    is_stage,
)
from aitrace.store.status import record_status
from aitrace.store.workspace import Workspace

TEN = ("problem", "collection", "cleaning", "labeling", "selection", "design", "training",
       "evaluation", "optimization", "deployment")


def test_the_ten_stay_ten_and_monitoring_comes_after() -> None:
    assert STAGE_IDS == TEN and tuple(s.id for s in STAGES) == TEN
    assert POST_DEPLOYMENT_IDS == ("monitoring",)
    assert (*TEN, "monitoring") == ALL_STAGE_IDS
    (mon,) = POST_DEPLOYMENT
    assert (mon.number, mon.name_zh) == (11, "監控")
    assert get_stage("monitoring") is mon
    assert mon.expected == ("trace-sample", "output-review", "user-feedback")


def test_is_stage_knows_every_stage_and_is_development_stage_only_ten() -> None:
    assert all(is_stage(s) for s in ALL_STAGE_IDS) and not is_stage("deploy")
    assert is_development_stage("deployment") and not is_development_stage("monitoring")
    assert not is_stage(None) and not is_development_stage(3)


def test_monitoring_steps_do_not_change_completeness_and_show_in_status(
        workspace: Workspace) -> None:
    with aitrace.stage("deployment", sbom=False, outputs=["model.bin"]):
        Path("model.bin").write_bytes(b"m")
    before = completeness(workspace.steps())
    with aitrace.stage("monitoring") as step:
        step.log_metrics({"answer_accuracy": 0.9})
    after = completeness(workspace.steps())
    assert after == before and "monitoring" not in after.per_stage
    status = record_status(workspace)
    assert [s.stage for s in status.stages] == list(TEN)
    (mon,) = status.post_deployment
    assert (mon.stage, mon.state, mon.latest_step) == ("monitoring", "done", 2)
    assert status.to_dict()["post_deployment"][0]["stage"] == "monitoring"
