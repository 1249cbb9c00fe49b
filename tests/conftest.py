"""Shared fixtures: an initialised workspace in a temp dir, MLflow kept local and quiet.

How the tests are laid out: ``tests/<package>/`` mirrors ``src/aitrace/<package>/``; tests/cli holds
command-level tests, tests/e2e the real CLI in subprocesses and the example pipeline, and the
top level the tests of the top-level modules (plugins, schemas) and cross-cutting contracts
(goldens, architecture). ``tests`` is a package (every directory has an ``__init__.py``), so test
modules may share a basename and shared code is imported as ``tests.helpers.<topic>``: pyproject
sets pytest's ``pythonpath = ["."]``; nothing relies on pytest's rootdir-relative sys.path
insertion.
Fixtures used by one directory live in its conftest.py; fixtures used by several are defined in
``tests/helpers/<topic>.py`` and imported by name (listed in ``__all__``) by the conftest.py of each
directory that uses them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from aitrace.store.workspace import Workspace

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

ASSETS = Path(__file__).parent / "assets"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true",
                     help="Rewrite tests/assets/goldens/ from the current code.")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> GoldenCheck:
    """``golden(name, data)``: compare bytes with tests/assets/goldens/NAME (or rewrite it)."""
    return GoldenCheck(bool(request.config.getoption("--update-goldens")))


class GoldenCheck:
    def __init__(self, update: bool) -> None:
        self.update = update

    def __call__(self, name: str, data: bytes) -> None:
        path = ASSETS / "goldens" / name
        if self.update:
            path.write_bytes(data)
            return
        assert path.exists(), f"missing golden {path}; run pytest --update-goldens"
        assert data == path.read_bytes(), (
            f"{name} changed: a format we emit is no longer byte-identical to the golden. "
            "If the change is intended (and old records still verify), run "
            "pytest --update-goldens and say so in the changelog.")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's MLflow server, workspace or caches."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID",
                 "MLFLOW_RUN_ID", "AITRACE_MLFLOW_TRACKING_URI", "AITRACE_WORKSPACE",
                 "AITRACE_STEP_ID", "AITRACE_RECORD_ID", "AITRACE_STAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".xdg-cache"))


@pytest.fixture(autouse=True)
def _steps_match_schema(tmp_path: Path) -> Iterator[None]:
    """Every step any test writes validates against the checked-in step schema."""
    yield
    files = list(tmp_path.glob("**/.aitrace/steps/*.json"))
    if not files:
        return
    import json

    from aitrace.schemas import validator

    check = validator("step.schema.json")
    for path in files:
        try:
            doc = json.loads(path.read_bytes())
        except ValueError:
            continue  # tests that corrupt steps on purpose
        if getattr(path, "name", "").startswith(".tmp-"):
            continue
        errors = sorted(check.iter_errors(doc), key=str)
        if errors and not (tmp_path / ".tampered").exists():
            pytest.fail(f"{path} does not match schemas/step.schema.json: {errors[0].message}")


@pytest.fixture
def asset() -> AssetFinder:
    """``asset("name")``: a path under tests/assets/."""
    return AssetFinder()


class AssetFinder:
    def __call__(self, name: str) -> Path:
        path = ASSETS / name
        assert path.exists(), f"missing test asset {path}"
        return path


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """An initialised workspace in ``tmp_path/project`` (cwd), with MLflow linking disabled."""
    from aitrace.store.workspace import Workspace

    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    ws, _ = Workspace.init(root, name="test-model")
    cfg = root / "aitrace.yaml"
    cfg.write_text(cfg.read_text().replace("  enabled: true", "  enabled: false"))
    return Workspace(root)


@pytest.fixture
def mlflow_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """An initialised workspace with MLflow linking on (embedded SQLite store)."""
    from aitrace.store.workspace import Workspace

    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    Workspace.init(root, name="test-model")
    return Workspace(root)


@pytest.fixture(scope="session")
def step_validator() -> Any:
    """A jsonschema validator for the checked-in ``schemas/step.schema.json``."""
    from aitrace.schemas import validator

    return validator("step.schema.json")


@pytest.fixture
def assert_valid_step(step_validator: Any) -> Callable[[dict[str, Any]], None]:
    """Assert that a step document (as written to disk) validates against the step schema."""

    def _check(doc: dict[str, Any]) -> None:
        errors = sorted(step_validator.iter_errors(doc), key=lambda e: list(e.path))
        assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)

    return _check
