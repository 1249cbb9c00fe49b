"""Telling a declared output the step wrote from one it merely found in place.

``aitrace run -o data/raw.csv -- true`` must not claim the step produced ``data/raw.csv``: the
tracker notes each declared output's state as the step starts and compares it as the step ends.
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
