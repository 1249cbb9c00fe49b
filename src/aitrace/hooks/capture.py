"""What a step captures about who ran it and which code: the actor and the git state.

Everything here is passed through ``aitrace.hooks.redact`` before it is returned: nothing secret
leaves this module. The machine and its packages are evidence (``aitrace.evidence.environment``).
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
import subprocess
from pathlib import Path

from aitrace.hooks.redact import strip_url_credentials
from aitrace.record.models import Actor, CodeVersion


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


