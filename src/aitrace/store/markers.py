"""Start markers: the trace a step in progress leaves in ``.aitrace/pending/``.

A step is written only when it ends, so a process killed mid-step would otherwise leave no sign
it ever ran. Its marker (who, where, which pid, the inputs declared so far) lets the next append
turn it into an ``interrupted`` step: nothing is lost and the chain stays linear. A marker is
advisory — a torn or edited one is skipped, never fatal.
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitrace.errors import InputError, WorkspaceError
from aitrace.record.jsonio import canonical_bytes, pretty_bytes, read_json_file
from aitrace.record.models import Actor, Artifact
from aitrace.store.files import TMP_PREFIX, atomic_write


def _process_start(pid: int) -> str | None:
    """Kernel start time of ``pid`` (to tell a live owner from a reused pid), if known."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _process_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start is None or _process_start(pid) in (None, start)


@dataclass(frozen=True)
class Pending:
    """A start marker: a step that began and has not been written yet."""

    step_id: str
    stage: str
    started_at: str
    user: str
    host: str
    pid: int
    pid_start: str | None
    argv: tuple[str, ...] | None
    materials: tuple[dict[str, Any], ...]
    path: Path

    @property
    def alive(self) -> bool:
        """Whether the owning process still runs (markers from other hosts count as alive)."""
        if self.host != socket.gethostname():
            return True
        return _process_alive(self.pid, self.pid_start)


def write_marker(pdir: Path, step_id: str, stage: str, started_at: str, actor: Actor,
                 argv: tuple[str, ...] | None, materials: tuple[Artifact, ...]) -> Path:
    """Write the start marker of a step in progress into ``pdir``; its path."""
    from aitrace.record._model import to_json

    pid = os.getpid()
    marker = {
        "step_id": step_id, "stage": stage, "started_at": started_at,
        "user": actor.user, "host": actor.host, "pid": pid,
        "pid_start": _process_start(pid), "argv": list(argv) if argv is not None else None,
        "materials": to_json(materials),
    }
    # Refused here, before the step starts, if the step could never be written (RFC 8785).
    canonical_bytes(marker, what=f"the {stage} step")
    path = pdir / f"{step_id}.json"
    atomic_write(path, pretty_bytes(marker))
    return path


def remove_marker(pdir: Path, step_id: str) -> None:
    """Remove a start marker once its step is written (or abandoned); gone already is fine."""
    with contextlib.suppress(FileNotFoundError):
        (pdir / f"{step_id}.json").unlink()


def read_markers(pdir: Path) -> list[Pending]:
    """The start markers in ``pdir`` (unreadable ones are skipped, never fatal)."""
    out: list[Pending] = []
    if not pdir.is_dir():
        return out
    for path in sorted(pdir.glob("*.json")):
        if path.name.startswith(TMP_PREFIX):
            continue
        try:
            m = read_json_file(path, error=WorkspaceError, hint="")
            out.append(Pending(
                step_id=str(m["step_id"]), stage=str(m["stage"]),
                started_at=str(m["started_at"]), user=str(m["user"]), host=str(m["host"]),
                pid=int(m["pid"]), pid_start=m.get("pid_start"),
                argv=tuple(m["argv"]) if m.get("argv") is not None else None,
                materials=tuple(m.get("materials") or ()), path=path))
        except (WorkspaceError, KeyError, TypeError, ValueError):
            continue  # a marker torn or edited: never fatal (its step is not lost)
    return out


def marker_materials(entries: tuple[dict[str, Any], ...]) -> tuple[Artifact, ...]:
    """The inputs a start marker lists, keeping only those a step may hold."""
    from aitrace.record._model import from_json

    out = []
    for m in entries:
        try:
            out.append(from_json(Artifact, m, source="start marker"))
        except InputError:
            continue
    return tuple(out)
