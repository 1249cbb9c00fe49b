"""Keeping private keys out of version control, and naming key files sensibly (``keygen``).

A record's keys usually live next to the project, and a private key committed to git is a
release key anyone can use. ``keygen`` therefore writes a ``.gitignore`` for ``*.key`` into a
key directory it creates, and warns when the private key lands in a git work tree that does
not ignore it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

DEFAULT_KEY_NAME = "signing"
GITIGNORE = "# private keys never belong in version control (written by aitrace keygen)\n*.key\n"


def key_prefix(text: str) -> tuple[Path, bool]:
    """The file prefix for ``-o`` as typed, and whether its directory does not exist yet.

    ``-o keys/`` (a trailing slash or an existing directory) means "in that directory":
    ``keys/signing.key`` and ``keys/signing.pub``, not ``keys.key``.
    """
    prefix = Path(text)
    if text.endswith(("/", os.sep)) or prefix.is_dir():
        prefix = prefix / DEFAULT_KEY_NAME
    return prefix, not prefix.parent.exists()


def _git_ignores(path: Path) -> bool | None:
    """Whether git ignores ``path``: ``None`` when it is not in a git work tree (or no git)."""
    try:
        proc = subprocess.run(["git", "check-ignore", "-q", path.name], cwd=path.parent,
                              capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode == 0:
        return True
    return False if proc.returncode == 1 else None


def guard_private_key(private_key: Path, *, new_dir: bool) -> list[str]:
    """Protect a new private key from being committed; return what was done or is advised."""
    notes: list[str] = []
    directory = private_key.parent
    ignore = directory / ".gitignore"
    if new_dir and not ignore.exists():
        ignore.write_text(GITIGNORE)
        notes.append(f"note: wrote {ignore} so git ignores the private key(s) in {directory}")
    if _git_ignores(private_key) is False:
        notes.append(f"warning: {private_key} is inside a git work tree and not ignored — never "
                     f"commit it: add '*.key' to .gitignore (echo '*.key' >> "
                     f"{directory / '.gitignore'}) or keep private keys outside the project")
    return notes
