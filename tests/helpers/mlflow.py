"""MLflow fixtures: one embedded store per module (MLflow's import and DB migration paid once).

Imported by the conftest.py of tests/evidence/mlflow and tests/integrations.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aitrace.store.workspace import Workspace

_SCRUBBED_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID",
                 "MLFLOW_RUN_ID", "AITRACE_WORKSPACE", "AITRACE_STEP_ID", "AITRACE_RECORD_ID",
                 "AITRACE_STAGE", "AITRACE_MLFLOW_TRACKING_URI")


class Store:
    """A shared workspace with the embedded MLflow store, and how long creating it took."""

    def __init__(self, ws: Workspace, first_access_s: float) -> None:
        self.ws = ws
        self.first_access_s = first_access_s

    def client(self) -> Any:
        from mlflow import MlflowClient

        from aitrace.evidence.mlflow.link import tracking_uri

        return MlflowClient(tracking_uri(self.ws))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A workspace named ``test-model`` with MLflow on; its SQLite store is created here."""
    from aitrace.evidence.mlflow.link import prepare_store

    with pytest.MonkeyPatch.context() as mp:
        for name in _SCRUBBED_ENV:
            mp.delenv(name, raising=False)
        root = tmp_path_factory.mktemp("mlflow") / "project"
        root.mkdir()
        ws, _ = Workspace.init(root, name="test-model")
        t = time.perf_counter()
        prepare_store(ws)  # imports MLflow, creates the DB and the experiment
        yield Store(Workspace(root), time.perf_counter() - t)


@pytest.fixture
def ws(store: Store, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The shared workspace, with the current directory inside it."""
    monkeypatch.chdir(store.ws.root)
    return store.ws


def _grep_tree(root: Path, needle: bytes) -> list[str]:
    hits = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if needle in path.read_bytes():
                hits.append(str(path))
    return hits


@pytest.fixture
def grep_tree() -> Any:
    """``grep_tree(root, needle)``: files under ``root`` whose bytes contain ``needle``."""
    return _grep_tree
