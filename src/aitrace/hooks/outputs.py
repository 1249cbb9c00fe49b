"""What a step claims about its files, checked while recording rather than at verify.

``aitrace run -o data/raw.csv -- true`` must not claim, unremarked, that the step produced
``data/raw.csv``: the tracker notes each declared output's state as the step starts and compares
it as the step ends. Evidence about bytes that are neither an input nor an output of the step is
reported as unbound by verify; the tracker says so while it records.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def file_state(path: Path) -> tuple[Any, ...] | None:
    """What changes when a file or directory tree is written: inode, size, mtime, ctime."""
    try:
        st = path.stat()
    except OSError:
        return None
    state: list[Any] = [(st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)]
    if path.is_dir():
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for name in sorted(filenames):
                try:
                    f = os.stat(os.path.join(dirpath, name), follow_symlinks=False)
                except OSError:
                    continue
                state.append((dirpath, name, f.st_ino, f.st_size, f.st_mtime_ns, f.st_ctime_ns))
    return tuple(state)


def untouched_warning(paths: list[str]) -> str:
    """The warning for declared outputs the step did not write."""
    return ("declared output(s) not written by this step (unchanged since it started): "
            + ", ".join(paths) + " — recorded as its products, but the step did not produce "
            "them; declare them with --input / inputs= if the step only used them")


def unbound_warning(kind: str, path: str, sha256: str, stage: str) -> str:
    """The warning for evidence about bytes that are not among the step's files."""
    return (f"{kind} evidence about {path} (sha256:{sha256[:12]}…) is not bound: those bytes are "
            f"neither an input nor an output of this {stage} step, so verify will report it — "
            "declare the file with step.input() (or --input), or check a declared input")
