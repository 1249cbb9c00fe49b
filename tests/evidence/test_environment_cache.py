"""The package-scan cache key: stable while a step writes files, changed by an install."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from aitrace.evidence._probe import state as _sys_path_state


def test_files_written_in_the_working_directory_keep_the_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["", *sys.path])  # as under ``python -m``
    before = _sys_path_state()
    (tmp_path / "model.pkl").write_bytes(b"weights")  # what a step does
    (tmp_path / "mlflow.db").write_bytes(b"")
    assert _sys_path_state() == before
    (tmp_path / "plugin-1.0.dist-info").mkdir()  # an install into the working directory
    assert _sys_path_state() != before


def test_an_install_elsewhere_on_sys_path_changes_the_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    before = _sys_path_state()
    (site / "pkg-1.0.dist-info").mkdir()
    st = os.stat(site)
    os.utime(site, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # coarse clocks
    assert _sys_path_state() != before
