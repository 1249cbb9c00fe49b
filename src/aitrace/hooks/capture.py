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
import sys
from collections.abc import Callable
from pathlib import Path

from aitrace.hooks.redact import redact_argv, strip_url_credentials
from aitrace.record.models import Actor, CodeVersion, Command, Subject


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


def capture_process_command(relpath: Callable[[str], str],
                            digest: Callable[[Path], str]) -> Command:
    """The command line of this process and the ``__main__`` file it runs, with its digest.

    What an in-process step (``aitrace.stage()`` in a script) ran, as ``aitrace run`` records
    its child: ``python train.py --epochs 3`` (secrets redacted) plus the SHA-256 of
    ``train.py`` as it was when the step started, so a reader knows which code ran.
    """
    argv = redact_argv([Path(sys.executable).name or "python", *sys.argv])
    script = None
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if isinstance(main_file, str) and Path(main_file).is_file():
        try:
            script = Subject(path=relpath(main_file), sha256=digest(Path(main_file)))
        except OSError:
            script = None
    return Command(argv=tuple(argv), cwd=relpath(os.getcwd()), script=script)

