"""Declared outputs as they are found at the end of a step: globs, folders, untouched paths.

``aitrace run --output PATTERN`` names what the command will write, often before the names are
known (MLflow picks the artifact folder by run id): a pattern with ``*``, ``?`` or ``[`` is a
glob (``**`` spans folders) expanded when the step ends; a folder is hashed as a whole then.

An output declared when the step starts is looked at then, too: a *fingerprint* of its
metadata (inode, size, modification and change times of the file, or of every entry of the
folder). If the path still has the same fingerprint at the end, the step neither created nor
modified it, which the record says (``unchanged``) — an output that existed before the step is
not evidence of what the step did. The change time (``ctime``) cannot be set by programs, so a
copy that keeps an old modification time still counts as written.

While it records, the tracker also says what verify would later report: a declared output the
step did not write (``untouched_warning``) and evidence about bytes that are neither an input
nor an output of the step (``unbound_warning``).

"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from aitrace.record.refs import file_uri_path, is_remote

_GLOB_CHARS = frozenset("*?[")


def is_glob(text: str) -> bool:
    """Whether a declared output is a pattern rather than one path."""
    return not is_remote(text) and bool(_GLOB_CHARS & set(text))


def _absolute(text: str) -> str:
    local = file_uri_path(text) or text
    return os.path.normpath(os.path.abspath(local))


def fingerprint(path: str) -> str | None:
    """A digest of the metadata of ``path`` (and of everything in it), or ``None`` if absent."""
    h = hashlib.sha256()
    try:
        st = os.lstat(path)
    except OSError:
        return None
    h.update(f"{st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_mode}\n"
             .encode())
    if os.path.isdir(path) and not os.path.islink(path):
        for dirpath, dirs, files in os.walk(path):
            dirs.sort()
            for name in (*sorted(dirs), *sorted(files)):
                full = os.path.join(dirpath, name)
                try:
                    e = os.lstat(full)
                except OSError:
                    continue
                rel = os.path.relpath(full, path)
                h.update(f"{rel}\0{e.st_ino} {e.st_size} {e.st_mtime_ns} {e.st_ctime_ns} "
                         f"{e.st_mode}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


class OutputWatch:
    """What the declared outputs looked like when the step started, to compare at the end."""

    def __init__(self) -> None:
        self._before: dict[str, str] = {}

    def before(self, declared: Iterable[str]) -> None:
        """Fingerprint the outputs declared as the step starts (glob matches included)."""
        for text in declared:
            for match in self.expand(text):
                if not is_remote(match):
                    fp = fingerprint(_absolute(match))
                    if fp is not None:
                        self._before[_absolute(match)] = fp

    @staticmethod
    def expand(text: str) -> list[str]:
        """The paths a declared output names now (a URI as itself; none when absent)."""
        if is_remote(text):
            return [text]
        if is_glob(text):
            return sorted(glob.glob(text, recursive=True))
        return [text] if Path(file_uri_path(text) or text).exists() else []

    def unchanged(self, path: str) -> bool:
        """Whether ``path`` was there when the step started and is exactly as it was."""
        if is_remote(path):
            return False
        key = _absolute(path)
        return key in self._before and fingerprint(key) == self._before[key]

    def produced(self, paths: Iterable[str]) -> list[str]:
        """The paths among ``paths`` that the step created or modified."""
        return [p for p in paths if not self.unchanged(p)]


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
