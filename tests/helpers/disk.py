"""Real full disks and file-size limits for the bad-day tests, in child processes.

* ``run_limited``: run a Python snippet or the aitrace CLI under ``RLIMIT_FSIZE`` (what
  ``ulimit -f`` sets): every write past the limit fails with EFBIG. Works unprivileged.
* ``run_on_full_disk``: run a shell script inside a private mount namespace where a tiny
  tmpfs, filled to the last byte, is mounted: every write fails with ENOSPC. Needs
  ``unshare -rm`` (unprivileged user namespaces); ``FULL_DISK`` says whether it works here.
"""

from __future__ import annotations

import functools
import os
import resource
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import aitrace

SRC = str(Path(aitrace.__file__).resolve().parents[1])  # the aitrace the tests import


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    env.update(extra or {})
    return env


def run_limited(args: Sequence[str], *, limit: int, cwd: Path,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m aitrace ARGS`` (or ``python -c`` when ARGS starts with ``-c``) with files
    limited to ``limit`` bytes."""
    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    cmd = [sys.executable, *args] if args[0] == "-c" else [sys.executable, "-m", "aitrace",
                                                           *args]
    return subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limit_files)


@functools.cache
def full_disk_available() -> bool:
    """Whether a tmpfs can be mounted in a private namespace here (``unshare -rm``)."""
    if shutil.which("unshare") is None or not sys.platform.startswith("linux"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c",
                            "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


def run_on_full_disk(script: str, *, project: Path | None, mount: Path,
                     timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (sh) with a full 2 MiB tmpfs at ``mount`` (created; empty outside).

    ``project`` (if given) is copied into ``mount/project`` before the disk is filled; the
    script runs there, with ``$AITRACE`` the CLI to call.
    """
    mount.mkdir(parents=True, exist_ok=True)
    setup = [f"mount -t tmpfs -o size=2m tmpfs {shlex.quote(str(mount))}"]
    if project is not None:
        setup.append(f"cp -a {shlex.quote(str(project))} {shlex.quote(str(mount / 'project'))}")
        setup.append(f"cd {shlex.quote(str(mount / 'project'))}")
    else:
        setup.append(f"cd {shlex.quote(str(mount))}")
    setup.append(f"dd if=/dev/zero of={shlex.quote(str(mount / 'filler'))} bs=4k "
                 "2>/dev/null || true")
    aitrace = f"{shlex.quote(sys.executable)} -m aitrace"
    return subprocess.run(["unshare", "-rm", "sh", "-c", " && ".join(setup) + "\n" + script],
                          env=_env({"AITRACE": aitrace}), capture_output=True, text=True,
                          timeout=timeout)
