"""``aitrace migrate``: carry a format v1 chain over into v2 by appending one step.

History is never rewritten: every v1 step file stays byte for byte as it is (signed bundles and
approvals name those bytes). Instead one *migration step* is appended — format v2, stage
``migration``, status ``succeeded`` — whose

* ``prev`` is the v1 chain head, exactly as a v1 step would link;
* ``migration.steps`` pins every earlier step by its v1 digest *and* by the plain SHA-256 of its
  file, and ``migration.record_file_sha256`` pins ``record.json``: once the migration step is
  vouched for, every v1 file can be checked with ``sha256sum`` alone;
* ``materials``/``products`` bridge the directories the v1 steps recorded: each directory whose
  latest v1 digest (``aitrace.dir/v1``) still matches the folder on disk is listed as a
  material with that digest — under the non-standard key ``aitrace_dir_v1``, the only place
  format v2 keeps aitrace's own directory digest — and as a product with its in-toto
  ``dirHash`` (listing stored), so a later v2 step reading the folder keeps its chain of
  custody. Files need no bridge (their
  ``sha256`` is the same in both formats).

Every later step is format v2. No stage-based rule counts the migration step: it is no stage of
the model's life.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aitrace.errors import InputError
from aitrace.record.models import (
    MIGRATION_STAGE,
    STEP_FORMAT_V1,
    STEP_FORMAT_V2,
    Actor,
    Artifact,
    Command,
    MigratedStep,
    Migration,
    Step,
)
from aitrace.record.refs import is_uri
from aitrace.record.times import utc_now
from aitrace.store.workspace import new_id

if TYPE_CHECKING:
    from aitrace.store.workspace import ChainReport, Workspace


@dataclass(frozen=True)
class MigrationResult:
    """What ``migrate`` appended, and which recorded directories it could not bridge (why)."""

    step: Step
    bridged: tuple[str, ...]
    not_bridged: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, object]:
        """The ``aitrace migrate --json`` document."""
        return {"seq": self.step.seq, "step_id": self.step.id, "digest": self.step.digest,
                "migrated_steps": len(self.step.migration.steps) if self.step.migration else 0,
                "bridged": list(self.bridged),
                "not_bridged": [{"path": p, "reason": r} for p, r in self.not_bridged]}


def _latest_directories(report: ChainReport) -> dict[str, Artifact]:
    """Per path, the directory artifact the latest succeeded v1 step recorded for it."""
    out: dict[str, Artifact] = {}
    for s in report.steps:
        if s.status != "succeeded":
            continue
        for a in (*s.materials, *s.products):
            if a.type == "directory" and a.sha256 and not is_uri(a.path):
                out.pop(a.path, None)
                out[a.path] = a
    return out


def _bridges(ws: Workspace, report: ChainReport) -> tuple[
        list[Artifact], list[Artifact], list[tuple[str, str]]]:
    from aitrace.store.digest import DigestCache, Hasher

    cache = DigestCache(ws.digest_cache_path)
    legacy, current = Hasher(cache=cache, legacy_dirs=True), Hasher(cache=cache)
    materials: list[Artifact] = []
    products: list[Artifact] = []
    skipped: list[tuple[str, str]] = []
    for path, art in sorted(_latest_directories(report).items()):
        where = ws.resolve(path)
        if not where.is_dir():
            skipped.append((path, "the directory is no longer there"))
            continue
        try:
            if legacy.digest(where).sha256 != art.sha256:
                skipped.append((path, "the directory changed since it was recorded"))
                continue
            d = current.digest(where)
        except InputError as exc:
            skipped.append((path, exc.message))
            continue
        ws.put_object(d.listing or b"")
        materials.append(Artifact(path=path, type="directory", aitrace_dir_v1=art.sha256,
                                  size=art.size, role=art.role, license=art.license))
        products.append(Artifact(path=path, type="directory", dirHash=d.sha256, size=d.size,
                                 role=art.role, license=art.license))
    return materials, products, skipped


def migrate(ws: Workspace, actor: Actor) -> MigrationResult:
    """Append the migration step to a format v1 workspace.

    Args:
        ws: the workspace (its chain must be intact and in format v1).
        actor: who migrates (recorded in the step).

    Raises:
        InputError: the chain is already in format v2, or steps are still running (they
            would be recorded in v1 after the migration and refused).
        IntegrityError: the chain is broken (nothing is appended to damaged history).
    """
    with ws.lock():
        ws._reap_locked()  # dead markers become v1 interrupted steps first
        running = [p for p in ws.pending() if p.alive]
        if running:
            raise InputError(f"{len(running)} step(s) are being recorded now "
                             f"({', '.join(p.stage for p in running)})",
                             hint="let them finish, then run `aitrace migrate` again")
        report = ws.chain()
        if report.broken is None and ws.append_format() != STEP_FORMAT_V1:
            raise InputError(f"the record in {ws.root} is already in format v2",
                             hint="nothing to migrate: new steps are written in v2")
        materials, products, skipped = ([], [], []) if report.broken else _bridges(ws, report)
        started = utc_now()
        migration = Migration(
            from_format=STEP_FORMAT_V1,
            steps=tuple(MigratedStep(seq=s.step.seq, digest=s.digest, file_sha256=s.file_sha256)
                        for s in report.stored),
            record_file_sha256=_record_sha256(ws))

        def build(seq: int, prev: str | None) -> Step:
            return Step(
                format=STEP_FORMAT_V2, id=new_id(), record_id=ws.record.id, seq=seq,
                stage=MIGRATION_STAGE, status="succeeded", started_at=started,
                ended_at=utc_now(), actor=actor, prev=prev,
                command=Command(argv=("aitrace", "migrate")),
                materials=tuple(materials), products=tuple(products),
                description="carries the format v1 chain over into format v2 (RFC 8785 step "
                            "files, sha256 of the file as the digest, in-toto dirHash)",
                migration=migration)

        step = ws._append_locked(build)  # refuses a broken chain, naming the damage
    return MigrationResult(step, tuple(a.path for a in products), tuple(skipped))


def _record_sha256(ws: Workspace) -> str:
    import hashlib

    return hashlib.sha256((ws.dir / "record.json").read_bytes()).hexdigest()
