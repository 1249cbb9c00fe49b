"""The GX ValidationAction with a real GX Checkpoint (in an ephemeral GX context)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import aitrace
from aitrace.errors import InputError
from aitrace.record.stages import EVIDENCE_GX
from aitrace.store.workspace import Workspace
from tests.helpers.gx import SUITE, failing_suite

pytestmark = pytest.mark.usefixtures("gx_loaded")


def _checkpoint(root: Path, action: Any, *, dataframe: bool = False) -> Any:
    import great_expectations as gx

    ctx = gx.get_context(mode="ephemeral")
    if dataframe:
        batch = (ctx.data_sources.add_pandas(name="mem").add_dataframe_asset(name="df")
                 .add_batch_definition_whole_dataframe("all"))
    else:
        batch = (ctx.data_sources.add_pandas_filesystem(name="files", base_directory=root)
                 .add_csv_asset(name="clean").add_batch_definition_path(name="clean",
                                                                        path="clean.csv"))
    vds = []
    for i, doc in enumerate((SUITE, failing_suite())):
        suite = ctx.suites.add(gx.ExpectationSuite(**json.loads(json.dumps(doc))))
        vds.append(ctx.validation_definitions.add(
            gx.ValidationDefinition(name=f"vd{i}", data=batch, suite=suite)))
    return ctx.checkpoints.add(gx.Checkpoint(name="nightly", validation_definitions=vds,
                                             actions=[action]))


def test_action_type_is_registered_with_gx() -> None:
    from great_expectations.checkpoint.actions import _VALIDATION_ACTION_REGISTRY

    from aitrace.integrations.gx_action import AttachToAitraceStep

    assert _VALIDATION_ACTION_REGISTRY.get("aitrace_attach") is AttachToAitraceStep
    # Config form, as a file-backed GX project stores it.
    assert AttachToAitraceStep(**{"type": "aitrace_attach", "name": "a",
                                  "stage": "cleaning"}).stage == "cleaning"


def test_checkpoint_inside_a_stage_attaches_every_result(data_dir: Path) -> None:
    from aitrace.integrations.gx_action import AttachToAitraceStep

    checkpoint = _checkpoint(data_dir, AttachToAitraceStep())
    with aitrace.stage("cleaning", inputs=["clean.csv"]):
        result = checkpoint.run()
    assert result.success is False
    step = Workspace.find().steps()[-1]
    refs = {e.name: e for e in step.evidence if e.kind == EVIDENCE_GX}
    assert set(refs) == {"gx:clean", "gx:clean-strict"}
    sha = hashlib.sha256((data_dir / "clean.csv").read_bytes()).hexdigest()
    for ref in refs.values():
        assert ref.bound is True and ref.subject is not None and ref.subject.sha256 == sha
        assert ref.summary["checkpoint"] == "nightly"
    assert refs["gx:clean"].summary["success"] is True
    assert refs["gx:clean-strict"].summary["success"] is False
    assert step.metrics["gx.checks"] == 2 and step.metrics["gx.success"] == 0
    stored = json.loads(Workspace.find().read_object(refs["gx:clean-strict"].sha256))
    assert stored["meta"]["checkpoint_id"] and "partial_unexpected_list" not in json.dumps(stored)


def test_checkpoint_outside_a_stage_records_its_own_step(data_dir: Path) -> None:
    from aitrace.integrations.gx_action import AttachToAitraceStep

    _checkpoint(data_dir, AttachToAitraceStep(stage="collection")).run()
    (step,) = Workspace.find().steps()
    assert step.stage == "collection" and [m.path for m in step.materials] == ["clean.csv"]
    assert all(e.bound for e in step.evidence if e.kind == EVIDENCE_GX)
    with pytest.raises(InputError, match="no aitrace step is running"):
        _checkpoint(data_dir, AttachToAitraceStep()).run()


def test_dataframe_batch_is_recorded_unbound(data_dir: Path) -> None:
    import pandas as pd

    from aitrace.integrations.gx_action import AttachToAitraceStep

    checkpoint = _checkpoint(data_dir, AttachToAitraceStep(redact=True), dataframe=True)
    with aitrace.stage("cleaning", inputs=["clean.csv"]):
        checkpoint.run(batch_parameters={"dataframe": pd.read_csv("clean.csv")})
    refs = [e for e in Workspace.find().steps()[-1].evidence if e.kind == EVIDENCE_GX]
    assert len(refs) == 2 and all(r.subject is None and r.bound is None for r in refs)
    assert all(r.summary["redacted"] is True for r in refs)
