"""The shared record store on PostgreSQL: one record, many machines, one linear chain.

psycopg 3 directly rather than SQLAlchemy: the store is a handful of fixed statements whose
locking (``pg_advisory_xact_lock`` / ``SELECT … FOR UPDATE``) and isolation (READ COMMITTED)
must be exactly what was measured; an ORM would add an abstraction over that without removing
any of it, and psycopg's errors (``OperationalError``, ``UniqueViolation``) are what the spool
and the idempotent append need to see. psycopg is imported on first use only.

An append is one transaction: take the record's lock, read the head (the step with the highest
seq), build the step for ``(head.seq + 1, head.digest)``, validate it exactly as the file store
does, insert the evidence objects it references, insert the step, drop its marker, commit. A
writer killed at any instant leaves the transaction uncommitted: no partial step.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any, Literal

from aitrace.errors import InputError, IntegrityError, WorkspaceError
from aitrace.record.chain import StoredStep, encoding_problem, link_problem, parse_step, step_digest
from aitrace.record.jsonio import canonical_bytes
from aitrace.record.models import STEP_FORMAT_V2, Actor, Artifact, Record, Step, StepFormat
from aitrace.store.interface import (
    ChainBreak,
    ChainReport,
    RecordStore,
    StepBuilder,
    StepPage,
    StoreUnavailable,
    redact_url,
    validated_step,
)
from aitrace.store.markers import Pending
from aitrace.store.postgres.schema import ensure_schema

LockKind = Literal["advisory", "row"]
DEFAULT_LOCK: LockKind = "advisory"
PAGE_ROWS = 2000
_HINT = ("check that the database runs and the URL in aitrace.yaml (`store:`) or AITRACE_STORE "
         "is right; the password comes from PGPASSWORD, ~/.pgpass or a service file")


def _lock_key(record_id: str) -> int:
    """A signed 64-bit advisory-lock key for a record (a collision only serialises two records)."""
    return int.from_bytes(hashlib.sha256(record_id.encode()).digest()[:8], "big", signed=True)


def step_objects(step: Step) -> set[str]:
    """The digests of the evidence objects a step references (they travel with the step)."""
    out = {e.sha256 for e in step.evidence}
    if step.environment is not None and step.environment.distributions_sha256:
        out.add(step.environment.distributions_sha256)
    for a in (*step.materials, *step.products):
        if a.dirHash is not None:
            out.add(a.dirHash)
        if a.type == "directory" and a.sha256:
            out.add(a.sha256)
    return out


class PostgresStore(RecordStore):
    """A record in a PostgreSQL database, addressed by ``url`` and the record's name."""

    def __init__(self, url: str, name: str, *, lock: LockKind = DEFAULT_LOCK,
                 local_object: Callable[[str], bytes | None] = lambda _sha: None,
                 workspace: str | None = None) -> None:
        self.url = url
        self.name = name
        self.lock_kind = lock
        self.workspace = workspace
        self._local_object = local_object
        self._conn: Any = None
        self._record: Record | None = None

    @property
    def location(self) -> str:
        """The store as messages name it: the URL with any password hidden."""
        return redact_url(self.url)

    # ------------------------------------------------------------------ connection

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        detail = redact_url(str(exc).strip().splitlines()[0] if str(exc).strip() else
                            type(exc).__name__)
        return StoreUnavailable(f"the record store {self.location} cannot be reached: {detail}",
                                hint=_HINT)

    def connect(self) -> Any:
        """The open connection (made on first use; the schema is created once per process)."""
        if self._conn is not None and not self._conn.closed:
            return self._conn
        try:
            import psycopg
        except ImportError:  # pragma: no cover - a dependency of aitrace
            from aitrace.errors import MissingDependencyError

            raise MissingDependencyError("the PostgreSQL store needs psycopg 3",
                                         hint="pip install 'aitrace[postgres]'") from None
        try:
            self._conn = psycopg.connect(self.url, connect_timeout=5, autocommit=True,
                                         application_name="aitrace")
            ensure_schema(self._conn)
        except psycopg.OperationalError as exc:
            self._conn = None
            raise self._unavailable(exc) from None
        except psycopg.ProgrammingError as exc:
            self._conn = None
            raise WorkspaceError(f"the record store {self.location} refused aitrace's schema: "
                                 f"{redact_url(str(exc))}",
                                 hint="the database user needs CREATE on the database") from None
        return self._conn

    def close(self) -> None:
        """Close the connection (a later call reconnects)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Any]:
        import psycopg

        conn = self.connect()
        try:
            with conn.transaction():
                yield conn
        except psycopg.OperationalError as exc:
            self.close()
            raise self._unavailable(exc) from None

    # ------------------------------------------------------------------ the record

    def create_or_join(self, record: Record) -> tuple[Record, bool]:
        """The record named ``self.name``: made from ``record`` if new; (record, created)."""
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO aitrace_records (id, name, format, body) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (name) DO NOTHING RETURNING id",
                (record.id, self.name, record.format, record.file_bytes)).fetchone()
        self._record = None
        return self.record, row is not None

    @property
    def record(self) -> Record:
        """The record named ``self.name`` in the store."""
        if self._record is None:
            with self._tx() as conn:
                row = conn.execute("SELECT body FROM aitrace_records WHERE name = %s",
                                   (self.name,)).fetchone()
            if row is None:
                raise WorkspaceError(f"the record store {self.location} holds no record named "
                                     f"{self.name!r}",
                                     hint=f"run `aitrace init --store URL --name {self.name}`")
            doc = json.loads(bytes(row[0]))
            self._record = Record.from_dict(doc, source=f"{self.location} record {self.name}")
        return self._record

    def append_format(self) -> StepFormat:
        """Shared records are format v2 only (they start at v2, nothing migrates them)."""
        return STEP_FORMAT_V2

    # ------------------------------------------------------------------ reading

    def _parse(self, seq: int, data: bytes) -> tuple[Step, Any]:
        raw = parse_step(data, "the step", error=IntegrityError, hint="")
        return Step.from_dict(raw, source=f"{self.location} step {seq}"), raw

    def _rows(self, sql: str, params: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        import psycopg

        conn = self.connect()
        try:
            with conn.transaction(), conn.cursor(name="aitrace_rows") as cur:
                cur.itersize = PAGE_ROWS
                cur.execute(sql, params)
                yield from cur
        except psycopg.OperationalError as exc:
            self.close()
            raise self._unavailable(exc) from None

    def chain(self) -> ChainReport:
        """Every step with its bytes, recomputed as the file store does (for bundle, verify)."""
        rid = self.record.id
        stored: list[StoredStep] = []
        prev: str | None = None
        for expected, (seq, body) in enumerate(self._rows(
                "SELECT seq, body FROM aitrace_steps WHERE record_id = %s ORDER BY seq",
                (rid,)), start=1):
            data = bytes(body)
            where = f"{self.location} step {seq}"

            def broken(reason: str, step_id: str | None, seq: int = seq, where: str = where,
                       prev: str | None = prev) -> ChainReport:
                return ChainReport(tuple(s.step for s in stored), prev,
                                   ChainBreak(seq, step_id, where, reason), tuple(stored))

            try:
                step, raw = self._parse(seq, data)
            except (IntegrityError, InputError) as exc:
                return broken(exc.message, None)
            if seq != expected or step.seq != seq:
                return broken(f"sequence gap: expected step {expected}, found {step.seq}",
                              step.id)
            if (problem := encoding_problem(data, raw)) is not None:
                return broken(f"the step {problem}", step.id)
            if step.prev != prev:
                return broken(f"prev is {step.prev} but the step before hashes to {prev}",
                              step.id)
            if (problem := link_problem(stored[-1].step if stored else None, step)) is not None:
                return broken(f"step {seq} {problem}", step.id)
            if step.record_id != rid:
                return broken(f"belongs to record {step.record_id}, not {rid}", step.id)
            prev = step_digest(data, raw)
            stored.append(StoredStep(data, step, prev))
        return ChainReport(tuple(s.step for s in stored), prev, None, tuple(stored))

    def quick_check(self) -> tuple[int, str | None, ChainBreak | None]:
        """(steps, head digest, first break) computed in the database, without parsing steps.

        Each step's digest is the sha256 of its bytes and its prev the digest of the step
        before, in gap-free seq order — what the chain needs, checked for 100,000 steps in a
        fraction of a second. Field-level checks stay with ``chain()`` (bundle, verify).
        """
        rid = self.record.id
        with self._tx() as conn:
            count, head = conn.execute(
                "SELECT count(*), (SELECT digest FROM aitrace_steps WHERE record_id = %s "
                "ORDER BY seq DESC LIMIT 1) FROM aitrace_steps WHERE record_id = %s",
                (rid, rid)).fetchone()
            bad = conn.execute(
                "SELECT seq, step_id, n, prev, before, digest = encode(sha256(body), 'hex') "
                "FROM (SELECT seq, step_id, prev, digest, body, row_number() OVER w AS n, "
                "lag(digest) OVER w AS before FROM aitrace_steps WHERE record_id = %s "
                "WINDOW w AS (ORDER BY seq)) t WHERE seq <> n OR prev IS DISTINCT FROM before "
                "OR digest <> encode(sha256(body), 'hex') ORDER BY seq LIMIT 1",
                (rid,)).fetchone()
        if bad is None:
            return int(count), head, None
        seq, step_id, n, prev, before, digest_ok = bad
        reason = (f"sequence gap: expected step {n}" if seq != n else
                  "the stored digest is not the sha256 of the step" if not digest_ok else
                  f"prev is {prev} but the step before hashes to {before}")
        return int(count), head, ChainBreak(int(seq), step_id, f"{self.location} step {seq}",
                                            reason)

    def page(self, start: int, limit: int) -> StepPage:
        """Steps from seq ``start`` on, at most ``limit`` of them."""
        rid = self.record.id
        with self._tx() as conn:
            rows = conn.execute("SELECT seq, body FROM aitrace_steps WHERE record_id = %s AND "
                                "seq >= %s ORDER BY seq LIMIT %s", (rid, start, limit)).fetchall()
            total = conn.execute("SELECT coalesce(max(seq), 0) FROM aitrace_steps WHERE "
                                 "record_id = %s", (rid,)).fetchone()[0]
        return StepPage(tuple(self._parse(seq, bytes(b))[0] for seq, b in rows), int(total))

    def stage_summary(self) -> dict[str, tuple[int, str, int]]:
        """Each stage → (latest seq, its status, number of steps), from the stage index."""
        rid = self.record.id
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT DISTINCT ON (stage) stage, seq, status, count(*) OVER (PARTITION BY "
                "stage) FROM aitrace_steps WHERE record_id = %s ORDER BY stage, seq DESC",
                (rid,)).fetchall()
        return {r[0]: (int(r[1]), r[2], int(r[3])) for r in rows}

    def find_step(self, step_id: str) -> Step | None:
        """The step with this id (or None)."""
        rid = self.record.id
        with self._tx() as conn:
            row = conn.execute("SELECT seq, body FROM aitrace_steps WHERE record_id = %s AND "
                               "step_id = %s", (rid, step_id)).fetchone()
        return None if row is None else self._parse(int(row[0]), bytes(row[1]))[0]

    # ------------------------------------------------------------------ appending

    def _take_lock(self, conn: Any, rid: str) -> None:
        if self.lock_kind == "row":
            conn.execute("SELECT 1 FROM aitrace_records WHERE id = %s FOR UPDATE", (rid,))
        else:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(rid),))

    def append(self, build: StepBuilder) -> Step:
        """Append ``build(seq, prev)`` at the head in one transaction; idempotent per step id."""
        import psycopg

        rid = self.record.id
        step: Step | None = None
        try:
            with self._tx() as conn:
                self._take_lock(conn, rid)
                head = conn.execute("SELECT seq, body FROM aitrace_steps WHERE record_id = %s "
                                    "ORDER BY seq DESC LIMIT 1", (rid,)).fetchone()
                previous = self._parse(int(head[0]), bytes(head[1]))[0] if head else None
                seq = previous.seq + 1 if previous else 1
                prev = previous.digest if previous else None
                step = build(seq, prev)
                if step.seq != seq or step.prev != prev or step.record_id != rid:
                    raise AssertionError("builder ignored the seq/prev/record it was given")
                problem = link_problem(previous, step)
                if problem is None and step.format != STEP_FORMAT_V2:
                    problem = f"is format {step.format}; a shared record takes {STEP_FORMAT_V2}"
                if problem is not None:
                    raise WorkspaceError(f"refusing to append step {seq} to {self.location}: "
                                         f"it {problem}", hint="record the step again")
                step = validated_step(step)
                step.check_format()
                data = step.file_bytes
                self._insert_objects(conn, step)
                conn.execute(
                    "INSERT INTO aitrace_steps (record_id, seq, step_id, digest, prev, stage, "
                    "status, host, workspace, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
                    "%s)", (rid, seq, step.id, hashlib.sha256(data).hexdigest(), prev,
                            step.stage, step.status, step.actor.host, self.workspace, data))
                conn.execute("DELETE FROM aitrace_markers WHERE record_id = %s AND step_id = %s",
                             (rid, step.id))
        except psycopg.errors.UniqueViolation:
            # The step id is in the record already (a spooled step synced twice, a marker
            # reaped by two processes): the append happened; return what is stored.
            if step is not None and (found := self.find_step(step.id)) is not None:
                return found
            raise
        return step

    def _insert_objects(self, conn: Any, step: Step) -> None:
        for sha in sorted(step_objects(step)):
            data = self._local_object(sha)
            if data is None or hashlib.sha256(data).hexdigest() != sha:
                continue  # never stored locally (a listing of an old format): bundles skip it
            conn.execute("INSERT INTO aitrace_objects (sha256, size, body) VALUES (%s, %s, %s) "
                         "ON CONFLICT (sha256) DO NOTHING", (sha, len(data), data))

    # ------------------------------------------------------------------ objects

    def put_object(self, data: bytes) -> str:
        """Store an object in the database directly (steps carry theirs at append)."""
        sha = hashlib.sha256(data).hexdigest()
        with self._tx() as conn:
            conn.execute("INSERT INTO aitrace_objects (sha256, size, body) VALUES (%s, %s, %s) "
                         "ON CONFLICT (sha256) DO NOTHING", (sha, len(data), data))
        return sha

    def read_object(self, sha256: str) -> bytes:
        """An object's bytes from the database, checked against its digest."""
        with self._tx() as conn:
            row = conn.execute("SELECT body FROM aitrace_objects WHERE sha256 = %s",
                               (sha256,)).fetchone()
        if row is None:
            raise WorkspaceError(f"evidence object {sha256} is in neither this workspace nor "
                                 f"the record store {self.location}",
                                 hint="append the step that made it from the machine that has it")
        data = bytes(row[0])
        if hashlib.sha256(data).hexdigest() != sha256:  # pragma: no cover - a CHECK forbids it
            raise IntegrityError(f"evidence object {sha256} in {self.location} does not match "
                                 "its digest", hint="restore the database from a backup")
        return data

    # ------------------------------------------------------------------ markers

    def begin(self, step_id: str, stage: str, started_at: str, actor: Actor,
              argv: tuple[str, ...] | None, materials: tuple[Artifact, ...]) -> None:
        """Publish a start marker so every machine sees the step in progress."""
        import os

        from aitrace.record._model import to_json
        from aitrace.store.markers import _process_start

        body = {"argv": list(argv) if argv is not None else None,
                "materials": to_json(materials), "pid_start": _process_start(os.getpid())}
        canonical_bytes(body, what=f"the {stage} step")
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO aitrace_markers (record_id, step_id, stage, started_at, user_name, "
                "host, pid, workspace, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                (self.record.id, step_id, stage, started_at, actor.user, actor.host,
                 os.getpid(), self.workspace, json.dumps(body)))

    def end(self, step_id: str) -> None:
        """Withdraw a start marker."""
        with self._tx() as conn:
            conn.execute("DELETE FROM aitrace_markers WHERE record_id = %s AND step_id = %s",
                         (self.record.id, step_id))

    def pending(self) -> list[Pending]:
        """Every machine's start markers for this record."""
        from pathlib import PurePosixPath

        with self._tx() as conn:
            rows = conn.execute(
                "SELECT step_id, stage, started_at, user_name, host, pid, body FROM "
                "aitrace_markers WHERE record_id = %s ORDER BY started_at, step_id",
                (self.record.id,)).fetchall()
        return [Pending(step_id=r[0], stage=r[1], started_at=r[2], user=r[3], host=r[4],
                        pid=int(r[5]), pid_start=(r[6] or {}).get("pid_start"),
                        argv=tuple(r[6]["argv"]) if (r[6] or {}).get("argv") is not None
                        else None, materials=tuple((r[6] or {}).get("materials") or ()),
                        path=PurePosixPath(f"{self.location}#marker/{r[0]}"))  # type: ignore[arg-type]
                for r in rows]

