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
