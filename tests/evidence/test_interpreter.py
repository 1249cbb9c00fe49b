"""Which Python ran a command: found from its command line, then asked with a stdlib probe."""

from __future__ import annotations

import ast
import glob
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from aitrace.evidence._probe import scan
from aitrace.evidence.interpreter import (
    find_interpreter,
    is_python,
    probe,
    probe_source,
    read_shebang,
)


@pytest.fixture(scope="module")
def fake_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real virtualenv (no pip) with a console script, as pip would write one."""
    root = tmp_path_factory.mktemp("venv") / "env"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    tool = root / "bin" / "mlflow"
    tool.write_text(f"#!{root / 'bin' / 'python'}\nimport sys\nsys.exit(0)\n")
    tool.chmod(0o755)
    return root


def _env(venv_root: Path | None = None, **extra: str) -> dict[str, str]:
    path = os.environ.get("PATH", os.defpath)
    if venv_root is not None:
        path = f"{venv_root / 'bin'}{os.pathsep}{path}"
    return {"PATH": path, **extra}


def test_names_of_interpreters() -> None:
    assert all(is_python(n) for n in ("python", "python3", "python3.10", "pypy3", "python3.13t"))
    assert not any(is_python(n) for n in ("mlflow", "pythonista", "bash", "python-config"))


def test_argv_and_python_m(fake_venv: Path, tmp_path: Path) -> None:
    py = fake_venv / "bin" / "python"
    found = find_interpreter([str(py), "train.py"], _env(), tmp_path)
    assert (found.interpreter, found.detected_by) == (py, "argv")
    # By name on the command's own PATH (an activated venv), not aitrace's.
    found = find_interpreter(["python", "-m", "pytest"], _env(fake_venv), tmp_path)
    assert (found.interpreter, found.detected_by) == (py, "argv")
    # A relative path is the command's working directory's.
    found = find_interpreter(["env/bin/python"], _env(), fake_venv.parent)
    assert found.interpreter == py


def test_console_script_shebangs(fake_venv: Path, tmp_path: Path) -> None:
    py = fake_venv / "bin" / "python"
    found = find_interpreter(["mlflow", "ui"], _env(fake_venv), tmp_path)
    assert (found.program, found.interpreter, found.detected_by) == \
        (fake_venv / "bin" / "mlflow", py, "shebang")
    # pip's trampoline for interpreter paths over 127 bytes.
    long = tmp_path / "tool"
    long.write_text(f"#!/bin/sh\n'''exec' \"{py}\" \"$0\" \"$@\"\n' '''\nimport sys\n")
    long.chmod(0o755)
    assert read_shebang(long) == [str(py)]
    assert find_interpreter([str(long)], _env(), tmp_path).interpreter == py
    # #!/usr/bin/env python3: the python3 of the command's PATH.
    env_script = tmp_path / "run.py"
    env_script.write_text("#!/usr/bin/env python3\nprint(1)\n")
    env_script.chmod(0o755)
    found = find_interpreter([str(env_script)], _env(fake_venv), tmp_path)
    assert (found.interpreter, found.detected_by) == (fake_venv / "bin" / "python3", "shebang")


def test_mlflow_run_local_and_other_env_managers(fake_venv: Path, tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text("name: p\nentry_points:\n  main:\n    command: x\n")
    env = _env(fake_venv)
    local = find_interpreter(["mlflow", "run", ".", "--env-manager", "local"], env, tmp_path)
    assert (local.interpreter, local.detected_by) == (fake_venv / "bin" / "python",
                                                     "mlflow-run")
    implied = find_interpreter(["mlflow", "run", "."], env, tmp_path)  # no env declared
    assert implied.detected_by == "mlflow-run"
    (tmp_path / "MLproject").write_text("name: p\npython_env: python_env.yaml\n")
    built = find_interpreter(["mlflow", "run", "."], env, tmp_path)
    assert built.interpreter is None and "virtualenv" in (built.note or "")
    conda = find_interpreter([str(fake_venv / "bin" / "python"), "-m", "mlflow", "run", ".",
                              "--env-manager=conda"], env, tmp_path)
    assert conda.interpreter is None and "conda" in (conda.note or "")


def test_non_python_commands(fake_venv: Path, tmp_path: Path) -> None:
    true = find_interpreter(["true"], _env(), tmp_path)
    assert true.interpreter is None and true.program is not None
    assert "not a Python program" in (true.note or "")
    # With an environment activated, the `python` it would start is recorded, and said so.
    activated = find_interpreter(["true"], _env(fake_venv, VIRTUAL_ENV=str(fake_venv)),
                                 tmp_path)
    assert (activated.interpreter, activated.detected_by) == (fake_venv / "bin" / "python",
                                                             "path")
    assert "activated" in (activated.note or "")
    missing = find_interpreter(["no-such-program-here"], _env(), tmp_path)
    assert missing.program is None and "not found" in (missing.note or "")


def test_probe_lists_another_interpreters_packages(fake_venv: Path, tmp_path: Path) -> None:
    site = next((fake_venv / "lib").glob("python3*/site-packages"))
    dist = site / "tiny_pkg-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-pkg\nVersion: 1.2.3\n"
                                   "License-Expression: MIT\nSummary: a tiny package\n")
    (tmp_path / "json.py").write_text("raise SystemExit('user code was imported')\n")
    answer = probe(fake_venv / "bin" / "python", _env(), tmp_path)  # cwd has a json.py
    names = {d["Name"]: d for d in answer["distributions"]}
    assert names["tiny-pkg"]["Version"] == "1.2.3"
    assert answer["prefix"] == str(fake_venv) and answer["base_prefix"] != answer["prefix"]
    assert "aitrace" not in names
    # The cached key short-cuts the package scan.
    again = probe(fake_venv / "bin" / "python", _env(), tmp_path, known_key=answer["key"])
    assert again["distributions"] is None and again["key"] == answer["key"]


def test_the_probe_is_python_3_8_code() -> None:
    ast.parse(probe_source(), feature_version=(3, 8))
    assert scan()["python"] == ".".join(map(str, sys.version_info[:3]))


OLD_PYTHONS = sorted({*glob.glob(os.path.expanduser("~/.pyenv/versions/3.[89]*/bin/python3.?")),
                      *glob.glob("/usr/bin/python3.[89]")})


@pytest.mark.skipif(not OLD_PYTHONS, reason="no Python 3.8/3.9 on this machine (the source "
                    "is still checked against the 3.8 grammar above)")
@pytest.mark.parametrize("python", OLD_PYTHONS)
def test_the_probe_runs_on_old_pythons(python: str, tmp_path: Path) -> None:
    if subprocess.run([python, "-c", "pass"], capture_output=True, check=False).returncode:
        pytest.skip(f"{python} does not start")
    answer = probe(Path(python), _env(), tmp_path)
    assert answer["python"].startswith(("3.8", "3.9"))
    assert isinstance(answer["distributions"], list)
