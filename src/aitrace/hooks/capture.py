"""What a step captures about where and how it ran: actor, git state, machine, packages.

Everything here is passed through ``aitrace.redact`` before it is returned: nothing secret
leaves this module. The package list is large and shared by many steps, so it becomes one
content-addressed evidence object that steps reference by digest.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aitrace.hooks.redact import redact_env, strip_url_credentials
from aitrace.record.models import Actor, CodeVersion, Environment

ENVIRONMENT_FORMAT = "aitrace.environment/v1"
ENVIRONMENT_MEDIA_TYPE = "application/vnd.aitrace.environment+json"

# Variables that shape a run's numerics or placement and hold no secrets.
DEFAULT_ENV_ALLOW: tuple[str, ...] = (
    "CUDA_VISIBLE_DEVICES", "CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED", "OMP_NUM_THREADS",
    "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "TF_DETERMINISTIC_OPS",
    "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV", "CONDA_DEFAULT_ENV", "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "CI",
)


def capture_actor() -> Actor:
    """The OS user and host name."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return Actor(user=user, host=socket.gethostname())


def _git(cwd: Path, *args: str) -> bytes | None:
    try:
        res = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=20,
                             check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout if res.returncode == 0 else None


def capture_code_version(cwd: Path) -> CodeVersion | None:
    """Commit, branch, dirty flag, digest of the uncommitted diff, credential-free remote."""
    top = _git(cwd, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    commit = _git(cwd, "rev-parse", "HEAD")
    branch = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD")
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    dirty = bool(status and status.strip())
    diff_sha = None
    if dirty:
        diff = _git(cwd, "diff", "HEAD", "--binary")
        diff_sha = hashlib.sha256(diff or b"").hexdigest()
    remote = _git(cwd, "remote", "get-url", "origin")
    return CodeVersion(
        commit=commit.decode().strip() if commit else None,
        branch=branch.decode().strip() if branch else None,
        dirty=dirty,
        diff_sha256=diff_sha,
        remote=strip_url_credentials(remote.decode().strip()) if remote else None,
    )


def _memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _license_of(meta: Any) -> str | None:
    expr = meta.get("License-Expression")
    if expr:
        return str(expr).strip()
    lic = meta.get("License")
    if lic and len(lic) < 100 and "\n" not in lic:
        return str(lic).strip()
    classifiers = [c.split("::")[-1].strip() for c in (meta.get_all("Classifier") or [])
                   if c.startswith("License ::")]
    return classifiers[0] if classifiers else None


def _sys_path_state() -> list[Any]:
    """What the installed set depends on: the interpreter and each import directory's mtime.

    Installing, upgrading or removing a distribution creates or deletes its ``*.dist-info``
    directory (and editable installs add ``.pth`` files), which changes the mtime of the
    directory that holds it.
    """
    state: list[Any] = [sys.executable, sys.version]
    for entry in sys.path:
        try:
            st = os.stat(entry or ".")
        except OSError:
            continue
        state.append([entry, st.st_mtime_ns, st.st_ino])
    return state


def installed_distributions(cache_dir: Path | None = None) -> list[dict[str, Any]]:
    """Installed Python distributions: name, version, licence, summary, homepage (sorted).

    With ``cache_dir``, the list is reused while no import directory changed (reading a few
    hundred METADATA files is the slowest part of recording a step).
    """
    import json

    cache = cache_dir / "distributions.json" if cache_dir is not None else None
    key = _sys_path_state()
    if cache is not None:
        try:
            cached = json.loads(cache.read_bytes())
            if cached.get("key") == key:
                return list(cached["distributions"])
        except (OSError, ValueError, KeyError, AttributeError):
            pass
    dists = _scan_distributions()
    if cache is not None:
        from aitrace.store.files import atomic_write

        # A cache we cannot write is only a lost speed-up.
        with contextlib.suppress(OSError):
            atomic_write(cache, json.dumps({"key": key, "distributions": dists}).encode())
    return dists


def _scan_distributions() -> list[dict[str, Any]]:
    from importlib import metadata

    seen: dict[str, dict[str, Any]] = {}
    for dist in metadata.distributions():
        meta: Any = dist.metadata
        name = meta.get("Name")
        if not name:
            continue
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        entry: dict[str, Any] = {"name": name, "version": dist.version}
        lic = _license_of(meta)
        if lic:
            entry["license"] = lic
        if meta.get("Summary"):
            entry["summary"] = str(meta.get("Summary"))[:300]
        home = meta.get("Home-page")
        if not home:
            for url in meta.get_all("Project-URL") or []:
                label, _, link = url.partition(",")
                if label.strip().lower() in ("homepage", "home", "source", "repository"):
                    home = link.strip()
                    break
        if home:
            entry["homepage"] = strip_url_credentials(home)
        seen[key] = entry
    return sorted(seen.values(), key=lambda d: d["name"].lower())


def capture_environment(
        env_allow: Iterable[str] = (),
        distributions: list[dict[str, Any]] | None = None) -> tuple[Environment, dict[str, Any]]:
    """The machine summary for the step, and the full environment evidence document.

    ``distributions`` may be passed in when the (slow) package scan already ran elsewhere.
    """
    names = sorted(set(DEFAULT_ENV_ALLOW) | set(env_allow))
    variables = redact_env(names)
    doc: dict[str, Any] = {
        "format": ENVIRONMENT_FORMAT,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count() or 1,
        "memory_bytes": _memory_bytes(),
        "distributions": installed_distributions() if distributions is None else distributions,
    }
    env = Environment(
        python=doc["python"], implementation=doc["implementation"], platform=doc["platform"],
        machine=doc["machine"], cpu_count=doc["cpu_count"], memory_bytes=doc["memory_bytes"],
        variables=variables,
    )
    return env, doc
