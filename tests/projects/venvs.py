"""The test projects' own virtualenvs: built once with the network, then used offline.

A test project (``tests/projects/<name>/``) is a user's project that aitrace did not write; it
brings its own ``requirements.txt`` (e.g. an older MLflow 2.x, pandas and scikit-learn than
aitrace's) and runs in a virtualenv of its own, as a user's project does, while aitrace runs
from its own environment. Building that virtualenv needs PyPI, so it is a separate step —
``make project-venvs`` (which ``make test`` runs first), or
``python -m tests.projects.venvs build house-prices`` — and the tests only look it up:
they stay offline. A built virtualenv is kept in ``.cache/test-venvs/<name>-<key>/`` of the
repository (``AITRACE_TEST_VENVS`` overrides the folder), where ``<key>`` is a digest of the
project's ``requirements.txt`` and the interpreter's version, so editing the requirements
builds a new one.

The interpreter: ``AITRACE_TEST_PYTHON`` if set, else a Python 3.10 when the machine has one
(older than aitrace's own, like the project the issue describes), else the interpreter running
this module.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECTS = Path(__file__).resolve().parent
REPO = PROJECTS.parent.parent
DONE = ".aitrace-test-venv-complete"


def venvs_dir() -> Path:
    """Where built virtualenvs are kept."""
    return Path(os.environ.get("AITRACE_TEST_VENVS") or REPO / ".cache" / "test-venvs")


def project_python() -> Path:
    """The interpreter the projects' virtualenvs are made from (see the module docstring)."""
    chosen = os.environ.get("AITRACE_TEST_PYTHON")
    if chosen:
        return Path(chosen)
    candidates = [*sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10")),
                          reverse=True), shutil.which("python3.10")]
    for candidate in candidates:
        if candidate and _runs(Path(candidate)):
            return Path(candidate)
    return Path(getattr(sys, "_base_executable", sys.executable))


def _runs(python: Path) -> bool:
    """Whether ``python`` starts (a pyenv shim without that version installed does not)."""
    try:
        return subprocess.run([str(python), "-c", "pass"], capture_output=True,
                              timeout=60, check=False).returncode == 0
    except OSError:
        return False


def _version(python: Path) -> str:
    out = subprocess.run([str(python), "-c", "import sys; print(sys.version)"],
                         capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


def venv_path(name: str, python: Path | None = None) -> Path:
    """Where the virtualenv of project ``name`` lives once built."""
    python = python or project_python()
    requirements = (PROJECTS / name / "requirements.txt").read_bytes()
    key = hashlib.sha256(requirements + _version(python).encode()).hexdigest()[:16]
    return venvs_dir() / f"{name}-{key}"


def find(name: str) -> Path | None:
    """The built virtualenv of project ``name``, or ``None`` when it was not built."""
    path = venv_path(name)
    return path if (path / DONE).is_file() else None


def build(name: str) -> Path:
    """Build (once) the virtualenv of project ``name`` from its requirements (needs PyPI)."""
    python = project_python()
    path = venv_path(name, python)
    if (path / DONE).is_file():
        return path
    if path.exists():
        shutil.rmtree(path)  # a build that stopped half-way
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(python), "-m", "venv", str(path)], check=True)
    pip = [str(path / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--quiet", "-r",
                    str(PROJECTS / name / "requirements.txt")], check=True)
    (path / DONE).write_text(_version(python) + "\n")
    return path


def main(argv: list[str]) -> int:
    """``python -m tests.projects.venvs build NAME...`` (or ``where NAME``)."""
    if len(argv) < 2 or argv[0] not in ("build", "where"):
        print("usage: python -m tests.projects.venvs build|where NAME...", file=sys.stderr)
        return 2
    for name in argv[1:]:
        print(build(name) if argv[0] == "build" else (find(name) or "not built"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
