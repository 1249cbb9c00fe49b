"""What earlier bundle checks learnt, for later ones (member digests, parsed steps, signers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aitrace.errors import AitraceError
from aitrace.verify.checks import abbrev

if TYPE_CHECKING:
    from aitrace.bundle.format import Predicate
    from aitrace.bundle.read import OpenedBundle
    from aitrace.record.models import Step
    from aitrace.signing.dsse import Statement


@dataclass
class _State:
    """What earlier checks learnt, for later ones."""

    digests: dict[str, tuple[str, int]] = field(default_factory=dict)
    statement: Statement | None = None
    predicate: Predicate | None = None
    steps: list[Step] = field(default_factory=list)
    steps_ok: bool = False
    signers: tuple[str, ...] = ()
    subjects: tuple[tuple[str, str, str], ...] = ()
    """The statement's subjects as ``(name, algorithm, hex)``."""
    altered: set[str] = field(default_factory=set)  # members whose digest is not the manifest's

    def unreadable_note(self, ob: OpenedBundle) -> str:
        """Why later findings may follow from steps that could not be read (or "")."""
        bad = [(i, e.member) for i, e in enumerate(ob.step_entries, start=1) if e.step is None]
        if not bad:
            return ""
        return " — " + ", ".join(f"step {i} ({m})" for i, m in bad) + (
            " could not be read, so what it holds is unknown" if len(bad) == 1
            else " could not be read, so what they hold is unknown")


def _member_digest(ob: OpenedBundle, name: str, st: _State) -> tuple[str, int]:
    if name not in st.digests:
        st.digests[name] = ob.archive.sha256(name)
    return st.digests[name]




def _pairs(pairs: Sequence[tuple[str, str]]) -> str:
    return "[" + ", ".join(f"{n} {abbrev(s)}" for n, s in pairs) + "]"


def _safe_steps(ob: OpenedBundle) -> list[Step]:
    try:
        return [e.step for e in ob.step_entries if e.step is not None]
    except AitraceError:
        return []




