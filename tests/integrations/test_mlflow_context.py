"""The MLflow run-context provider: registered through MLflow's entry point, inert outside
aitrace, tags the runs of ``aitrace run`` children (real MLflow, no mocks)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any

import pytest

from aitrace.hooks import env as hooks_env
from aitrace.integrations import mlflow_context


def test_provider_is_registered_through_mlflow_entry_point(store: Any) -> None:
    from mlflow.tracking.context.abstract_context import RunContextProvider

    (ep,) = [e for e in entry_points(group="mlflow.run_context_provider")
             if e.name == "aitrace"]
    cls = ep.load()
    assert issubclass(cls, RunContextProvider)
    assert cls is mlflow_context.AitraceRunContextProvider


def test_provider_is_inert_outside_aitrace(store: Any) -> None:
    from mlflow.tracking.context.registry import resolve_tags

    provider = mlflow_context.AitraceRunContextProvider()
    assert provider.in_context() is False
    assert not [k for k in resolve_tags() if k.startswith("aitrace.")]


def test_provider_tags_children_of_aitrace_run(store: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking.context.registry import resolve_tags

    monkeypatch.setenv(hooks_env.ENV_STEP_ID, "0123abcd")
    monkeypatch.setenv(hooks_env.ENV_RECORD_ID, "feedbeef")
    monkeypatch.setenv(hooks_env.ENV_STAGE, "training")
    monkeypatch.setenv("AITRACE_WORKSPACE", "/srv/project")
    tags = resolve_tags()
    assert {k: v for k, v in tags.items() if k.startswith("aitrace.")} == {
        "aitrace.step_id": "0123abcd", "aitrace.record_id": "feedbeef",
        "aitrace.stage": "training", "aitrace.workspace": "/srv/project"}


def test_provider_constants_match_the_tracker() -> None:
    from aitrace.store.workspace import ENV_WORKSPACE

    assert mlflow_context.ENV_STEP_ID == hooks_env.ENV_STEP_ID
    assert mlflow_context.ENV_RECORD_ID == hooks_env.ENV_RECORD_ID
    assert mlflow_context.ENV_STAGE == hooks_env.ENV_STAGE
    assert mlflow_context.ENV_WORKSPACE == ENV_WORKSPACE


def test_provider_module_imports_without_mlflow_or_tracker() -> None:
    code = ("import sys, aitrace.integrations.mlflow_context as m; "
            "print(sorted(n for n in ('mlflow', 'aitrace.hooks.tracker') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
