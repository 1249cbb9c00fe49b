"""``aitrace doctor``: explain damage to a workspace, and repair it without losing anything.

The record is append-only and aitrace never writes a step its readers would refuse, but the
files can still be damaged from outside (a disk error, an editor, a bad restore). A broken
chain stops every append and every bundle, by design. ``diagnose`` says where and why;
``quarantine`` is the recovery that loses nothing: under the append lock it *moves* the damaged
tail (the first unreadable or unlinked step file and every file after it) to
``.aitrace/quarantine/<time>/`` and appends a ``failed`` recovery step that lists each file set
aside with its SHA-256 and size (a ``quarantine`` evidence document), so the chain continues
from the last intact step and anyone holding the set-aside files can prove which they were.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitrace.errors import InputError, WorkspaceError
from aitrace.record.models import STEP_FORMAT, Actor, Command, EvidenceRef, Step
from aitrace.record.stages import EVIDENCE_QUARANTINE, STAGE_IDS, StageId, is_stage
from aitrace.record.times import utc_now
from aitrace.store.files import fsync_dir
from aitrace.store.workspace import WORKSPACE_DIR, ChainBreak, Workspace, new_id

QUARANTINE_DIR = "quarantine"
QUARANTINE_FORMAT = "aitrace.quarantine/v1"
QUARANTINE_MEDIA_TYPE = "application/vnd.aitrace.quarantine+json"


@dataclass(frozen=True)
class SetAside:
    """One step file of the damaged tail: its name, digest and size."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Diagnosis:
    """What is wrong with a workspace, if anything.

    Attributes:
        intact: how many steps, from the first, parse and link.
        head: the digest of the last intact step (``None``: none is).
        broken: where and why the chain breaks (``None``: it holds).
        tail: the step files from the break to the end, in order.
        missing_objects: evidence objects intact steps reference that are not in the store.
        stale_markers: start markers of processes that are gone (recorded as interrupted by
            the next append).
    """

    intact: int
    head: str | None
    broken: ChainBreak | None
    tail: tuple[SetAside, ...] = ()
    missing_objects: tuple[tuple[int, str], ...] = ()
    stale_markers: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        """Whether nothing needs doing (stale markers heal themselves)."""
        return self.broken is None and not self.missing_objects

    def explain(self) -> list[str]:
        """The diagnosis in lines of plain text (what, why, what it means, what to do)."""
        lines: list[str] = []
        if self.broken is None:
            lines.append(f"hash chain: intact ({self.intact} step(s))")
        else:
            b = self.broken
            lines += [f"hash chain: BROKEN at step {b.seq} ({b.file})",
                      f"  why: {b.reason}",
                      "  intact: " + (f"steps 1-{self.intact}" if self.intact else "no step")
                      + (f" (head sha256:{self.head[:16]})" if self.head else ""),
                      f"  damaged tail: {len(self.tail)} file(s)"]
            lines += [f"    {t.name}  sha256:{t.sha256[:16]}  {t.size} B" for t in self.tail]
            lines += ["  effect: `aitrace run`, `check`, `assess` and `bundle` refuse to work on "
                      "a broken chain",
                      "  recovery (nothing is deleted): `aitrace doctor --repair` moves these "
                      f"files to {WORKSPACE_DIR}/{QUARANTINE_DIR}/<time>/ and records a step "
                      "naming each with its digest, so the chain continues verifiably",
                      "  or, if you have an intact copy of these files, restore them instead"]
        for seq, sha in self.missing_objects:
            lines.append(f"evidence: step {seq} references object {sha[:16]}…, which is missing "
                         f"from {WORKSPACE_DIR}/objects/ (restore it from a backup; a bundle "
                         "cannot be made without it)")
        for marker in self.stale_markers:
            lines.append(f"note: step {marker} was interrupted (its process is gone); the next "
                         "append records it as interrupted")
        return lines

    def to_dict(self) -> dict[str, Any]:
        """The ``doctor --json`` document."""
        b = self.broken
        return {"healthy": self.healthy, "intact_steps": self.intact, "head": self.head,
                "broken": None if b is None else {"seq": b.seq, "file": b.file,
                                                  "reason": b.reason},
                "tail": [vars(t) for t in self.tail],
                "missing_objects": [{"seq": s, "sha256": h} for s, h in self.missing_objects],
                "stale_markers": list(self.stale_markers)}


def _tail(ws: Workspace, broken: ChainBreak | None) -> tuple[tuple[Path, SetAside], ...]:
    if broken is None:
        return ()
    out = []
    for seq, path in ws._step_files():
        if seq < broken.seq:
            continue
        data = path.read_bytes()
        out.append((path, SetAside(path.name, hashlib.sha256(data).hexdigest(), len(data))))
    return tuple(out)


def diagnose(ws: Workspace) -> Diagnosis:
    """Read the workspace and say what, if anything, is damaged (changes nothing)."""
    report = ws.chain()
    missing = tuple((s.seq, e.sha256) for s in report.steps for e in s.evidence
                    if not ws.object_path(e.sha256).is_file())
    stale = tuple(p.step_id for p in ws.pending() if not p.alive)
    return Diagnosis(intact=len(report.steps), head=report.head, broken=report.broken,
                     tail=tuple(t for _p, t in _tail(ws, report.broken)),
                     missing_objects=missing, stale_markers=stale)


def _damaged_stage(path: Path) -> StageId | None:
    """The stage a damaged step file still names, when it can be read at all."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    stage = doc.get("stage") if isinstance(doc, dict) else None
    return stage if is_stage(stage) else None


@dataclass(frozen=True)
class Repair:
    """What ``quarantine`` did: where the files went and the recovery step it recorded."""

    directory: Path
    files: tuple[SetAside, ...]
    step: Step


def quarantine(ws: Workspace, *, actor: Actor,
               argv: Sequence[str] = ("aitrace", "doctor", "--repair")) -> Repair:
    """Move the damaged tail aside and record a recovery step naming it (under the lock).

    Raises:
        InputError: the chain is intact, so there is nothing to set aside.
        WorkspaceError: a file could not be moved (nothing is recorded then).
    """
    with ws.lock():
        report = ws.chain()
        if report.broken is None:
            raise InputError("the hash chain is intact: there is nothing to set aside",
                             hint="`aitrace doctor` explains what it checks")
        tail = _tail(ws, report.broken)
        stamp = utc_now().replace(":", "").replace("-", "")
        target = ws.dir / QUARANTINE_DIR / stamp
        target.mkdir(parents=True, exist_ok=False)
        stage = (_damaged_stage(tail[0][0]) if tail else None) or (
            report.steps[-1].stage if report.steps else STAGE_IDS[0])
        try:
            for path, _t in tail:
                os.rename(path, target / path.name)
        except OSError as exc:
            raise WorkspaceError(f"cannot move {path} to {target}: {exc.strerror or exc}",
                                 hint="check the permissions of .aitrace/; files already moved "
                                      f"are in {target}") from None
        fsync_dir(ws.dir / "steps")
        files = tuple(t for _p, t in tail)
        rel = f"{WORKSPACE_DIR}/{QUARANTINE_DIR}/{stamp}"
        doc = {"format": QUARANTINE_FORMAT, "directory": rel, "reason": report.broken.reason,
               "broken_at": report.broken.seq, "after": report.head,
               "files": [vars(f) for f in files]}
        sha, size = ws.put_json_object(doc)
        ref = EvidenceRef(kind=EVIDENCE_QUARANTINE, media_type=QUARANTINE_MEDIA_TYPE, sha256=sha,
                          size=size, name="quarantine",
                          summary={"files": len(files), "directory": rel,
                                   "broken_at": report.broken.seq})
        now = utc_now()
        error = (f"recovery: {len(files)} damaged step file(s) from step {report.broken.seq} on "
                 f"were set aside in {rel} ({report.broken.reason}); their digests are in this "
                 "step's quarantine evidence")

        def build(seq: int, prev: str | None) -> Step:
            return Step(format=STEP_FORMAT, id=new_id(), record_id=ws.record.id, seq=seq,
                        stage=stage, status="failed", started_at=now, ended_at=now, actor=actor,
                        prev=prev, command=Command(argv=tuple(argv), exit_code=0),
                        evidence=(ref,), description="aitrace doctor: set aside the damaged "
                        "tail of the chain", error=error)

        step = ws._append_locked(build)
    return Repair(directory=target, files=files, step=step)


__all__ = ["Diagnosis", "Repair", "SetAside", "diagnose", "quarantine"]
