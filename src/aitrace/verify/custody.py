"""Chain of custody: every input of a step was produced by an earlier step or declared external."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aitrace.record.listing import ObjectReader, directory_files
from aitrace.record.refs import SHA256, digest_label
from aitrace.record.stages import SOURCE_ANY_STAGE_ROLES, SOURCE_STAGES

if TYPE_CHECKING:
    from aitrace.record.models import Step

__all__ = ["CustodyGap", "custody_gaps", "directory_files"]

# Stages where an input may enter the record from outside (declared with an origin), whatever
# its role; at other stages only code, configuration and documents may (see custody_gaps).
EXTERNAL_DATA_STAGES = frozenset(SOURCE_STAGES)
EXTERNAL_ANY_STAGE_ROLES = frozenset(SOURCE_ANY_STAGE_ROLES)



# =========================================================================== custody


@dataclass(frozen=True)
class CustodyGap:
    """A step input that no earlier step produced and that was not declared external."""

    step: Step
    path: str
    sha256: str | None
    message: str


def custody_gaps(steps: Sequence[Step],
                 read_object: ObjectReader | None = None) -> list[CustodyGap]:
    """Chain of custody over succeeded steps, in chain order.

    An input (material) of a succeeded step is accounted for when:

    * an earlier succeeded step produced the same bytes (same sha256 — for a directory the same
      dirHash; a renamed copy counts), also as a file inside a folder it produced (found in the
      folder's listing through ``read_object``, see ``aitrace.record.listing``), or took them
      in as a declared external source; or
    * it is itself a declared external source (``origin`` set) at ``problem``, ``collection``,
      ``selection`` or ``design`` — where data, base models, documents and configuration
      legitimately enter a record — or, at any stage, with role ``code``, ``config``,
      ``document`` or ``guideline`` (scripts and settings are not data).

    Anything else is a gap, named with the step that last produced that path, e.g.
    ``training input data/clean.csv sha256:ab12… was not produced by any earlier step
    (cleaning produced sha256:cd34…)``. Failed and interrupted steps neither produce nor are
    checked: what they left is not part of the record's lineage.
    """
    known: set[str] = set()
    by_path: dict[str, tuple[str, str]] = {}
    gaps: list[CustodyGap] = []
    for step in steps:
        if step.status != "succeeded":
            continue
        for m in step.materials:
            if m.content_id is not None and m.content_id in known:
                continue
            external = m.origin is not None and (
                step.stage in EXTERNAL_DATA_STAGES or (m.role or "") in EXTERNAL_ANY_STAGE_ROLES)
            if external:
                continue
            label = f"{step.stage} input {m.path} {_label(m.digest)}"
            if m.origin is not None:
                why = (f"{label} declares an external origin ({m.origin!r}), but external "
                       f"data and models must enter the record at problem, collection, "
                       f"selection or design (or be role code/config/document)")
            elif m.content_id is None:
                why = f"{label} has no digest and declares no external origin"
            else:
                prior = by_path.get(m.path)
                if prior is not None:
                    why = (f"{label} was not produced by any earlier step ({prior[0]} produced "
                           f"{prior[1]})")
                else:
                    why = (f"{label} was not produced by any earlier step and is not a declared "
                           "external source")
            gaps.append(CustodyGap(step=step, path=m.path,
                                   sha256=m.digest[1] if m.digest else None, message=why))
        for m in step.materials:
            if m.content_id is not None:
                known.add(m.content_id)
        for p in step.products:
            if p.content_id is not None:
                known.add(p.content_id)
            by_path[p.path] = (step.stage, _label(p.digest))
            for rel, sha in (directory_files(step, p, read_object) or {}).items():
                known.add(f"{SHA256}:{sha}")
                by_path[f"{p.path}/{rel}"] = (step.stage, digest_label(SHA256, sha))
    return gaps


def _label(digest: tuple[str, str] | None) -> str:
    return digest_label(*digest) if digest else "no digest"




