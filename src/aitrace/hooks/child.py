"""The step of ``aitrace run``, seen from inside the command it runs.

``aitrace run -- python train.py`` records one step in the parent process; the script runs in a
child. ``aitrace.current_step()`` in the child returns a ``ChildStep`` (found through the
``AITRACE_*`` variables the runner sets) with the same calls as the in-process hooks:
``log_params``, ``log_metrics``, ``input``, ``output``, ``attach``, ``check``, ``describe``.

The child never writes the step. Evidence objects go to the content-addressed store at once
(they are immutable and named by their digest); everything else is appended as one JSON line per
call to ``.aitrace/pending/<step id>.child.jsonl``, which the parent merges into the step when
the command ends and then removes. A child that dies mid-way leaves at most a partial last line,
which the parent reports and skips; the step is recorded either way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aitrace.errors import InputError, user_facing
from aitrace.hooks.env import ENV_RECORD_ID, ENV_STAGE, ENV_STEP_ID, ENV_WORKSPACE
from aitrace.hooks.handle import data_checker
from aitrace.hooks.values import clean_metrics, clean_params
from aitrace.record._model import from_json, to_json
from aitrace.record.jsonio import document_bytes, parse_untrusted
from aitrace.record.models import EvidenceRef
from aitrace.record.refs import is_uri, normalize_sha256
from aitrace.record.stages import is_stage

if TYPE_CHECKING:
    from aitrace.hooks.recorder import StepRecorder
    from aitrace.record.stages import StageId
    from aitrace.store.workspace import Workspace

CHILD_SUFFIX = ".child.jsonl"


def _report_path(workspace: Workspace, step_id: str) -> Path:
    return workspace.dir / "pending" / f"{step_id}{CHILD_SUFFIX}"


class ChildStep:
    """A handle on the parent's step: every call is reported to the parent, in order.

    It satisfies ``aitrace.hooks.handle.StepHandle``, like the in-process recorder.
    """

    def __init__(self, workspace: Workspace, step_id: str, stage: StageId,
                 record_id: str) -> None:
        self._workspace = workspace
        self._id = step_id
        self._stage: StageId = stage
        self._record_id = record_id
        self._path = _report_path(workspace, step_id)

    @property
    def id(self) -> str:
        """The parent step's id."""
        return self._id

    @property
    def stage(self) -> StageId:
        """The stage the parent records."""
        return self._stage

    @property
    def record_id(self) -> str:
        """The record the parent step belongs to."""
        return self._record_id

    @property
    def workspace(self) -> Workspace:
        """The parent's workspace."""
        return self._workspace

    def _report(self, op: str, **payload: Any) -> None:
        line = json.dumps({"op": op, **payload}, sort_keys=True, allow_nan=False) + "\n"
        # One write() with O_APPEND: concurrent reports from several threads or processes of
        # the same command never interleave within a line.
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)

    @user_facing
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record parameters in the parent's step."""
        self._report("params", values=clean_params(params))

    def log_param(self, key: str, value: Any) -> None:
        """Record one parameter."""
        self.log_params({key: value})

    @user_facing
    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Record metrics in the parent's step."""
        self._report("metrics", values=clean_metrics(metrics))

    def log_metric(self, key: str, value: float) -> None:
        """Record one metric."""
        self.log_metrics({key: value})

    @user_facing
    def describe(self, text: str) -> None:
        """A free-text description of the step."""
        self._report("describe", text=str(text))

    @user_facing
    def input(self, *paths: str | os.PathLike[str], origin: str | None = None,
              license: str | None = None, role: str | None = None,
              sha256: str | None = None) -> None:
        """Declare inputs; the parent hashes them when the command ends."""
        if sha256 is not None:
            sha256 = normalize_sha256(sha256, what="input(sha256=...)")
        for p in paths:
            self._report("input", path=_absolute(p), origin=origin, license=license,
                         role=role, sha256=sha256)

    @user_facing
    def output(self, *paths: str | os.PathLike[str], license: str | None = None,
               role: str | None = None) -> None:
        """Declare outputs; the parent hashes them when the command ends."""
        for p in paths:
            self._report("output", path=_absolute(p), license=license, role=role)

    @user_facing
    def attach(self, kind: str, data: bytes | Mapping[str, Any] | list[Any], *,
               media_type: str, summary: Mapping[str, Any] | None = None,
               name: str | None = None, subject: str | os.PathLike[str] | None = None,
               subject_sha256: str | None = None) -> EvidenceRef:
        """Store evidence now and reference it from the parent's step."""
        raw = data if isinstance(data, bytes) else document_bytes(data)
        sha = self._workspace.put_object(raw)
        subj = None
        if subject is not None:
            from aitrace.record.models import STEP_FORMAT_V1, subject_for
            from aitrace.store.digest import DigestCache, Hasher

            text = os.fspath(subject)
            rel = text if is_uri(text) else self._workspace.relpath(text)
            legacy = self._workspace.append_format() == STEP_FORMAT_V1
            if subject_sha256 is not None:
                subject_sha256 = normalize_sha256(subject_sha256, what=f"{text}: subject_sha256")
            if subject_sha256 is None:
                cache = DigestCache(self._workspace.digest_cache_path)
                d = Hasher(cache=cache, legacy_dirs=legacy).digest(Path(text))
                subj = subject_for(rel, d.sha256, d.algorithm)
            else:
                directory = not is_uri(text) and Path(text).is_dir() and not legacy
                subj = subject_for(rel, subject_sha256, "dirHash" if directory else "sha256")
        ref = EvidenceRef(kind=kind, media_type=media_type, sha256=sha, size=len(raw),
                          name=name, summary=dict(summary or {}), subject=subj)
        self._report("evidence", ref=to_json(ref))
        return ref

    def note_mlflow_store(self, tracking_uri: str) -> None:
        """Tell the parent which store a run was started against (to find and link it)."""
        self._report("mlflow_store", uri=tracking_uri)

    @user_facing
    def check(self, data: Any, suite: str | os.PathLike[str] | Mapping[str, Any] | None = None,
              *, pack: str | None = None, path: str | os.PathLike[str] | None = None,
              **options: Any) -> Any:
        """Validate data with Great Expectations and attach the result (as the hooks do)."""
        return data_checker()(self, data, suite, pack=pack, path=path, **options)


def _absolute(path: str | os.PathLike[str]) -> str:
    text = os.fspath(path)
    return text if is_uri(text) else os.path.abspath(text)


def child_step() -> ChildStep | None:
    """This process's ``ChildStep`` when it runs under ``aitrace run``, else ``None``."""
    step_id = os.environ.get(ENV_STEP_ID)
    root = os.environ.get(ENV_WORKSPACE)
    stage = os.environ.get(ENV_STAGE, "")
    if not step_id or not root or not is_stage(stage):
        return None
    return _child_step(step_id, root, stage, os.environ.get(ENV_RECORD_ID, ""))


@cache
def _child_step(step_id: str, root: str, stage: StageId, record_id: str) -> ChildStep | None:
    from aitrace.store.workspace import Workspace

    ws = Workspace(Path(root))
    if not (ws.dir / "pending" / f"{step_id}.json").is_file():
        return None  # the parent is gone or this is not its step: report nothing
    return ChildStep(ws, step_id, stage, record_id)


def merge_child_reports(rec: StepRecorder, *, warn: Callable[[str], None]) -> None:
    """Apply what the child process reported to the step being finished, then forget it."""
    path = _report_path(rec.workspace, rec.id)
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return
    for n, line in enumerate(lines, start=1):
        try:
            _apply(rec, parse_untrusted(line, f"line {n}", error=InputError, hint=""))
        except (ValueError, KeyError, TypeError, InputError) as exc:
            detail = exc.message if isinstance(exc, InputError) else f"{type(exc).__name__}"
            warn(f"{path.name} line {n} from the command was not recorded ({detail})")
    path.unlink(missing_ok=True)


def _apply(rec: StepRecorder, entry: Mapping[str, Any]) -> None:
    op = entry["op"]
    if op == "params":
        rec.log_params(entry["values"])
    elif op == "metrics":
        rec.log_metrics(entry["values"])
    elif op == "describe":
        rec.describe(str(entry["text"]))
    elif op == "input":
        rec.input(entry["path"], origin=entry.get("origin"), license=entry.get("license"),
                  role=entry.get("role"), sha256=entry.get("sha256"))
    elif op == "output":
        rec.output(entry["path"], license=entry.get("license"), role=entry.get("role"))
    elif op == "mlflow_store":
        rec.note_mlflow_store(str(entry["uri"]))
    elif op == "evidence":
        ref = from_json(EvidenceRef, entry["ref"], source="child report")
        if not rec.workspace.object_path(ref.sha256).is_file():
            raise InputError(f"evidence object {ref.sha256} is not in the store")
        rec.evidence.append(ref)
    else:
        raise KeyError(op)
