"""What views say about steps beyond their content.

Where an unreadable step member was, and which steps only add evidence to their stage (a check
or an assessment, not a re-run).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aitrace.record.models import Step

_CHECK_KINDS = frozenset({"gx-validation", "risk-register", "self-check"})


def adds_evidence_only(step: Step) -> bool:
    """Whether a step only adds evidence to its stage (``aitrace check``, ``aitrace assess``).

    Such a step checks or assesses what the stage made; it is not a re-run of the stage.
    """
    return (any(e.kind in _CHECK_KINDS for e in step.evidence)
            and all((a.role or "") == "governance" for a in step.products))


@dataclass(frozen=True)
class UnreadableStep:
    """A step member of a bundle that could not be read: shown where it was, as failed.

    ``stage`` is the stage it names when that still reads; ``placed`` says how its place was
    found (``"stage"``: its own; ``"nearest"``: a damaged stage id read as the nearest one;
    ``"neighbour"``: the stage of the step before it).
    """

    seq: int
    member: str
    problem: str
    stage: str
    placed: str

    @property
    def label(self) -> str:
        """``step 7 (steps/000007.json)`` with how its stage is known."""
        how = {"stage": "", "nearest": f", stage unreadable: probably {self.stage}",
               "neighbour": f", stage unknown; it follows step {self.seq - 1} in the chain"
               }[self.placed]
        return f"step {self.seq} ({self.member}{how})"


def unreadable_steps(entries: Sequence[Any]) -> list[UnreadableStep]:
    """The step members that could not be parsed, each placed in the stage it most likely was.

    A damaged stage id is read as the nearest stage id; with none near, the step sits with the
    step before it — so a view shows it where it was in the chain instead of dropping it.
    """
    import difflib

    from aitrace.record.stages import STAGE_IDS, is_stage

    out: list[UnreadableStep] = []
    previous: str = str(STAGE_IDS[0])
    for seq, e in enumerate(entries, start=1):
        if e.step is not None:
            previous = e.step.stage
            continue
        raw = e.data.get("stage") if isinstance(e.data, Mapping) else None
        stage: str
        if is_stage(raw):
            stage, placed = str(raw), "stage"
        elif isinstance(raw, str) and (near := difflib.get_close_matches(
                raw, STAGE_IDS, n=1, cutoff=0.7)):
            stage, placed = near[0], "nearest"
        else:
            stage, placed = previous, "neighbour"
        problem = re.sub(r"^invalid document in .+?: member '[^']+': ", "",
                         e.problem or "unreadable")
        out.append(UnreadableStep(seq=seq, member=e.member, problem=problem, stage=stage,
                                  placed=placed))
    return out
