"""Fixtures for the data-quality tests: GX loaded once, a project with data and suites."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from quality_helpers import CLEAN_CSV, SUITE, failing_suite, privacy_csv

if TYPE_CHECKING:
    from aitrace.store.workspace import Workspace


@pytest.fixture(scope="session")
def gx_loaded() -> Any:
    """GX imported (with aitrace's expectations registered) once for the session."""
    from aitrace.evidence.gx import _context as _gx

    return _gx


@pytest.fixture
def data_dir(workspace: Workspace) -> Path:
    """An initialised project (cwd) with clean.csv, privacy.csv and suites/*.json."""
    d = workspace.root
    (d / "clean.csv").write_text(CLEAN_CSV)
    (d / "privacy.csv").write_text(privacy_csv())
    (d / "suites").mkdir()
    (d / "suites" / "clean.json").write_text(json.dumps(SUITE, indent=2))
    (d / "suites" / "strict.json").write_text(json.dumps(failing_suite(), indent=2))
    return d


