"""Which Python ran a command: found from the command line, never assumed to be aitrace's.

``aitrace run -- CMD`` records the environment of the interpreter that actually executed CMD,
found without running the user's code (:func:`find_interpreter`):

* ``argv`` — CMD is a Python interpreter (``python``, ``python3.10``, ``.venv/bin/python``,
  also with ``-m module``), looked up in the command's own ``PATH`` and working directory;
* ``shebang`` — CMD is a script whose ``#!`` line names a Python, directly, through
  ``/usr/bin/env``, or through pip's ``/bin/sh`` trampoline for long paths (every console
  script of a virtualenv, e.g. ``.venv/bin/mlflow``);
* ``mlflow-run`` — CMD is ``mlflow run`` with the ``local`` environment manager (given, or
  implied by an ``MLproject`` that declares no environment): the entry point runs under the
  ``python`` of the command's ``PATH``; with another manager MLflow builds an environment of
  its own, which is said and not guessed;
* ``path`` — CMD is another program (a shell script, ``make``) run with a virtualenv or conda
  environment activated (``VIRTUAL_ENV`` / ``CONDA_PREFIX``): the ``python`` it would start by
  name is recorded, and the note says it is that kind of inference.

Anything else is a non-Python command: its program is recorded by path and digest, with a note.
Then :func:`probe` asks the interpreter itself, with aitrace's stdlib-only probe
(``aitrace.evidence._probe``), for its version and installed distributions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitrace.errors import AitraceError

_PYTHON_NAME = re.compile(r"^(python|pypy)(\d+(\.\d+)*)?[mtw]?(\.exe)?$")
_ENV_MANAGERS = ("local", "virtualenv", "conda", "uv", "docker")


class ProbeError(AitraceError):
    """The command's interpreter could not be asked what it holds."""


@dataclass(frozen=True)
class Found:
    """What the command line says about the interpreter that ran it."""

    program: Path | None  # the executable the command started (absolute), if found
    interpreter: Path | None  # the Python that ran the user's code, if any
    detected_by: str | None  # argv, shebang, mlflow-run, path
    launcher: Path | None = None  # the Python of the program itself, when it differs (mlflow)
    note: str | None = None


def is_python(path: Path | str) -> bool:
    """Whether a file name is a Python interpreter's (``python3.10``, ``pypy3``…)."""
    return bool(_PYTHON_NAME.match(Path(path).name))


def _which(name: str, env: Mapping[str, str], cwd: Path) -> Path | None:
    if os.sep in name:
        candidate = Path(name) if os.path.isabs(name) else cwd / name
        return Path(os.path.normpath(candidate)) if os.access(candidate, os.X_OK) and \
            candidate.is_file() else None
    found = shutil.which(name, path=env.get("PATH", os.defpath))
    return Path(os.path.abspath(found)) if found else None


def read_shebang(program: Path) -> list[str] | None:
    """The words of a ``#!`` line (pip's ``/bin/sh`` trampoline resolved), or ``None``."""
    try:
        with program.open("rb") as fh:
            head = fh.read(1024)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    lines = head.decode("utf-8", errors="replace").splitlines()
    words = lines[0][2:].strip().split()
    if words and Path(words[0]).name == "sh" and len(lines) > 1 and \
            lines[1].startswith("'''exec'"):
        # pip/distlib for paths over 127 bytes: '''exec' "/long/path/python" "$0" "$@"
        m = re.match(r"'''exec' \"?([^\"]+?)\"? ", lines[1])
        if m:
            return [m.group(1)]
    return words or None


def _shebang_python(words: Sequence[str], env: Mapping[str, str], cwd: Path) -> Path | None:
    if not words:
        return None
    first = words[0]
    if Path(first).name == "env":
        rest = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        return _which(rest[0], env, cwd) if rest and is_python(rest[0]) else None
    return Path(first) if is_python(first) else None


def _mlflow_run(args: Sequence[str], env: Mapping[str, str], cwd: Path) -> tuple[bool, str]:
    """Whether ``mlflow ARGS`` runs an entry point in the calling environment, and why not."""
    if not args or args[0] != "run":
        return False, ""
    manager: str | None = None
    for i, a in enumerate(args):
        if a.startswith("--env-manager="):
            manager = a.split("=", 1)[1]
        elif a == "--env-manager" and i + 1 < len(args):
            manager = args[i + 1]
    if manager is None:
        positional = [a for a in args[1:] if not a.startswith("-")]
        project = cwd / positional[0] if positional else cwd
        declared = _declared_env(project / "MLproject")
        manager = "local" if declared is None else declared
    if manager == "local":
        return True, ""
    return False, f"mlflow run --env-manager {manager} builds an environment of its own for " \
                  "the entry point; it is not captured (use --env-manager local to record it)"


def _declared_env(mlproject: Path) -> str | None:
    try:
        text = mlproject.read_text(encoding="utf-8")
    except OSError:
        return None
    for key, manager in (("python_env", "virtualenv"), ("conda_env", "conda"),
                         ("docker_env", "docker")):
        if re.search(rf"^{key}\s*:", text, re.MULTILINE):
            return manager
    return None


def _module(args: Sequence[str]) -> tuple[str | None, list[str]]:
    """``(module, its arguments)`` of ``python [options] -m module args``."""
    for i, a in enumerate(args):
        if a == "-m" and i + 1 < len(args):
            return args[i + 1], list(args[i + 2:])
        if a.startswith("-m") and len(a) > 2:
            return a[2:], list(args[i + 1:])
        if not a.startswith("-"):
            return None, []
    return None, []


def find_interpreter(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> Found:
    """The interpreter that ran ``argv`` in ``env`` and ``cwd`` (see the module docstring)."""
    if not argv:
        return Found(None, None, None, note="no command")
    program = _which(argv[0], env, cwd)
    if program is None:
        return Found(None, None, None, note=f"{argv[0]} was not found on the command's PATH")
    interpreter: Path | None = None
    how: str | None = None
    args: list[str] = list(argv[1:])
    tool = program.name
    if is_python(program):
        interpreter, how = program, "argv"
        module, args = _module(argv[1:])
        tool = module or ""
    else:
        words = read_shebang(program)
        shebang = _shebang_python(words, env, cwd) if words else None
        if shebang is not None:
            interpreter, how = shebang, "shebang"
    if tool == "mlflow":
        local, why = _mlflow_run(args, env, cwd)
        if local:
            entry = _which("python", env, cwd) or _which("python3", env, cwd)
            if entry is not None:
                return Found(program, entry, "mlflow-run", launcher=interpreter,
                             note="the entry point's `python` on the command's PATH "
                                  "(mlflow run --env-manager local)")
        elif why:
            return Found(program, None, None, launcher=interpreter, note=why)
    if interpreter is not None:
        return Found(program, interpreter, how)
    if env.get("VIRTUAL_ENV") or env.get("CONDA_PREFIX"):
        active = _which("python", env, cwd) or _which("python3", env, cwd)
        if active is not None:
            return Found(program, active, "path",
                         note=f"{program.name} is not a Python program; the activated "
                              "environment's `python` (what the command starts by that name) "
                              "is recorded")
    return Found(program, None, None,
                 note=f"{program.name} is not a Python program; no Python environment recorded")


def probe_source() -> str:
    """The probe's source, to run as ``python -c`` by another interpreter."""
    return (Path(__file__).with_name("_probe.py")).read_text(encoding="utf-8")


def probe(interpreter: Path, env: Mapping[str, str], cwd: Path,
          known_key: Any = None, timeout: float = 60) -> dict[str, Any]:
    """Run the probe with ``interpreter`` in the command's ``env`` and ``cwd``."""
    clean = {k: v for k, v in env.items() if k not in ("PYTHONSTARTUP", "PYTHONINSPECT")}
    clean["PYTHONIOENCODING"] = "utf-8"
    try:
        done = subprocess.run(  # noqa: S603 - the user's own interpreter, our own source
            [str(interpreter), "-c", probe_source()], input=json.dumps(known_key).encode(),
            capture_output=True, env=clean, cwd=cwd, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProbeError(f"cannot run {interpreter} to list its packages ({exc})") from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", errors="replace").strip().splitlines()[-1:] or [""]
        raise ProbeError(f"{interpreter} could not list its packages "
                         f"(exit {done.returncode}: {tail[0][:200]})")
    try:
        doc = json.loads(done.stdout.decode("utf-8"))
    except ValueError:
        raise ProbeError(f"{interpreter} printed something other than the probe's JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("python"), str):
        raise ProbeError(f"{interpreter} gave an unexpected probe answer")
    return doc
