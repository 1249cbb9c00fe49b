"""Which artifacts a record releases, and what a bundle of it references and signs.

The rules here are shared by the writer (what to sign) and the verifier (what the signature
must cover), so both always agree on them.
"""

from __future__ import annotations

from collections.abc import Sequence

from aitrace._version import __version__
from aitrace.bundle.format import (
    MANIFEST_MEMBER,
    TOOL_NAME,
    Predicate,
    PredicateStep,
    RecordRef,
    Released,
    ReleaseSource,
    ToolInfo,
)
from aitrace.record.models import Step
from aitrace.record.stages import EVIDENCE_SBOM, RELEASE_STAGES, STAGE_IDS

# =========================================================================== shared rules


def release_source(steps: Sequence[Step]) -> tuple[Step | None, ReleaseSource | None]:
    """The step whose products are released, and where it came from.

    The latest succeeded deployment step, else optimization, else training (``None`` when none
    succeeded).
    """
    for stage in RELEASE_STAGES:
        found = [s for s in steps if s.stage == stage and s.status == "succeeded"]
        if found:
            step = found[-1]
            fallback = stage != "deployment"
            note = (f"no succeeded deployment step: the released artifacts are the products of "
                    f"the latest {stage} step (step {step.seq})") if fallback else None
            return step, ReleaseSource(stage=stage, step_id=step.id, seq=step.seq,
                                       fallback=fallback, note=note)
    return None, None


def released_artifacts(step: Step | None) -> tuple[Released, ...]:
    """The hashed products of the release step, in order, without repeats."""
    if step is None:
        return ()
    out: list[Released] = []
    seen: set[tuple[str, str]] = set()
    for p in step.products:
        cid = p.content_id
        if cid and (p.path, cid) not in seen and p.path != MANIFEST_MEMBER:
            seen.add((p.path, cid))
            out.append(Released(path=p.path, sha256=p.sha256, dirHash=p.dirHash))
    return tuple(out)


def release_sbom_ref(steps: Sequence[Step]) -> tuple[Step, str] | None:
    """(step, object sha256) of the released model's SBOM, if any.

    The latest SBOM evidence of the latest succeeded deployment step, else optimization, else
    training.
    """
    for stage in RELEASE_STAGES:
        for s in reversed([s for s in steps if s.stage == stage and s.status == "succeeded"]):
            sboms = [e for e in s.evidence if e.kind == EVIDENCE_SBOM]
            if sboms:
                return s, sboms[-1].sha256
    return None


def referenced_objects(steps: Sequence[Step]) -> dict[str, Step]:
    """Every evidence object the steps reference, mapped to the first step referencing it.

    Evidence, environment captures, and (format v2) the listing of every directory artifact,
    stored under its dirHash.
    """
    out: dict[str, Step] = {}
    for s in steps:
        for e in s.evidence:
            out.setdefault(e.sha256, s)
        if s.environment is not None and s.environment.distributions_sha256:
            out.setdefault(s.environment.distributions_sha256, s)
        for a in (*s.materials, *s.products):
            if a.dirHash is not None:
                out.setdefault(a.dirHash, s)
    return out


def listing_objects(steps: Sequence[Step]) -> dict[str, Step]:
    """The folder listings a bundle carries when the workspace has them, by folder digest.

    Each produced folder's manifest (``aitrace.dir/v1``) is an object named by the folder's own
    digest (``aitrace.hooks.tracker``): chain of custody reads it to account for a file inside
    the folder. Records made before listings were kept have none; that is not an error.
    """
    out: dict[str, Step] = {}
    for s in steps:
        for p in s.products:
            if p.type == "directory" and p.sha256:
                out.setdefault(p.sha256, s)
    return out


def predicate_for(record: RecordRef, steps: Sequence[Step]) -> Predicate:
    """The predicate summarising ``steps`` (what the bundle signs)."""
    rel_step, source = release_source(steps)
    present = {s.stage for s in steps if s.status == "succeeded"}
    return Predicate(
        record=record, tool=ToolInfo(name=TOOL_NAME, version=__version__),
        steps=tuple(PredicateStep(seq=s.seq, id=s.id, stage=s.stage, status=s.status,
                                  digest=s.digest) for s in steps),
        chain_head=steps[-1].digest,
        stages_present=tuple(st for st in STAGE_IDS if st in present),
        released=released_artifacts(rel_step), created_at=steps[-1].ended_at,
        released_from=source)



