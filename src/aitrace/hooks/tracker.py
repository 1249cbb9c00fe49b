"""The Python hooks: ``aitrace.stage()`` as a context manager or decorator.

Entering a stage hashes its inputs, captures the code version, writes a start marker and lets
each contributor (``aitrace.hooks.handle.StepContributor``) begin — e.g. the package scan starts
on a thread. Leaving it hashes the outputs, asks every contributor what it adds (environment,
ML-BOM, MLflow runs, …), binds evidence to the exact bytes it checked, and appends one immutable
step — ``succeeded``, ``failed`` (an exception, a non-zero exit) or ``interrupted`` (Ctrl-C).
The exception, if any, is re-raised unchanged: recording never hides a failure, and a
contributor's trouble is a warning, never a lost step.
"""

from __future__ import annotations

import contextvars
import functools
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from aitrace.errors import InputError, StepFailed
from aitrace.hooks.capture import capture_actor, capture_code_version
from aitrace.hooks.handle import (
    Contribution,
    FinishingStep,
    StepContributor,
    StepOptions,
    data_checker,
    default_contributors,
)
from aitrace.hooks.redact import scrub
from aitrace.hooks.values import clean_metrics, clean_params
from aitrace.record.jsonio import pretty_bytes
from aitrace.record.models import (
    STEP_FORMAT,
    Artifact,
    CodeVersion,
    Command,
    Environment,
    EvidenceRef,
    MlflowLink,
    Step,
    StepStatus,
    Subject,
)
from aitrace.record.refs import is_uri
from aitrace.record.stages import ALL_STAGE_IDS, EVIDENCE_SBOM, StageId, is_stage
from aitrace.record.times import utc_now
from aitrace.store.digest import DigestCache, Hasher, Progress
from aitrace.store.workspace import Workspace, new_id

if TYPE_CHECKING:
    from aitrace.hooks.child import ChildStep

P = ParamSpec("P")
R = TypeVar("R")

_current: contextvars.ContextVar[StepRecorder | None] = contextvars.ContextVar(
    "aitrace_current_step", default=None)


def current_step() -> StepRecorder | ChildStep | None:
    """The step being recorded in this context, if any.

    In-process, it is the ``StepRecorder`` of the enclosing ``aitrace.stage()``. In the child
    process of ``aitrace run``, it is a ``ChildStep`` that hands values, outputs and evidence to
    the parent, which records them in the step when the command ends.
    """
    rec = _current.get()
    if rec is not None:
        return rec
    from aitrace.hooks.child import child_step

    return child_step()


class StepRecorder:
    """The handle a running stage gives its code: declare outputs, log values, attach evidence.

    It satisfies ``aitrace.hooks.handle.StepHandle``; what the step holds so far is read with
    ``snapshot()``. Nothing outside the hooks touches its internal state.
    """

    def __init__(self, workspace: Workspace, stage: StageId, *, description: str | None,
                 progress: Progress | None) -> None:
        self._workspace = workspace
        self._stage: StageId = stage
        self._id = new_id()
        self._record_id = workspace.record.id
        self.description = description
        self.started_at = utc_now()
        self.ended_at: str | None = None
        self.actor = capture_actor()
        self.command: Command | None = None
        self.code: CodeVersion | None = None
        self.environment: Environment | None = None
        self.materials: list[Artifact] = []
        self.products: list[Artifact] = []
        self.evidence: list[EvidenceRef] = []
        self.mlflow: list[MlflowLink] = []
        self.params: dict[str, str] = {}
        self.metrics: dict[str, float] = {}
        self.status: StepStatus | None = None
        self.error: str | None = None
        self.exit_code: int | None = None
        self.options = StepOptions()
        self.contributors: Sequence[StepContributor] = ()
        self._mlflow_stores: list[str] = []
        self._declared_outputs: list[tuple[str, dict[str, Any]]] = []
        self._hasher = Hasher(cache=DigestCache(workspace.digest_cache_path),
                              progress=progress)

    # ---------------------------------------------------------------- identity

    @property
    def id(self) -> str:
        """The step's id."""
        return self._id

    @property
    def stage(self) -> StageId:
        """The stage this step records."""
        return self._stage

    @property
    def record_id(self) -> str:
        """The record the step belongs to."""
        return self._record_id

    @property
    def workspace(self) -> Workspace:
        """The workspace the step is recorded in."""
        return self._workspace

    # ---------------------------------------------------------------- artifacts

    def _artifact(self, path: str | os.PathLike[str], *, origin: str | None,
                  license: str | None, role: str | None, sha256: str | None = None) -> Artifact:
        text = os.fspath(path)
        origin = scrub(origin) if origin else origin
        if is_uri(text):
            return Artifact(path=scrub(text), type="uri", sha256=sha256, origin=origin,
                            license=license, role=role)
        real = Path(text)
        d = self._hasher.digest(real)
        if sha256 is not None and sha256 != d.sha256:
            raise InputError(f"{text}: expected sha256 {sha256} but the file hashes to "
                             f"{d.sha256}", hint="the data changed; update the expected digest")
        return Artifact(path=self._workspace.relpath(real), type=d.type, sha256=d.sha256,
                        size=d.size, origin=origin, license=license, role=role)

    def input(self, *paths: str | os.PathLike[str], origin: str | None = None,
              license: str | None = None, role: str | None = None,
              sha256: str | None = None) -> list[Artifact]:
        """Declare and hash inputs now (a URI is recorded by name, with ``sha256`` if given).

        ``origin`` declares an external source (where the data or base model came from); chain of
        custody accepts declared external sources without an earlier producing step. Returns
        the recorded artifacts.
        """
        added = [self._artifact(p, origin=origin, license=license, role=role, sha256=sha256)
                 for p in paths]
        self.materials.extend(added)
        return added

    def output(self, *paths: str | os.PathLike[str], license: str | None = None,
               role: str | None = None) -> None:
        """Declare outputs; they are hashed when the stage ends, whatever they hold then."""
        for p in paths:
            self._declared_outputs.append((os.fspath(p), {"license": license, "role": role}))

    # ---------------------------------------------------------------- values

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record parameters (kept in the step and logged to the step's MLflow run)."""
        self.params.update(clean_params(params))

    def log_param(self, key: str, value: Any) -> None:
        """Record one parameter."""
        self.log_params({key: value})

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Record metrics (kept in the step and logged to the step's MLflow run)."""
        self.metrics.update(clean_metrics(metrics))

    def log_metric(self, key: str, value: float) -> None:
        """Record one metric."""
        self.log_metrics({key: value})

    def describe(self, text: str) -> None:
        """A free-text description of the step."""
        self.description = text

    def note_mlflow_store(self, tracking_uri: str) -> None:
        """Remember a tracking URI user code started a run against (to find and link the run)."""
        if tracking_uri not in self._mlflow_stores:
            self._mlflow_stores.append(tracking_uri)

    # ---------------------------------------------------------------- evidence

    def attach(self, kind: str, data: bytes | Mapping[str, Any] | list[Any], *,
               media_type: str, summary: Mapping[str, Any] | None = None,
               name: str | None = None, subject: str | os.PathLike[str] | None = None,
               subject_sha256: str | None = None) -> EvidenceRef:
        """Store evidence content-addressed and reference it from the step.

        ``subject`` is the data file the evidence is about; its digest (computed now, or given
        as ``subject_sha256``) binds the evidence to those exact bytes.
        """
        raw = data if isinstance(data, bytes) else pretty_bytes(data)
        sha = self._workspace.put_object(raw)
        subj = None
        if subject is not None:
            text = os.fspath(subject)
            rel = text if is_uri(text) else self._workspace.relpath(text)
            digest = subject_sha256 or self._hasher.digest(Path(text)).sha256
            subj = Subject(path=rel, sha256=digest)
        ref = EvidenceRef(kind=kind, media_type=media_type, sha256=sha, size=len(raw),
                          name=name, summary=dict(summary or {}), subject=subj)
        self.evidence.append(ref)
        return ref

    def check(self, data: Any, suite: str | os.PathLike[str] | Mapping[str, Any] | None = None,
              *, pack: str | None = None, path: str | os.PathLike[str] | None = None,
              **options: Any) -> Any:
        """Validate data with Great Expectations and attach the result (see ``aitrace check``).

        ``data`` is a CSV/Parquet/JSON Lines path or a pandas DataFrame (then ``path`` names
        the file it was written to, which binds the evidence to those bytes).
        """
        return data_checker()(self, data, suite, pack=pack, path=path, **options)

    def sbom(self, **options: Any) -> EvidenceRef:
        """Attach a CycloneDX ML-BOM for this step's model outputs now.

        Option ``models``: the outputs (or one output) to describe as models (default: outputs
        with role ``model`` or a model file suffix).
        """
        unknown = set(options) - {"models"}
        if unknown:
            raise InputError(f"step.sbom(): unknown option(s) {sorted(unknown)}",
                             hint="the only option is models=[paths]")
        models = options.get("models")
        if isinstance(models, (str, os.PathLike)):
            models = [models]
        source = next((c for c in self.contributors if c.kind == EVIDENCE_SBOM), None)
        if source is None:  # pragma: no cover - the SBOM source is always wired
            raise InputError("no ML-BOM source is installed")
        chosen = tuple(os.fspath(m) for m in models) if models is not None else None
        view = replace(self.finishing(), options=replace(self.options, sbom_models=chosen))
        before = len(self.evidence)
        self.apply(source.contribute(view))
        if len(self.evidence) == before:  # pragma: no cover - the source always attaches
            raise InputError("the ML-BOM source attached nothing")
        return self.evidence[before]

    # ---------------------------------------------------------------- finishing

    def set_result(self, status: StepStatus, *, exit_code: int | None = None,
                   error: str | None = None) -> None:
        """Force the final status (``aitrace run`` sets it from the child's exit code)."""
        self.status = status
        self.exit_code = exit_code
        if error:
            self.error = scrub(error)

    def _pending_outputs(self) -> list[Artifact]:
        """Declared outputs not hashed yet that exist now, hashed (for a snapshot)."""
        have = {a.path for a in self.products}
        out: list[Artifact] = []
        for text, meta in self._declared_outputs:
            rel = self._workspace.relpath(text) if not is_uri(text) else text
            if rel in have or (not is_uri(text) and not Path(text).exists()):
                continue
            out.append(self._artifact(text, origin=None, **meta))
            have.add(rel)
        return out

    def hash_outputs(self) -> list[str]:
        """Hash the declared outputs into the step's products; return those that do not exist."""
        missing: list[str] = []
        for text, meta in self._declared_outputs:
            if not is_uri(text) and not Path(text).exists():
                missing.append(text)
                continue
            self.products.append(self._artifact(text, origin=None, **meta))
        self._declared_outputs = []
        return missing

    def _bind_evidence(self) -> None:
        digests = {a.sha256 for a in (*self.materials, *self.products) if a.sha256}
        self.evidence = [
            e if e.subject is None else replace(e, bound=e.subject.sha256 in digests)
            for e in self.evidence
        ]

    def snapshot(self, seq: int = 0, prev: str | None = None) -> Step:
        """What the step holds now, as a ``Step`` (declared outputs that exist are hashed).

        ``seq`` and ``prev`` are placeholders unless given: the chain position is only known
        under the append lock.
        """
        command = self.command
        if command is not None:
            command = Command(argv=command.argv, exit_code=self.exit_code, cwd=command.cwd)
        return Step(
            format=STEP_FORMAT, id=self._id, record_id=self._record_id, seq=max(seq, 1),
            stage=self._stage, status=self.status or "succeeded", started_at=self.started_at,
            ended_at=self.ended_at or utc_now(), actor=self.actor, prev=prev, command=command,
            code=self.code, environment=self.environment, materials=tuple(self.materials),
            products=(*self.products, *self._pending_outputs()), evidence=tuple(self.evidence),
            mlflow=tuple(self.mlflow), params=dict(self.params), metrics=dict(self.metrics),
            description=self.description, error=self.error)

    def finishing(self) -> FinishingStep:
        """The step as contributors see it now."""
        return FinishingStep(step=self.snapshot(), workspace=self._workspace,
                             options=self.options, mlflow_stores=tuple(self._mlflow_stores))

    def apply(self, contribution: Contribution) -> None:
        """Add what a contributor contributed (evidence, environment, links, values)."""
        for a in contribution.evidence:
            sha = self._workspace.put_object(a.data)
            subj = (Subject(path=a.subject_path, sha256=a.subject_sha256)
                    if a.subject_path is not None and a.subject_sha256 is not None else None)
            self.evidence.append(EvidenceRef(
                kind=a.kind, media_type=a.media_type, sha256=sha, size=len(a.data),
                name=a.name, summary=dict(a.summary), subject=subj))
        if contribution.environment is not None:
            self.environment = contribution.environment
        self.mlflow.extend(contribution.mlflow)
        if contribution.params:
            self.log_params(contribution.params)
        if contribution.metrics:
            self.log_metrics(contribution.metrics)

    def build(self, seq: int, prev: str | None) -> Step:
        """The immutable step, once the chain position is known (called under the lock)."""
        if self.status is None or self.ended_at is None:
            raise RuntimeError("build() called before the step finished")
        return self.snapshot(seq, prev)


def _warn(msg: str) -> None:
    print(f"aitrace: warning: {msg}", file=sys.stderr)


def _failure(e: BaseException) -> str:
    return f"{type(e).__name__}: {scrub(str(e))}"


class StageContext:
    """``aitrace.stage(...)``: a context manager yielding a ``StepRecorder``, or a decorator."""

    def __init__(self, stage: str, *, inputs: Iterable[str | os.PathLike[str]] = (),
                 outputs: Iterable[str | os.PathLike[str]] = (),
                 workspace: Workspace | str | os.PathLike[str] | None = None,
                 description: str | None = None, command: Command | None = None,
                 mlflow: bool | None = None, sbom: bool | None = None,
                 progress: Progress | None = None,
                 contributors: Callable[[], Sequence[StepContributor]] | None = None) -> None:
        if not is_stage(stage):
            raise InputError(f"unknown stage '{stage}'",
                             hint="use one of: " + ", ".join(ALL_STAGE_IDS))
        self.stage: StageId = stage
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self._workspace = workspace
        self.description = description
        self.command = command
        self.mlflow = mlflow
        self.sbom = sbom
        self.progress = progress
        self._make_contributors = contributors or default_contributors
        self._contributors: Sequence[StepContributor] = ()
        self.recorder: StepRecorder | None = None
        self._token: contextvars.Token[StepRecorder | None] | None = None
        self.step: Step | None = None
        self._env_added: list[str] = []

    def _resolve_workspace(self) -> Workspace:
        ws = self._workspace
        if isinstance(ws, Workspace):
            return ws
        return Workspace.find(Path(ws) if ws is not None else None)

    def __enter__(self) -> StepRecorder:
        outer = _current.get()
        if outer is not None:
            raise InputError(f"stage '{self.stage}' started inside stage '{outer.stage}'",
                             hint="stages do not nest; end one before starting the next")
        ws = self._resolve_workspace()
        rec = StepRecorder(ws, self.stage, description=self.description, progress=self.progress)
        rec.command = self.command
        enabled = bool(ws.config.section("mlflow").get("enabled", True))
        rec.options = StepOptions(mlflow=self.mlflow if self.mlflow is not None else enabled,
                                  sbom=self.sbom)
        rec.input(*self.inputs)  # a missing input fails here, before anything is written
        rec.output(*self.outputs)
        rec.code = capture_code_version(ws.root)
        ws.begin(rec.id, self.stage, rec.started_at, rec.actor,
                 self.command.argv if self.command else None, tuple(rec.materials))
        self.recorder = rec
        self._token = _current.set(rec)
        self._contributors = list(self._make_contributors())
        rec.contributors = self._contributors
        starting = rec.finishing()
        for c in self._contributors:
            try:
                self._export(c.begin(starting))
            except Exception as e:  # noqa: BLE001 - a contributor never stops the user's code
                _warn(c.warning(self.stage, _failure(e)))
        return rec

    def _export(self, env: Mapping[str, str]) -> None:
        """Variables a contributor wants the step's code to see; removed again on exit.

        Only variables the user has not set are added.
        """
        for key, value in env.items():
            if key not in os.environ:
                os.environ[key] = value
                self._env_added.append(key)

    def child_environment(self) -> dict[str, str]:
        """The variables contributors exported for this step (for ``aitrace run``'s child)."""
        return {k: os.environ[k] for k in self._env_added if k in os.environ}

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        rec = self.recorder
        if rec is None:
            raise RuntimeError("__exit__ without __enter__")
        if self._token is not None:
            _current.reset(self._token)
        for key in self._env_added:
            os.environ.pop(key, None)
        self._env_added = []
        try:
            self._finish(rec, exc_type, exc)
        except BaseException:
            if exc is None:
                raise
            # The user's exception is the one that matters; ours is reported beside it.
            _warn(f"could not record the {self.stage} step: {sys.exc_info()[1]}")
        return False

    def _settle_status(self, rec: StepRecorder, exc_type: type[BaseException] | None,
                       exc: BaseException | None) -> None:
        if rec.status is not None:
            return
        if exc_type is None:
            rec.status = "succeeded"
        elif issubclass(exc_type, KeyboardInterrupt):
            rec.set_result("interrupted", error="interrupted (KeyboardInterrupt)")
        elif issubclass(exc_type, SystemExit) and exc is not None and \
                getattr(exc, "code", 1) in (0, None):
            rec.status = "succeeded"
        else:
            rec.set_result("failed", error=f"{exc_type.__name__}: {exc}")

    def _finish(self, rec: StepRecorder, exc_type: type[BaseException] | None,
                exc: BaseException | None) -> None:
        ws = rec.workspace
        self._settle_status(rec, exc_type, exc)
        from aitrace.hooks.child import merge_child_reports

        merge_child_reports(rec, warn=_warn)
        missing = rec.hash_outputs()
        outputs_failed = bool(missing) and rec.status == "succeeded"
        if outputs_failed:
            rec.set_result("failed", exit_code=rec.exit_code,
                           error="declared output(s) not produced: " + ", ".join(missing))
        # The user's work ends here; evidence built from it below does not extend the step.
        rec.ended_at = utc_now()
        for c in self._contributors:  # in registry order: the MLflow link comes last
            self._contribute(rec, c)
        rec._bind_evidence()
        self.step = ws.append(rec.build)
        ws.end(rec.id)
        if outputs_failed and exc_type is None:
            raise StepFailed(
                f"stage '{rec.stage}' declared output(s) that do not exist: "
                + ", ".join(missing),
                hint=f"the step was recorded as failed (step {self.step.seq}); "
                "check the paths or make the command write them")

    @staticmethod
    def _contribute(rec: StepRecorder, c: StepContributor) -> None:
        try:
            view = rec.finishing()
            if c.applies(view):
                rec.apply(c.contribute(view))
        except Exception as e:  # noqa: BLE001 - evidence trouble must never lose the step
            _warn(c.warning(rec.stage, _failure(e)))

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        """Decorator form: each call of ``func`` is one step of this stage."""

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            ctx = StageContext(self.stage, inputs=self.inputs, outputs=self.outputs,
                               workspace=self._workspace, description=self.description,
                               mlflow=self.mlflow, sbom=self.sbom, progress=self.progress,
                               contributors=self._make_contributors)
            with ctx:
                return func(*args, **kwargs)

        return wrapper


def stage(stage: str, **kwargs: Any) -> StageContext:
    """Record a stage: ``with aitrace.stage("training", inputs=[...]) as step: ...``."""
    return StageContext(stage, **kwargs)


def step_as_json(step: Step) -> dict[str, Any]:
    """The documented JSON form of a step (what ``show --json`` prints)."""
    from aitrace.record._model import to_json

    out: dict[str, Any] = to_json(step)
    out["prev"] = step.prev
    out["digest"] = step.digest
    return out


__all__ = ["StageContext", "StepRecorder", "current_step", "stage"]
