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

    @property
    def intact(self) -> bool:
        """Whether every stored step parsed and linked to its predecessor."""
        return self.chain.intact

    def to_dict(self) -> dict[str, Any]:
        """The ``aitrace status --json`` document (documented, stable)."""
        broken = self.chain.broken
        return {
            "record_id": self.record_id, "name": self.name, "steps": len(self.chain.steps),
            "chain_intact": self.chain.intact, "chain_head": self.chain.head,
            "broken": asdict(broken) if broken else None,
            "stages": [asdict(s) for s in self.stages],
            "post_deployment": [asdict(s) for s in self.post_deployment],
            "pending": [asdict(p) for p in self.pending],
        }


def record_status(workspace: Workspace) -> RecordStatus:
    """Read the chain and the start markers once and say where each stage stands."""
    chain = workspace.chain()
    pending = tuple(PendingStep(p.step_id, p.stage, p.started_at, p.pid,
                                "running" if p.alive else "interrupted")
                    for p in workspace.pending())

    def of(st: Stage) -> StageStatus:
        of_stage = [s for s in chain.steps if s.stage == st.id]
        latest = of_stage[-1] if of_stage else None
        state = "missing" if latest is None else (
            "done" if latest.status == "succeeded" else latest.status)
        markers = [p for p in pending if p.stage == st.id]
        return StageStatus(
            stage=st.id, name=st.name, name_zh=st.name_zh, state=state,
            latest_step=latest.seq if latest else None, steps=len(of_stage),
            running=sum(1 for p in markers if p.state == "running"),
            interrupted_markers=sum(1 for p in markers if p.state == "interrupted"))

    return RecordStatus(record_id=workspace.record.id, name=workspace.name, chain=chain,
                        stages=tuple(of(st) for st in STAGES), pending=pending,
                        post_deployment=tuple(of(st) for st in POST_DEPLOYMENT))


__all__ = ["PendingStep", "RecordStatus", "StageStatus", "record_status"]
