"""Where a record stands: the ten stages, monitoring after them, running steps, the hash chain.

``aitrace status`` prints this; it is computed here, once, from one read of the chain and one
look at the start markers, so every field describes the same moment (a marker's process is
asked whether it is alive exactly once).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from aitrace.record.stages import POST_DEPLOYMENT, STAGES, Stage, StageId
from aitrace.store.workspace import ChainReport, Workspace

PendingState = Literal["running", "interrupted"]


@dataclass(frozen=True)
class PendingStep:
    """A step that has started and is not in the record yet."""

    step_id: str
    stage: str
    started_at: str
    pid: int
    state: PendingState  # interrupted: its process is gone; recorded at the next append
    host: str = ""
    """Where it runs. A marker of another host counts as running: only that machine can see
    whether its process died (and records it as interrupted at its next append)."""


@dataclass(frozen=True)
class StageStatus:
    """One stage of the life cycle as the record shows it now.

    ``state`` is ``missing`` (no step), ``done`` (the latest step succeeded) or the latest
    step's own status (``failed``, ``interrupted``).
    """

    stage: StageId
    name: str
    name_zh: str
    state: str
    latest_step: int | None
    steps: int
    running: int
    interrupted_markers: int


@dataclass(frozen=True)
class RecordStatus:
    """The record's stages, its pending steps and whether its hash chain holds.

    ``stages`` are the ten development stages; ``post_deployment`` the stages after deployment
    (``monitoring``), kept apart so "the ten stages" stays exactly that.
    """

    record_id: str
    name: str
    chain: ChainReport
    stages: tuple[StageStatus, ...]
    pending: tuple[PendingStep, ...]
    post_deployment: tuple[StageStatus, ...] = ()
    total: int | None = None
    """The number of steps when ``chain`` holds none of them (a shared store counts them)."""
    store: str | None = None
    """The shared store holding the record (password hidden), None for the file store."""

    @property
    def step_count(self) -> int:
        """How many steps the record holds."""
        return self.total if self.total is not None else len(self.chain.steps)

    @property
    def intact(self) -> bool:
        """Whether every stored step parsed and linked to its predecessor."""
        return self.chain.intact

    def to_dict(self) -> dict[str, Any]:
        """The ``aitrace status --json`` document (documented, stable)."""
        broken = self.chain.broken
        return {
            "record_id": self.record_id, "name": self.name, "steps": self.step_count,
            "chain_intact": self.chain.intact, "chain_head": self.chain.head,
            "broken": asdict(broken) if broken else None,
            "stages": [asdict(s) for s in self.stages],
            "post_deployment": [asdict(s) for s in self.post_deployment],
            "pending": [asdict(p) for p in self.pending],
            "store": self.store,
        }


def record_status(workspace: Workspace) -> RecordStatus:
    """Read the chain and the start markers once and say where each stage stands.

    A shared store answers from its indexes (counts, latest step per stage, the chain checked
    in the database), so a record of 100,000 steps is not parsed to say where it stands.
    """
    shared = workspace.shared
    summary: dict[str, tuple[int, str, int]] = {}
    total = None
    if shared is None:
        chain = workspace.chain()
        for s in chain.steps:
            summary[s.stage] = (s.seq, s.status, summary.get(s.stage, (0, "", 0))[2] + 1)
    else:
        shared.sync_quietly()
        total, head, broken = shared.remote.quick_check()
        chain = ChainReport((), head, broken)
        summary = shared.remote.stage_summary()
    pending = tuple(PendingStep(p.step_id, p.stage, p.started_at, p.pid,
                                "running" if p.alive else "interrupted", p.host)
                    for p in workspace.pending())

    def of(st: Stage) -> StageStatus:
        latest_seq, status, count = summary.get(st.id, (0, "", 0))
        state = "missing" if not count else ("done" if status == "succeeded" else status)
        markers = [p for p in pending if p.stage == st.id]
        return StageStatus(
            stage=st.id, name=st.name, name_zh=st.name_zh, state=state,
            latest_step=latest_seq or None, steps=count,
            running=sum(1 for p in markers if p.state == "running"),
            interrupted_markers=sum(1 for p in markers if p.state == "interrupted"))

    return RecordStatus(record_id=workspace.record.id, name=workspace.name, chain=chain,
                        stages=tuple(of(st) for st in STAGES), pending=pending,
                        post_deployment=tuple(of(st) for st in POST_DEPLOYMENT), total=total,
                        store=shared.location if shared is not None else None)


__all__ = ["PendingStep", "RecordStatus", "StageStatus", "record_status"]
