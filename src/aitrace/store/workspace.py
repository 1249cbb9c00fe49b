"""The on-disk workspace ``.aitrace/``: append-only, hash-chained, crash- and concurrency-safe.

Layout::

    aitrace.yaml                      project configuration (next to .aitrace/)
    .aitrace/record.json              the record's identity (written once)
    .aitrace/steps/000001.json        one immutable step per file, in chain order
    .aitrace/objects/sha256/ab/<hex>  content-addressed evidence
    .aitrace/pending/<step-id>.json   start markers of steps in progress
    .aitrace/lock                     flock()ed while appending
    .aitrace/cache/                   digest cache (safe to delete)

Appends take an exclusive lock, read the chain head, and write the next step atomically, so two
processes appending at once produce two steps in one linear chain. A step file holds exactly
the bytes its format defines (v2: RFC 8785; ``aitrace.record.chain`` has the rules across
formats); new workspaces write format v2, a v1 workspace goes on writing v1 until
``aitrace migrate`` (``aitrace.store.migrate``) appends the step that carries it over.

A step in progress is only a start marker; a process killed at any moment leaves either no step
or a whole one, and a marker whose process is gone is reported as ``interrupted`` (and turned
into an interrupted step by the next append, so nothing is lost).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitrace.errors import InputError, IntegrityError, WorkspaceError
from aitrace.record.chain import (
    StoredStep,
    encoding_problem,
    link_problem,
    migration_problems,
    parse_step,
    step_digest,
)
from aitrace.record.jsonio import (
    DEFAULT_LIMITS,
    document_bytes,
    parse_untrusted,
    read_json_file,
)
from aitrace.record.models import (
    RECORD_FORMAT,
    RECORD_FORMAT_V1,
    STEP_FORMAT_V1,
    STEP_FORMAT_V2,
    Actor,
    Artifact,
    Record,
    Step,
    StepFormat,
)
from aitrace.record.refs import bytes_match, file_uri_path
from aitrace.record.times import utc_now
from aitrace.store.config import CONFIG_NAME, DEFAULT_CONFIG, Config, load_config
from aitrace.store.files import atomic_write, create_exclusive
from aitrace.store.markers import (
    Pending,
    marker_materials,
    read_markers,
    remove_marker,
    write_marker,
)

WORKSPACE_DIR = ".aitrace"
ENV_WORKSPACE = "AITRACE_WORKSPACE"
_STEP_FILE = re.compile(r"^(\d{6,})\.json$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
DOCTOR_HINT = ("the history is damaged; `aitrace doctor` explains it and `aitrace doctor --repair` "
               "sets the damaged steps aside without deleting anything")


def new_id() -> str:
    """A time-ordered, collision-resistant id (48-bit ms clock + 64 random bits, hex)."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


@dataclass(frozen=True)
class ChainBreak:
    """Where and why the hash chain does not hold."""

    seq: int
    step_id: str | None
    file: str
    reason: str


@dataclass(frozen=True)
class ChainReport:
    """Result of recomputing the hash chain over the stored steps."""

    steps: tuple[Step, ...]
    head: str | None
    broken: ChainBreak | None
    stored: tuple[StoredStep, ...] = ()
    """The intact steps with the exact bytes read (bundling copies these, never re-reads)."""

    @property
    def intact(self) -> bool:
        """Whether every step parsed and linked to its predecessor."""
        return self.broken is None


class Workspace:
    """An ``.aitrace/`` directory and its project root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / WORKSPACE_DIR
        self._config: Config | None = None
        self._record: Record | None = None

    # ------------------------------------------------------------------ locating / creating

    @classmethod
    def init(cls, root: Path, name: str | None = None) -> tuple[Workspace, bool]:
        """Create ``aitrace.yaml`` and ``.aitrace/`` under ``root``; return (workspace, created).

        Idempotent: an existing workspace and configuration are left untouched.
        """
        root = root.resolve()
        ws = cls(root)
        created = False
        name = name or root.name or "model"
        cfg = root / CONFIG_NAME
        if not cfg.exists():
            atomic_write(cfg, DEFAULT_CONFIG.format(name=json.dumps(name)).encode())
            created = True
        for sub in ("steps", "objects/sha256", "pending", "cache"):
            (ws.dir / sub).mkdir(parents=True, exist_ok=True)
        record = Record(format=RECORD_FORMAT, id=new_id(), name=name, created_at=utc_now())
        if create_exclusive(ws.dir / "record.json", record.file_bytes):
            created = True
        (ws.dir / ".gitignore").write_text("cache/\npending/\nlock\nmlflow.db\nmlruns/\n")
        return ws, created

    @classmethod
    def find(cls, start: Path | None = None) -> Workspace:
        """The workspace for ``start`` (default: cwd), walking up like git does.

        ``AITRACE_WORKSPACE`` names a project root explicitly (children of ``aitrace run`` get it).
        """
        env = os.environ.get(ENV_WORKSPACE)
        if env and start is None:
            root = Path(env)
            if (root / WORKSPACE_DIR / "record.json").is_file():
                return cls(root.resolve())
            raise WorkspaceError(f"{ENV_WORKSPACE}={env} is not an aitrace workspace",
                                 hint="unset it or run `aitrace init` there")
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if (candidate / WORKSPACE_DIR / "record.json").is_file():
                return cls(candidate)
        raise WorkspaceError(f"no aitrace workspace in {here} or any parent directory",
                             hint="run `aitrace init` in the project root first")

    # ------------------------------------------------------------------ identity & config

    @property
    def config(self) -> Config:
        """The parsed ``aitrace.yaml``."""
        if self._config is None:
            self._config = load_config(self.root / CONFIG_NAME)
        return self._config

    @property
    def record(self) -> Record:
        """The record's identity from ``record.json``."""
        if self._record is None:
            path = self.dir / "record.json"
            data = read_json_file(path, error=WorkspaceError,
                                  hint="restore .aitrace/record.json from a backup")
            self._record = Record.from_dict(data, source=str(path))
        return self._record

    @property
    def name(self) -> str:
        """The record's human name (config wins over the name chosen at init)."""
        return self.config.record_name or self.record.name

    @property
    def digest_cache_path(self) -> Path:
        """The workspace's digest cache, so an unchanged file is hashed once."""
        return self.dir / "cache" / "digests.sqlite"

    def relpath(self, path: str | os.PathLike[str]) -> str:
        """How a path is written in the record: POSIX, relative to the root when inside it.

        A path outside the workspace is written as a ``file:`` URI, never as a bare host path;
        a ``file:`` URI given here is taken as the path it names.
        """
        text = os.fspath(path)
        local = file_uri_path(text) if isinstance(text, str) else None
        p = Path(local) if local is not None else Path(text)
        absolute = p if p.is_absolute() else (Path.cwd() / p)
        absolute = Path(os.path.normpath(absolute))
        try:
            return absolute.relative_to(self.root).as_posix()
        except ValueError:
            return absolute.as_uri()

    def resolve(self, recorded: str) -> Path:
        """The filesystem path of a recorded path (relative, a ``file:`` URI, or absolute)."""
        local = file_uri_path(recorded)
        if local is not None:
            return Path(local)
        p = Path(recorded)
        return p if p.is_absolute() else self.root / p

    # ------------------------------------------------------------------ objects

    def object_path(self, sha256: str) -> Path:
        """Where the object with this digest lives (whether or not it exists)."""
        if not _HEX64.match(sha256):
            raise InputError(f"not a sha256 hex digest: {sha256!r}")
        return self.dir / "objects" / "sha256" / sha256[:2] / sha256[2:]

    def put_object(self, data: bytes) -> str:
        """Store ``data`` content-addressed; return its sha256 (idempotent)."""
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        path = self.object_path(digest)
        if not path.exists():
            create_exclusive(path, data, mode=0o444)
        return digest

    def put_json_object(self, obj: Any) -> tuple[str, int]:
        """Store a JSON document (``document_bytes``: RFC 8785); return (sha256, size)."""
        data = document_bytes(obj)
        return self.put_object(data), len(data)

    def read_object(self, sha256: str) -> bytes:
        """The bytes of a stored object, checked against its digest."""
        path = self.object_path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise WorkspaceError(
                f"evidence object {sha256} is missing from {path.parent}",
                hint="the workspace lost a file; restore it from a backup") from None
        if not bytes_match(data, sha256):
            raise IntegrityError(f"evidence object {path} does not match its digest {sha256}",
                                 hint="the file was modified; restore it from a backup")
        return data

    # ------------------------------------------------------------------ steps

    def _step_files(self) -> list[tuple[int, Path]]:
        steps_dir = self.dir / "steps"
        if not steps_dir.is_dir():
            raise WorkspaceError(f"{steps_dir} is missing", hint="run `aitrace init` again")
        found = []
        for entry in steps_dir.iterdir():
            m = _STEP_FILE.match(entry.name)
            if m:
                found.append((int(m.group(1)), entry))
        found.sort()
        return found

    def chain(self) -> ChainReport:
        """Read every step and recompute the hash chain; name the first broken step.

        Each file is checked as its format defines it (``aitrace.record.chain``): its encoding,
        its link to the previous step's digest, the format sequence (v1 → migration → v2), and
        what a migration step pins.
        """
        stored: list[StoredStep] = []
        prev_digest: str | None = None

        def broken(seq: int, step_id: str | None, rel: str, reason: str) -> ChainReport:
            return ChainReport(tuple(s.step for s in stored), prev_digest,
                               ChainBreak(seq, step_id, rel, reason), tuple(stored))

        for expected_seq, (seq, path) in enumerate(self._step_files(), start=1):
            rel = f"{WORKSPACE_DIR}/steps/{path.name}"
            try:
                data = _read_bounded(path)
                raw = parse_step(data, "the file", error=IntegrityError, hint="")
                step = Step.from_dict(raw, source=rel)
            except (IntegrityError, InputError) as exc:
                return broken(seq, None, rel, exc.message)
            if seq != expected_seq or step.seq != seq:
                return broken(seq, step.id, rel, f"sequence gap: expected step {expected_seq}, "
                                                 f"found file {seq} holding seq {step.seq}")
            if (problem := encoding_problem(data, raw)) is not None:
                return broken(seq, step.id, rel, f"the file {problem}: it was edited")
            if step.prev != prev_digest:
                culprit = f"step {seq - 1}" if seq > 1 else "the chain start"
                return broken(seq, step.id, rel,
                              f"prev is {step.prev} but {culprit} hashes to {prev_digest}: "
                              f"{culprit} was edited, removed or replaced")
            previous = stored[-1].step if stored else None
            if (problem := link_problem(previous, step)) is not None:
                return broken(seq, step.id, rel, f"step {seq} {problem}")
            if step.record_id != self.record.id:
                return broken(seq, step.id, rel, f"belongs to record {step.record_id}, "
                                                 f"not {self.record.id}")
            if step.is_migration:
                record_file = _read_bounded(self.dir / "record.json")
                problems = migration_problems(step, stored, record_file)
                if problems:
                    return broken(seq, step.id, rel, "; ".join(problems))
            prev_digest = step_digest(data, raw)
            stored.append(StoredStep(data, step, prev_digest))
        return ChainReport(tuple(s.step for s in stored), prev_digest, None, tuple(stored))

    def append_format(self) -> StepFormat:
        """The format the next step is written in: the chain head's (v2 after a migration).

        Read from the last step file alone (cheap, for a step about to start); the append
        itself checks it again under the lock. An empty chain follows ``record.json``.
        """
        files = self._step_files()
        if files:
            try:
                doc = parse_untrusted(_read_bounded(files[-1][1]), "the file",
                                      error=IntegrityError, hint="")
            except IntegrityError:
                return STEP_FORMAT_V2  # the append will report the damage
            return STEP_FORMAT_V1 if isinstance(doc, dict) and \
                doc.get("format") == STEP_FORMAT_V1 else STEP_FORMAT_V2
        return STEP_FORMAT_V1 if self.record.format == RECORD_FORMAT_V1 else STEP_FORMAT_V2

    def steps(self) -> tuple[Step, ...]:
        """All steps in chain order; raise ``IntegrityError`` if the chain is broken."""
        report = self.chain()
        if report.broken:
            b = report.broken
            raise IntegrityError(f"{b.file}: {b.reason}", hint=DOCTOR_HINT)
        return report.steps

    def require_intact(self) -> None:
        """Refuse to start recording on a damaged chain (before the user's work runs)."""
        broken = self.chain().broken
        if broken is not None:
            raise IntegrityError(f"refusing to append: {broken.file}: {broken.reason}",
                                 hint=DOCTOR_HINT)

    def get_step(self, ref: str) -> Step:
        """A step by sequence number, full id or unique id prefix (≥ 4 characters)."""
        steps = self.steps()
        if ref.isdigit() and len(ref) < 7:
            n = int(ref)
            if 1 <= n <= len(steps):
                return steps[n - 1]
        matches = [s for s in steps if s.id == ref] or (
            [s for s in steps if s.id.startswith(ref)] if len(ref) >= 4 else [])
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise InputError(f"no step '{ref}' in {self.dir}",
                             hint="`aitrace log` lists step numbers and ids")
        raise InputError(f"step id prefix '{ref}' is ambiguous ({len(matches)} steps)",
                         hint="give more characters of the id")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the workspace's exclusive append lock."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def append(self, build: Callable[[int, str | None], Step]) -> Step:
        """Append the step made by ``build(seq, prev_digest)`` at the chain head, atomically.

        Dangling start markers (their process is gone) are first written as interrupted steps.
        """
        with self.lock():
            self._reap_locked()
            return self._append_locked(build)

    def _append_locked(self, build: Callable[[int, str | None], Step]) -> Step:
        report = self.chain()
        if report.broken:
            b = report.broken
            raise IntegrityError(f"refusing to append: {b.file}: {b.reason}", hint=DOCTOR_HINT)
        seq = len(report.steps) + 1
        step = build(seq, report.head)
        if step.seq != seq or step.prev != report.head or step.record_id != self.record.id:
            raise AssertionError("builder ignored the seq/prev/record it was given")
        previous = report.steps[-1] if report.steps else None
        problem = link_problem(previous, step)
        if problem is None and previous is None and not step.is_migration and \
                step.format != _format_for_record(self.record):
            problem = f"is format {step.format} but record.json is {self.record.format}"
        if problem is not None:
            raise WorkspaceError(f"refusing to append step {seq}: it {problem}",
                                 hint="the workspace was migrated while the step ran; record "
                                      "the step again")
        step = validated_step(step)
        step.check_format()
        data = step.file_bytes  # InputError naming the field if RFC 8785 cannot write it
        path = self.dir / "steps" / f"{seq:06d}.json"
        if not create_exclusive(path, data, mode=0o444):
            raise WorkspaceError(f"{path} already exists", hint="another writer bypassed the lock")
        return step

    # ------------------------------------------------------------------ start markers

    def begin(self, step_id: str, stage: str, started_at: str, actor: Actor,
              argv: tuple[str, ...] | None, materials: tuple[Artifact, ...]) -> Path:
        """Write the start marker of a step in progress (``aitrace.store.markers``)."""
        return write_marker(self.dir / "pending", step_id, stage, started_at, actor, argv,
                            materials)

    def end(self, step_id: str) -> None:
        """Remove a start marker once its step is written (or abandoned)."""
        remove_marker(self.dir / "pending", step_id)

    def pending(self) -> list[Pending]:
        """Start markers currently on disk (unreadable ones are skipped, never fatal)."""
        return read_markers(self.dir / "pending")

    def _reap_locked(self) -> None:
        from aitrace.record.models import Command
        from aitrace.record.stages import StageId, is_stage

        written: set[str] | None = None
        fmt: StepFormat = STEP_FORMAT_V2
        for p in self.pending():
            stage = p.stage
            if p.alive or not is_stage(stage):
                continue
            if written is None:
                report = self.chain()
                written = {s.id for s in report.steps}
                fmt = (report.steps[-1].format if report.steps
                       else _format_for_record(self.record))
            if p.step_id in written:
                # Killed after its step was written but before the marker was removed.
                self.end(p.step_id)
                continue
            materials = marker_materials(p.materials)

            def build(seq: int, prev: str | None, p: Pending = p, stage: StageId = stage,
                      materials: tuple[Artifact, ...] = materials,
                      fmt: StepFormat = fmt) -> Step:
                step = Step(
                    format=fmt, id=p.step_id, record_id=self.record.id, seq=seq,
                    stage=stage, status="interrupted",
                    started_at=p.started_at, ended_at=utc_now(),
                    actor=Actor(user=p.user, host=p.host), prev=prev,
                    command=Command(argv=p.argv) if p.argv is not None else None,
                    materials=materials,
                    error="the recording process ended before the step finished "
                          f"(pid {p.pid}); found by a later append")
                try:
                    step.check_format()
                    _ = step.file_bytes
                except InputError:  # hashed in another format (a migration since): keep the fact
                    step = step.with_(materials=(), command=None)
                return step

            try:
                self._append_locked(build)
            except InputError:
                continue  # a marker no valid step can be made from: never block appends
            self.end(p.step_id)


def _format_for_record(record: Record) -> StepFormat:
    """The format of a chain's first step: v1 for a v1 record.json, else v2."""
    return STEP_FORMAT_V1 if record.format == RECORD_FORMAT_V1 else STEP_FORMAT_V2


def _read_bounded(path: Path) -> bytes:
    """A workspace JSON file's bytes (at most the JSON size limit); ``IntegrityError`` if not."""
    try:
        with open(path, "rb") as fh:
            return fh.read(DEFAULT_LIMITS.max_size + 1)
    except FileNotFoundError:
        raise IntegrityError("the file is missing", hint="restore it from a backup") from None
    except OSError as exc:
        raise IntegrityError(f"the file cannot be read ({exc.strerror or exc})",
                             hint="check its permissions") from None


def validated_step(step: Step) -> Step:
    """``step`` as every reader will parse it, or ``InputError`` before anything is written.

    The record is append-only: a step that its own readers would refuse (a malformed digest, a
    value of the wrong type) would make the whole history unreadable from then on. So each
    step is parsed back from the JSON it is about to be written as — the same parse ``chain()``
    and ``verify`` apply — and refused here instead.
    """
    try:
        return Step.from_dict(step.to_dict(), source=f"step {step.seq} ({step.stage})")
    except InputError as exc:
        raise InputError(f"refusing to record {exc.message.removeprefix('invalid document in ')}",
                         hint="nothing was written and the record is intact; correct the value "
                              "named above and record the step again") from None


def digest_cache_path(start: Path | None = None) -> Path:
    """The digest cache for work at ``start``: its workspace's, or the per-user one outside any.

    So ``aitrace digest`` reuses (and fills) the cache the record itself uses.
    """
    from aitrace.store.digest import default_cache_path

    try:
        return Workspace.find(start).digest_cache_path
    except WorkspaceError:
        return default_cache_path()
