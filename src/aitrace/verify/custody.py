"""Chain of custody: every input of a step was produced by an earlier step or declared external."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aitrace.verify.checks import abbrev

if TYPE_CHECKING:
    from aitrace.record.models import Step


# Stages where an input may enter the record from outside (declared with an origin), whatever
# its role; at other stages only code, configuration and documents may (see custody_gaps).
# Monitoring is one: production data, traces and review sheets come from the world in use.
EXTERNAL_DATA_STAGES = frozenset({"problem", "collection", "selection", "design", "monitoring"})
EXTERNAL_ANY_STAGE_ROLES = frozenset({"code", "config", "document", "guideline"})



# =========================================================================== custody


@dataclass(frozen=True)
class CustodyGap:
    """A step input that no earlier step produced and that was not declared external."""

    step: Step
    path: str
    sha256: str | None
    message: str


def custody_gaps(steps: Sequence[Step]) -> list[CustodyGap]:
    """Chain of custody over succeeded steps, in chain order.

    An input (material) of a succeeded step is accounted for when:

    * an earlier succeeded step produced the same bytes (same sha256; a renamed copy counts), or
      took them in as a declared external source; or
    * it is itself a declared external source (``origin`` set) at ``problem``, ``collection``,
      ``selection``, ``design`` or ``monitoring`` — where data, base models, documents,
      configuration and production samples legitimately enter a record — or, at any stage,
      with role ``code``, ``config``, ``document`` or ``guideline`` (scripts and settings
      are not data).

    Anything else is a gap, named with the step that last produced that path, e.g.
    ``training input data/clean.csv sha256:ab12… was not produced by any earlier step
    (cleaning produced sha256:cd34…)``. Failed and interrupted steps neither produce nor are
    checked: what they left is not part of the record's lineage.
    """
    known: set[str] = set()
    by_path: dict[str, tuple[str, str | None]] = {}
    gaps: list[CustodyGap] = []
    for step in steps:
        if step.status != "succeeded":
            continue
        for m in step.materials:
            if m.sha256 is not None and m.sha256 in known:
                continue
            external = m.origin is not None and (
                step.stage in EXTERNAL_DATA_STAGES or (m.role or "") in EXTERNAL_ANY_STAGE_ROLES)
            if external:
                continue
            label = f"{step.stage} input {m.path} {abbrev(m.sha256)}"
            if m.origin is not None:
                why = (f"{label} declares an external origin ({m.origin!r}), but external "
                       f"data and models must enter the record at problem, collection, "
                       f"selection, design or monitoring (or be role code/config/document)")
            elif m.sha256 is None:
                why = f"{label} has no digest and declares no external origin"
            else:
                prior = by_path.get(m.path)
                if prior is not None:
                    why = (f"{label} was not produced by any earlier step ({prior[0]} produced "
                           f"{abbrev(prior[1])})")
                else:
                    why = (f"{label} was not produced by any earlier step and is not a declared "
                           "external source")
            gaps.append(CustodyGap(step=step, path=m.path, sha256=m.sha256, message=why))
        for m in step.materials:
            if m.sha256 is not None:
                known.add(m.sha256)
        for p in step.products:
            if p.sha256 is not None:
                known.add(p.sha256)
            by_path[p.path] = (step.stage, p.sha256)
    return gaps




