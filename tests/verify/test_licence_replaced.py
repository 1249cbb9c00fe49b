"""A denied licence stops counting once its stage is re-run and its outputs replaced."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st

import aitrace
from aitrace.record.models import Step
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


@dataclass(frozen=True)
class _Out:
    path: str


@dataclass(frozen=True)
class _Step:
    id: str
    stage: str
    status: str
    products: tuple[_Out, ...]


def _pairwise(steps: list[_Step]) -> set[str]:
    """The definition, step against every later step (what ``superseded`` must equal)."""
    ok = [s for s in steps if s.status == "succeeded"]
    return {s.id for i, s in enumerate(ok)
            if (paths := {a.path for a in s.products}) and any(
                t.stage == s.stage and paths <= {a.path for a in t.products}
                for t in ok[i + 1:])}


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["cleaning", "training"]),
                          st.sampled_from(["succeeded", "failed"]),
                          st.frozensets(st.sampled_from("abcd"), max_size=3)), max_size=12))
def test_superseded_is_the_pairwise_definition(rows: list[tuple[str, str, frozenset[str]]]
                                                ) -> None:
    steps = [_Step(str(i), stage, status, tuple(_Out(p) for p in sorted(paths)))
             for i, (stage, status, paths) in enumerate(rows)]
    assert superseded(cast("list[Step]", steps)) == _pairwise(steps)
