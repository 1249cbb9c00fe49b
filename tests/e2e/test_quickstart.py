"""The README's Quickstart, run literally: a newcomer who pastes it must succeed.

The ``sh`` block under "## Quickstart" is extracted from README.md and run by bash with
``set -euo pipefail`` in an empty directory; ``aitrace`` and ``python`` on its PATH are this
interpreter. Then what the README says a partial record's default verify prints is checked
against what it does print.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def _blocks(section: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", section, flags=re.DOTALL)


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("quickstart")
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for name, argv in (("aitrace", f'"{sys.executable}" -m aitrace'),
                       ("python", f'"{sys.executable}"')):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec {argv} "$@"\n')
        shim.chmod(0o755)
    script = _blocks(_section("Quickstart"), "sh")[0]
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp),
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return tmp / "wine-demo"


def test_the_quickstart_succeeds_as_written(quickstart: Path) -> None:
    assert (quickstart / "wine-demo.aitrace").is_file()
    assert (quickstart / "report.html").is_file()
    assert (quickstart / "suites" / "clean.json").is_file()
    # the private key is kept out of git by the directory keygen created
    assert "*.key" in (quickstart / "keys" / ".gitignore").read_text()


def test_a_partial_record_verifies_as_the_readme_says(quickstart: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "aitrace", "verify", "wine-demo.aitrace",
                           "--key", "keys/release.pub"], cwd=quickstart, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 1, proc.stdout[-3000:]
    said = _blocks(_section("Quickstart"), "text")[0].strip().splitlines()
    printed = proc.stdout.strip().splitlines()[-len(said):]
    for readme_line, line in zip(said, printed, strict=True):
        # the README elides key ids and long lists with "…": compare what it does say
        for part in (p.strip() for p in readme_line.split("…")):
            assert part in line, (readme_line, line)
