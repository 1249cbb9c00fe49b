"""Fixtures of the test projects: their own virtualenv, and aitrace from its own environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.projects.venvs import PROJECTS, REPO, find

_LAUNCHER = """#!{python}
# aitrace as a user installs it: its own interpreter and packages (like pipx), nothing of it
# on the project's PYTHONPATH.
import sys
sys.path[:0] = {paths!r}
from aitrace.cli import main
sys.exit(main())
"""


@dataclass(frozen=True)
class Project:
    """A copy of a test project, its virtualenv activated, and ``aitrace`` on its PATH."""

    root: Path
    venv: Path
    env: Mapping[str, str]

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def sh(self, *argv: str, env: Mapping[str, str] | None = None,
           check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command in the project, as its user would in a shell with the venv active."""
        done = subprocess.run(list(argv), cwd=self.root, env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=900, check=False)
        if check and done.returncode != 0:
            pytest.fail(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-3000:]}\n"
                        f"{done.stderr[-3000:]}")
        return done

    def last_line(self, *argv: str) -> str:
        """The last line a command printed (the scripts print their MLflow run id last)."""
        return self.sh(*argv).stdout.strip().splitlines()[-1]


def project_venv(name: str) -> Path:
    """The project's built virtualenv; without it the tests cannot run offline."""
    venv = find(name)
    if venv is not None:
        return venv
    why = (f"the {name} test project's virtualenv is not built: run `make project-venvs` "
           f"(or python -m tests.projects.venvs build {name}) once, with PyPI reachable")
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


def make_project(name: str, where: Path, bin_dir: Path) -> Project:
    """Copy project ``name`` to ``where`` with an environment that activates its venv."""
    venv = project_venv(name)
    shutil.copytree(PROJECTS / name, where)
    bin_dir.mkdir(exist_ok=True)
    launcher = bin_dir / "aitrace"
    if not launcher.exists():
        launcher.write_text(_LAUNCHER.format(
            python=sys.executable,
            paths=[str(REPO / "src"), str(REPO / "plugins" / "aitrace-sklearn" / "src")]))
        launcher.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "AITRACE_", "PYTHON", "VIRTUAL_ENV", "CONDA"))}
    env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{bin_dir}{os.pathsep}{env.get('PATH', '')}",
                "VIRTUAL_ENV": str(venv), "GIT_PYTHON_REFRESH": "quiet",
                # the developer's own setting, as a user would have it (MLflow 2.x ignores it)
                "MLFLOW_DISABLE_TELEMETRY": "true"})
    return Project(root=where, venv=venv, env=env)
