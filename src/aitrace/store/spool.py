"""The local spool of a shared record: steps that ended while the store was unreachable.

A step's digest covers its ``seq`` and ``prev``, and while the database is out of reach nobody
here knows the head: other machines may be appending. So a spooled step is **not final**: it is
kept in ``.aitrace/spool/`` (one file per step, written atomically, named so they sort in the
order they ended) with everything but its chain position, which it receives at sync time.
``aitrace sync`` — and every later command that reaches the store — appends the spooled steps in
order, each at the real head then (seq and prev set, digest computed, validated as any append),
so the chain stays linear and one. What the step says about the work (times, inputs, outputs,
evidence, its id) is never changed; ``origin.spooled_at`` / ``origin.synced_at`` say that it
waited. Appends are idempotent per step id, so a sync interrupted after the commit and before
the file's removal does not append the step twice.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aitrace.errors import WorkspaceError
from aitrace.record.jsonio import pretty_bytes, read_json_file
from aitrace.record.models import Origin, Step
from aitrace.record.times import utc_now
from aitrace.store.files import TMP_PREFIX, atomic_write
from aitrace.store.interface import StepBuilder, StoreUnavailable, validated_step

if TYPE_CHECKING:
    from aitrace.store.postgres.store import PostgresStore


@dataclass(frozen=True)
class Spooled:
    """One step waiting in the spool: its file and the step without its chain position."""

    path: Path
    draft: Step


class Spool:
    """``.aitrace/spool/`` of one workspace."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def put(self, draft: Step) -> Path:
        """Keep ``draft`` (validated already) until it can be appended."""
        path = self.directory / f"{time.time_ns():020d}-{draft.id}.json"
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write(path, pretty_bytes({"step": draft.to_dict()}))
        return path

    def entries(self) -> list[Spooled]:
        """The spooled steps in the order they ended."""
        if not self.directory.is_dir():
            return []
        out = []
        for path in sorted(self.directory.glob("*.json")):
            if path.name.startswith(TMP_PREFIX):
                continue
            doc = read_json_file(path, error=WorkspaceError,
                                 hint=f"{path} is damaged; it holds a step not yet appended — "
                                      "restore it or move it aside")
            out.append(Spooled(path, Step.from_dict(doc.get("step") if isinstance(doc, dict)
                                                    else None, source=str(path))))
        return out


class SpoolingStore:
    """A shared store with a local spool in front of its appends."""

    def __init__(self, remote: PostgresStore, spool: Spool, *, location: str, workspace: str,
                 host: str) -> None:
        self.remote = remote
        self.spool = spool
        self.location = location
        self.workspace = workspace
        self.host = host
        self.checked = False
        """Whether the workspace has checked that the store holds its record."""

    def _origin(self, step: Step) -> Step:
        if step.origin is not None:
            return step
        return step.with_(origin=Origin(workspace=self.workspace, host=self.host))

    def append(self, build: StepBuilder) -> Step:
        """Append at the store's head, after anything spooled; spool it if unreachable."""
        try:
            self.sync()
            return self.remote.append(lambda seq, prev: self._origin(build(seq, prev)))
        except StoreUnavailable as exc:
            return self._keep(build, exc)

    def _keep(self, build: StepBuilder, exc: StoreUnavailable) -> Step:
        draft = build(1, None)
        draft = draft.with_(origin=Origin(workspace=self.workspace, host=self.host,
                                          spooled_at=utc_now()))
        draft = validated_step(draft)
        draft.check_format()
        _ = draft.file_bytes  # refused now, not at sync, if it can never be written
        path = self.spool.put(draft)
        print(f"aitrace: warning: {exc.message}; the {draft.stage} step {draft.id} is kept in "
              f"{path.parent.name}/{path.name} and is appended by `aitrace sync` (or the next "
              "command that reaches the store)", file=sys.stderr)
        return draft

    def sync(self) -> list[Step]:
        """Append every spooled step in order at the real head; the steps as appended.

        Raises ``StoreUnavailable`` (leaving the rest spooled, in order) if the store is out of
        reach.
        """
        done = []
        for entry in self.spool.entries():
            draft = entry.draft
            kept = draft.origin or Origin(workspace=self.workspace, host=self.host)
            origin = Origin(workspace=kept.workspace, host=kept.host,
                            spooled_at=kept.spooled_at, synced_at=utc_now())

            def build(seq: int, prev: str | None, draft: Step = draft,
                      origin: Origin = origin) -> Step:
                return draft.with_(seq=seq, prev=prev, origin=origin)

            done.append(self.remote.append(build))
            with contextlib.suppress(FileNotFoundError):
                entry.path.unlink()
        return done

    def sync_quietly(self) -> None:
        """Sync if the store is reachable; a spool that must wait is not an error here."""
        if self.spool.entries():
            with contextlib.suppress(StoreUnavailable):
                self.sync()
