"""The model-scan policy rule on recorded workspaces: failures, exceptions, missing scans."""

from __future__ import annotations

from pathlib import Path

import pytest

import aitrace
from aitrace.errors import InputError
from aitrace.evidence.registry import BUILTIN, source_for
from aitrace.evidence.scan.source import ModelScanSource
from aitrace.record.stages import EVIDENCE_KINDS
from aitrace.store.workspace import Workspace
from aitrace.verify.checks import Check
from aitrace.verify.policy import parse_policy
from aitrace.verify.rules import PolicyContext
from tests.helpers.model_files import malicious, sklearn_models, write_pickle


def _checks(ws: Workspace, **policy: object) -> list[Check]:
    ctx = PolicyContext(steps=ws.steps(), object_bytes=ws.read_object)
    pol = parse_policy({"refuse_unsafe_models": True, **policy}, "test.yaml")
    return [c for c in pol.evaluate(ctx) if c.id == "policy.model-scan"]


def test_every_evidence_kind_has_its_source() -> None:
    assert set(BUILTIN) == set(EVIDENCE_KINDS)
    assert isinstance(source_for("model-scan"), ModelScanSource)


def test_an_unsafe_release_fails_naming_file_and_finding(workspace: Workspace,
                                                          tmp_path: Path) -> None:
    write_pickle(Path("dist/model.pkl"), malicious(tmp_path / "M")["shell"])
    write_pickle(Path("dist/ok.pkl"), sklearn_models()["tree"])
    with aitrace.stage("deployment", workspace=workspace, outputs=["dist"]):
        pass
    checks = _checks(workspace)
    assert [c.status for c in checks] == ["failed"]
    assert "deployment model dist" in checks[0].message
    assert "model.pkl: posix.system (critical" in checks[0].message
    allowed = _checks(workspace, allow_unsafe_pickles=["dist*"])
    assert [c.status for c in allowed] == ["passed"]
    assert allowed[0].message.startswith("EXCEPTION: ")
    assert "allow_unsafe_pickles 'dist*'" in allowed[0].message


def test_a_scan_at_training_counts_for_the_same_bytes(workspace: Workspace) -> None:
    write_pickle(Path("models/m.pkl"), sklearn_models()["logistic"])
    with aitrace.stage("training", workspace=workspace, outputs=["models/m.pkl"]):
        pass
    Path("aitrace.yaml").write_text(Path("aitrace.yaml").read_text() + "scan:\n  auto: false\n")
    ws = Workspace(workspace.root)
    with aitrace.stage("deployment", workspace=ws, inputs=["models/m.pkl"],
                       outputs=["models/m.pkl"]):
        pass
    checks = _checks(ws)
    assert [c.status for c in checks] == ["passed"] and "models/m.pkl" in checks[0].message


def test_no_scan_is_skipped_not_passed(workspace: Workspace) -> None:
    Path("aitrace.yaml").write_text(Path("aitrace.yaml").read_text() + "scan:\n  auto: false\n")
    ws = Workspace(workspace.root)
    assert [c.status for c in _checks(ws)] == ["skipped"]  # no deployment step yet
    write_pickle(Path("dist/model.pkl"), sklearn_models()["logistic"])
    with aitrace.stage("deployment", workspace=ws, outputs=["dist/model.pkl"]):
        pass
    checks = _checks(ws)
    assert [c.status for c in checks] == ["skipped"]
    assert "not known to be safe: dist/model.pkl" in checks[0].message


def test_an_empty_exception_is_refused() -> None:
    with pytest.raises(InputError, match="allow_unsafe_pickles"):
        parse_policy({"allow_unsafe_pickles": [" "]}, "p.yaml")
