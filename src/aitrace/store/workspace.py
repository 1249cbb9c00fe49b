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
processes appending at once produce two steps in one linear chain. A step in progress is only a
start marker; a process killed at any moment leaves either no step or a whole one, and a marker
whose process is gone is reported as ``interrupted`` (and turned into an interrupted step by the
next append, so nothing is lost).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitrace.errors import InputError, IntegrityError, WorkspaceError
from aitrace.record.jsonio import canonical_digest, pretty_bytes, read_json_file
from aitrace.record.models import RECORD_FORMAT, STEP_FORMAT, Actor, Artifact, Record, Step
from aitrace.record.refs import bytes_match
from aitrace.record.times import utc_now
from aitrace.store.config import CONFIG_NAME, DEFAULT_CONFIG, Config, load_config
from aitrace.store.files import TMP_PREFIX, atomic_write, create_exclusive

WORKSPACE_DIR = ".aitrace"
ENV_WORKSPACE = "AITRACE_WORKSPACE"
_STEP_FILE = re.compile(r"^(\d{6,})\.json$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
DOCTOR_HINT = ("the history is damaged; `aitrace doctor` explains it and `aitrace doctor --repair` "
               "sets the damaged steps aside without deleting anything")


def new_id() -> str:
    """A time-ordered, collision-resistant id (48-bit ms clock + 64 random bits, hex)."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


def _process_start(pid: int) -> str | None:
    """Kernel start time of ``pid`` (to tell a live owner from a reused pid), if known."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _process_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start is None or _process_start(pid) in (None, start)


@dataclass(frozen=True)
class Pending:
    """A start marker: a step that began and has not been written yet."""

    step_id: str
    stage: str
    started_at: str
    user: str
    host: str
    pid: int
    pid_start: str | None
    argv: tuple[str, ...] | None
    materials: tuple[dict[str, Any], ...]
    path: Path

    @property
    def alive(self) -> bool:
        """Whether the owning process still runs (markers from other hosts count as alive)."""
        if self.host != socket.gethostname():
            return True
        return _process_alive(self.pid, self.pid_start)


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
        from aitrace.record._model import to_json

        if create_exclusive(ws.dir / "record.json", pretty_bytes(to_json(record))):
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
        """How a path is written in the record: POSIX, relative to the root when inside it."""
        p = Path(path)
        absolute = p if p.is_absolute() else (Path.cwd() / p)
        absolute = Path(os.path.normpath(absolute))
        try:
            return absolute.relative_to(self.root).as_posix()
        except ValueError:
            return absolute.as_posix()

    def resolve(self, recorded: str) -> Path:
        """The filesystem path of a path as recorded."""
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
        """Store a JSON document (stable pretty form); return (sha256, size)."""
        data = pretty_bytes(obj)
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
        """Read every step and recompute the hash chain; name the first broken step."""
        steps: list[Step] = []
        prev_digest: str | None = None
        for expected_seq, (seq, path) in enumerate(self._step_files(), start=1):
            rel = f"{WORKSPACE_DIR}/steps/{path.name}"
            try:
                raw = read_json_file(path, error=IntegrityError, source="the file", hint="")
                step = Step.from_dict(raw, source=rel)
            except (IntegrityError, InputError) as exc:
                return ChainReport(tuple(steps), prev_digest,
                                   ChainBreak(seq, None, rel, exc.message))
            if seq != expected_seq or step.seq != seq:
                return ChainReport(tuple(steps), prev_digest, ChainBreak(
                    seq, step.id, rel,
                    f"sequence gap: expected step {expected_seq}, found file {seq} "
                    f"holding seq {step.seq}"))
            if step.prev != prev_digest:
                culprit = f"step {seq - 1}" if seq > 1 else "the chain start"
                return ChainReport(tuple(steps), prev_digest, ChainBreak(
                    seq, step.id, rel,
                    f"prev is {step.prev} but {culprit} hashes to {prev_digest}: "
                    f"{culprit} was edited, removed or replaced"))
            if step.record_id != self.record.id:
                return ChainReport(tuple(steps), prev_digest, ChainBreak(
                    seq, step.id, rel, f"belongs to record {step.record_id}, "
                    f"not {self.record.id}"))
            steps.append(step)
            prev_digest = canonical_digest(raw)
        return ChainReport(tuple(steps), prev_digest, None)

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
        step = validated_step(step)
        data = pretty_bytes(step.to_dict())
        path = self.dir / "steps" / f"{seq:06d}.json"
        if not create_exclusive(path, data, mode=0o444):
            raise WorkspaceError(f"{path} already exists", hint="another writer bypassed the lock")
        return step

    # ------------------------------------------------------------------ start markers

    def begin(self, step_id: str, stage: str, started_at: str, actor: Actor,
              argv: tuple[str, ...] | None, materials: tuple[Artifact, ...]) -> Path:
        """Write the start marker of a step in progress."""
        from aitrace.record._model import to_json

        pid = os.getpid()
        marker = {
            "step_id": step_id, "stage": stage, "started_at": started_at,
            "user": actor.user, "host": actor.host, "pid": pid,
            "pid_start": _process_start(pid), "argv": list(argv) if argv is not None else None,
            "materials": to_json(materials),
        }
        path = self.dir / "pending" / f"{step_id}.json"
        atomic_write(path, pretty_bytes(marker))
        return path

    def end(self, step_id: str) -> None:
        """Remove a start marker once its step is written (or abandoned)."""
        with contextlib.suppress(FileNotFoundError):
            (self.dir / "pending" / f"{step_id}.json").unlink()

    def pending(self) -> list[Pending]:
        """Start markers currently on disk (unreadable ones are skipped, never fatal)."""
        out: list[Pending] = []
        pdir = self.dir / "pending"
        if not pdir.is_dir():
            return out
        for path in sorted(pdir.glob("*.json")):
            if path.name.startswith(TMP_PREFIX):
                continue
            try:
                m = read_json_file(path, error=WorkspaceError, hint="")
                out.append(Pending(
                    step_id=str(m["step_id"]), stage=str(m["stage"]),
                    started_at=str(m["started_at"]), user=str(m["user"]), host=str(m["host"]),
                    pid=int(m["pid"]), pid_start=m.get("pid_start"),
                    argv=tuple(m["argv"]) if m.get("argv") is not None else None,
                    materials=tuple(m.get("materials") or ()), path=path))
            except (WorkspaceError, KeyError, TypeError, ValueError):
                continue  # a marker torn or edited: never fatal (its step is not lost)
        return out

    def _reap_locked(self) -> None:
        from aitrace.record.models import Command
        from aitrace.record.stages import StageId, is_stage

        written: set[str] | None = None
        for p in self.pending():
            stage = p.stage
            if p.alive or not is_stage(stage):
                continue
            if written is None:
                written = {s.id for s in self.chain().steps}
            if p.step_id in written:
                # Killed after its step was written but before the marker was removed.
                self.end(p.step_id)
                continue
            materials = _marker_materials(p.materials)

            def build(seq: int, prev: str | None, p: Pending = p, stage: StageId = stage,
                      materials: tuple[Artifact, ...] = materials) -> Step:
                return Step(
                    format=STEP_FORMAT, id=p.step_id, record_id=self.record.id, seq=seq,
                    stage=stage, status="interrupted",
                    started_at=p.started_at, ended_at=utc_now(),
                    actor=Actor(user=p.user, host=p.host), prev=prev,
                    command=Command(argv=p.argv) if p.argv is not None else None,
                    materials=materials,
                    error="the recording process ended before the step finished "
                          f"(pid {p.pid}); found by a later append")

            try:
                self._append_locked(build)
            except InputError:
                continue  # a marker no valid step can be made from: never block appends
            self.end(p.step_id)


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


def _marker_materials(entries: tuple[dict[str, Any], ...]) -> tuple[Artifact, ...]:
    """The inputs a start marker lists, keeping only those a step may hold."""
    from aitrace.record._model import from_json

    out = []
    for m in entries:
        try:
            out.append(from_json(Artifact, m, source="start marker"))
        except InputError:
            continue
    return tuple(out)


def digest_cache_path(start: Path | None = None) -> Path:
    """The digest cache for work at ``start``: its workspace's, or the per-user one outside any.

    So ``aitrace digest`` reuses (and fills) the cache the record itself uses.
    """
    from aitrace.store.digest import default_cache_path

    try:
        return Workspace.find(start).digest_cache_path
    except WorkspaceError:
        return default_cache_path()
