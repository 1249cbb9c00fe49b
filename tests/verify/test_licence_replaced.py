"""A denied licence stops counting once its stage is re-run and its outputs replaced."""

from __future__ import annotations

from pathlib import Path

import aitrace
from aitrace.store.workspace import Workspace
from aitrace.verify.policy import parse_policy
from aitrace.verify.rules import PolicyContext, superseded

POLICY = parse_policy({"licenses": {"deny": ["CC-BY-NC-*"]}}, "test")


def _select(base: str, licence: str, out: str = "docs/base.json") -> None:
    Path(base).write_text(base)
    Path(out).parent.mkdir(exist_ok=True)
    with aitrace.stage("selection", outputs=[out]) as step:
        step.input(base, origin=f"https://models.example.org/{base}", license=licence,
                   role="base-model")
        Path(out).write_text(base)


def _licence_checks(ws: Workspace) -> list[tuple[str, str]]:
    return [(c.status, c.message) for c in POLICY.evaluate(PolicyContext(steps=ws.steps()))
            if c.id == "policy.licenses"]


def test_replacing_the_base_model_clears_the_denied_licence(workspace: Workspace) -> None:
    _select("nc-model.json", "CC-BY-NC-4.0")
    (status, message), = _licence_checks(workspace)
    assert status == "failed" and "nc-model.json is licensed CC-BY-NC-4.0" in message
    _select("open-model.json", "CC0-1.0")  # the same output written again: a replacement
    steps = workspace.steps()
    assert superseded(steps) == {steps[0].id}
    assert [s for s, _ in _licence_checks(workspace)] == ["passed"]


def test_a_step_of_another_output_replaces_nothing(workspace: Workspace) -> None:
    _select("nc-model.json", "CC-BY-NC-4.0")
    _select("open-model.json", "CC0-1.0", out="docs/other.json")
    assert superseded(workspace.steps()) == set()
    assert [s for s, _ in _licence_checks(workspace)] == ["failed"]
