"""The CLI starts without importing the heavy pillars (checked with -X importtime, not a clock)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("mlflow", "great_expectations", "pandas")


def _imported(args: list[str], cwd: Path) -> set[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "aitrace", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                modules.add(name)
    assert "aitrace.cli" in modules, "importtime output not parsed"
    return modules


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["log"], ["status"]])
def test_cli_start_imports_no_heavy_pillar(args: list[str], workspace: object) -> None:
    modules = _imported(args, Path.cwd())
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert not heavy, f"`aitrace {' '.join(args)}` imports {heavy[:5]}"


def test_the_console_entry_spares_exit_its_final_cycle_search(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``main()`` as the process entry freezes the heap for shutdown; ``main(argv)`` does not."""
    import gc

    from aitrace.cli import main

    gc.unfreeze()
    try:
        assert main(["--version"]) == 0
        assert gc.get_freeze_count() == 0  # called as a library: nothing changes
        monkeypatch.setattr(sys, "argv", ["aitrace", "--version"])
        assert main() == 0
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert "aitrace" in capsys.readouterr().out
