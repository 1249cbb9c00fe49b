"""The Python hooks: ``aitrace.stage()`` as a context manager or decorator.

Entering a stage hashes its inputs, captures the code version and writes a start marker;
leaving it hashes the outputs, captures the environment, lets evidence sources add what they
know (SBOM, MLflow runs), binds evidence to the exact bytes it checked, and appends one
immutable step — ``succeeded``, ``failed`` (an exception, a non-zero exit) or ``interrupted``
(Ctrl-C). The exception, if any, is re-raised unchanged: recording never hides a failure.
"""

from __future__ import annotations

import contextvars
import functools
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, TypeVar

from aitrace.errors import InputError, StepFailed
from aitrace.hooks.capture import (
    ENVIRONMENT_MEDIA_TYPE,
    capture_actor,
    capture_code_version,
    capture_environment,
    installed_distributions,
)
from aitrace.hooks.redact import scrub
from aitrace.record._model import to_json
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
from aitrace.record.stages import EVIDENCE_ENVIRONMENT, STAGE_IDS, is_stage
from aitrace.store.digest import DigestCache, Hasher, Progress
from aitrace.store.workspace import Workspace, new_id, utc_now

if TYPE_CHECKING:
    from aitrace.hooks.child import ChildStep

P = ParamSpec("P")
R = TypeVar("R")

# Environment variables that tell a child process (and MLflow's context provider) which step
# it runs inside; documented in README "Integrations".
ENV_RECORD_ID = "AITRACE_RECORD_ID"
ENV_STEP_ID = "AITRACE_STEP_ID"
ENV_STAGE = "AITRACE_STAGE"

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


def clean_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Parameters as the record keeps them: strings, with secrets scrubbed."""
    return {str(k): scrub(str(v)) for k, v in params.items()}


def clean_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Metrics as the record keeps them: finite floats (JSON has no NaN or infinity)."""
    out: dict[str, float] = {}
    for k, v in metrics.items():
        try:
            value = float(v)
        except (TypeError, ValueError):
            raise InputError(f"metric '{k}' must be a number, got {v!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise InputError(f"metric '{k}' is {value}; JSON cannot hold NaN or infinity",
                             hint="log a finite number or leave the metric out")
        out[str(k)] = value
    return out


class StepRecorder:
    """The handle a running stage gives its code: declare outputs, log values, attach evidence."""

    def __init__(self, workspace: Workspace, stage: str, *, description: str | None,
                 progress: Progress | None) -> None:
        self.workspace = workspace
        self.stage = stage
        self.id = new_id()
        self.record_id = workspace.record.id
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
        self.sbom_auto: bool | None = None
        self.mlflow_enabled: bool = True
        self.extra: dict[str, Any] = {}  # per-step state for evidence sources (e.g. models)
        self._declared_outputs: list[tuple[str, dict[str, Any]]] = []
        self._hasher = Hasher(cache=DigestCache(workspace.dir / "cache" / "digests.sqlite"),
                              progress=progress)

    # ---------------------------------------------------------------- artifacts

    def _artifact(self, path: str | os.PathLike[str], *, origin: str | None,
                  license: str | None, role: str | None, sha256: str | None = None) -> Artifact:
        text = os.fspath(path)
        origin = scrub(origin) if origin else origin
        if "://" in text:
            return Artifact(path=scrub(text), type="uri", sha256=sha256, origin=origin,
                            license=license, role=role)
        real = Path(text)
        d = self._hasher.digest(real)
        if sha256 is not None and sha256 != d.sha256:
            raise InputError(f"{text}: expected sha256 {sha256} but the file hashes to "
                             f"{d.sha256}", hint="the data changed; update the expected digest")
        return Artifact(path=self.workspace.relpath(real), type=d.type, sha256=d.sha256,
                        size=d.size, origin=origin, license=license, role=role)

    def input(self, *paths: str | os.PathLike[str], origin: str | None = None,
              license: str | None = None, role: str | None = None,
              sha256: str | None = None) -> list[Artifact]:
        """Declare and hash inputs now (a URI is recorded by name, with ``sha256`` if given).

        ``origin`` declares an external source (where the data or base model came from); chain of
        custody accepts declared external sources without an earlier producing step.
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
        sha = self.workspace.put_object(raw)
        subj = None
        if subject is not None:
            rel = self.workspace.relpath(subject) if "://" not in os.fspath(subject) else \
                os.fspath(subject)
            digest = subject_sha256 or self._hasher.digest(Path(os.fspath(subject))).sha256
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
        from aitrace.evidence.gx.quality import check_into_step

        return check_into_step(self, data, suite=suite, pack=pack, path=path, **options)

    def sbom(self, **options: Any) -> EvidenceRef:
        """Attach a CycloneDX ML-BOM for this step's model outputs now."""
        from aitrace.evidence.sbom.build import attach_sbom

        ref: EvidenceRef = attach_sbom(self, **options)
        return ref

    # ---------------------------------------------------------------- finishing

    def set_result(self, status: StepStatus, *, exit_code: int | None = None,
                   error: str | None = None) -> None:
        """Force the final status (``aitrace run`` sets it from the child's exit code)."""
        self.status = status
        self.exit_code = exit_code
        if error:
            self.error = scrub(error)

    def _hash_outputs(self) -> list[str]:
        missing: list[str] = []
        for text, meta in self._declared_outputs:
            if "://" not in text and not Path(text).exists():
                missing.append(text)
                continue
            self.products.append(self._artifact(text, origin=None, **meta))
        return missing

    def _bind_evidence(self) -> None:
        digests = {a.sha256 for a in (*self.materials, *self.products) if a.sha256}
        self.evidence = [
            e if e.subject is None else EvidenceRef(**{**e.__dict__,
                                                      "bound": e.subject.sha256 in digests})
            for e in self.evidence
        ]

    def build(self, seq: int, prev: str | None) -> Step:
        """The immutable step, once the chain position is known (called under the lock)."""
        if self.status is None or self.ended_at is None:
            raise RuntimeError("build() called before the step finished")
        command = self.command
        if command is not None:
            command = Command(argv=command.argv, exit_code=self.exit_code, cwd=command.cwd)
        return Step(
            format=STEP_FORMAT, id=self.id, record_id=self.record_id, seq=seq,
            stage=self.stage,  # type: ignore[arg-type]
            status=self.status, started_at=self.started_at, ended_at=self.ended_at,
            actor=self.actor, prev=prev, command=command, code=self.code,
            environment=self.environment, materials=tuple(self.materials),
            products=tuple(self.products), evidence=tuple(self.evidence),
            mlflow=tuple(self.mlflow), params=dict(self.params), metrics=dict(self.metrics),
            description=self.description, error=self.error)


class _Background(Generic[R]):
    """A function run on a daemon thread; ``result()`` joins it (or runs it inline on error)."""

    def __init__(self, fn: Callable[[], R]) -> None:
        self._fn = fn
        self._value: R | None = None
        self._done = False
        self._thread = threading.Thread(target=self._run, name="aitrace-capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
            self._done = True
        except Exception:  # noqa: BLE001, S110 - result() retries inline and reports it
            pass

    def result(self) -> R:
        self._thread.join()
        if not self._done:
            return self._fn()
        return self._value  # type: ignore[return-value]


def _warn(msg: str) -> None:
    print(f"aitrace: warning: {msg}", file=sys.stderr)


class StageContext:
    """``aitrace.stage(...)``: a context manager yielding a ``StepRecorder``, or a decorator."""

    def __init__(self, stage: str, *, inputs: Iterable[str | os.PathLike[str]] = (),
                 outputs: Iterable[str | os.PathLike[str]] = (),
                 workspace: Workspace | str | os.PathLike[str] | None = None,
                 description: str | None = None, command: Command | None = None,
                 mlflow: bool | None = None, sbom: bool | None = None,
                 progress: Progress | None = None) -> None:
        if not is_stage(stage):
            raise InputError(f"unknown stage '{stage}'",
                             hint="use one of: " + ", ".join(STAGE_IDS))
        self.stage = stage
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self._workspace = workspace
        self.description = description
        self.command = command
        self.mlflow = mlflow
        self.sbom = sbom
        self.progress = progress
        self.recorder: StepRecorder | None = None
        self._token: contextvars.Token[StepRecorder | None] | None = None
        self.step: Step | None = None
        self._env_added: list[str] = []
        self._dists: _Background[list[dict[str, Any]]] | None = None

    def _resolve_workspace(self) -> Workspace:
        ws = self._workspace
        if isinstance(ws, Workspace):
            return ws
        return Workspace.find(Path(ws) if ws is not None else None)

    def __enter__(self) -> StepRecorder:
        if _current.get() is not None:
            raise InputError(f"stage '{self.stage}' started inside stage "
                             f"'{_current.get().stage}'",  # type: ignore[union-attr]
                             hint="stages do not nest; end one before starting the next")
        ws = self._resolve_workspace()
        rec = StepRecorder(ws, self.stage, description=self.description, progress=self.progress)
        rec.command = self.command
        mlcfg = ws.config.section("mlflow")
        rec.mlflow_enabled = self.mlflow if self.mlflow is not None else \
            bool(mlcfg.get("enabled", True))
        rec.sbom_auto = self.sbom
        rec.input(*self.inputs)  # a missing input fails here, before anything is written
        rec.output(*self.outputs)
        # The package scan (~0.1 s for a few hundred distributions) overlaps the user's work.
        self._dists = _Background(lambda: installed_distributions(ws.dir / "cache"))
        rec.code = capture_code_version(ws.root)
        ws.begin(rec.id, self.stage, rec.started_at, rec.actor,
                 self.command.argv if self.command else None, tuple(rec.materials))
        self.recorder = rec
        self._token = _current.set(rec)
        if rec.mlflow_enabled:
            self._route_mlflow(ws)
        return rec

    def _route_mlflow(self, ws: Workspace) -> None:
        """Send MLflow runs the stage's own code starts to the record's store and experiment.

        Only variables the user has not set are added, and they are removed again on exit.
        """
        from aitrace.evidence.mlflow.link import run_env

        for key, value in run_env(ws).items():
            if key not in os.environ:
                os.environ[key] = value
                self._env_added.append(key)

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

    def _finish(self, rec: StepRecorder, exc_type: type[BaseException] | None,
                exc: BaseException | None) -> None:
        ws = rec.workspace
        if rec.status is None:
            if exc_type is None:
                rec.status = "succeeded"
            elif issubclass(exc_type, KeyboardInterrupt):
                rec.set_result("interrupted", error="interrupted (KeyboardInterrupt)")
            elif issubclass(exc_type, SystemExit) and exc is not None and \
                    getattr(exc, "code", 1) in (0, None):
                rec.status = "succeeded"
            else:
                rec.set_result("failed", error=f"{exc_type.__name__}: {exc}")
        from aitrace.hooks.child import merge_child_reports

        merge_child_reports(rec, warn=_warn)
        missing = rec._hash_outputs()
        outputs_failed = bool(missing) and rec.status == "succeeded"
        if outputs_failed:
            rec.set_result("failed", exit_code=rec.exit_code,
                           error="declared output(s) not produced: " + ", ".join(missing))
        try:
            env, env_doc = capture_environment(
                ws.config.section("capture").get("env_allow") or (),
                distributions=self._dists.result() if self._dists else None)
            ref = rec.attach(EVIDENCE_ENVIRONMENT, env_doc, media_type=ENVIRONMENT_MEDIA_TYPE,
                             name="environment", summary={
                                 "python": env.python,
                                 "distributions": len(env_doc["distributions"])})
            rec.environment = Environment(**{**env.__dict__,
                                             "distributions_sha256": ref.sha256})
        except OSError as e:  # pragma: no cover - capture must never lose the step
            _warn(f"environment not captured: {e}")
        self._auto_sbom(rec)
        rec._bind_evidence()
        rec.ended_at = utc_now()
        if rec.mlflow_enabled:
            try:
                from aitrace.evidence.mlflow.link import link_step_runs

                rec.mlflow.extend(link_step_runs(rec))
            except Exception as e:  # noqa: BLE001 - MLflow trouble must not lose the step
                _warn(f"MLflow run not linked ({type(e).__name__}: {scrub(str(e))})")
        self.step = ws.append(rec.build)
        ws.end(rec.id)
        if outputs_failed and exc_type is None:
            raise StepFailed(
                f"stage '{rec.stage}' declared output(s) that do not exist: "
                + ", ".join(missing),
                hint=f"the step was recorded as failed (step {self.step.seq}); "
                "check the paths or make the command write them")

    def _auto_sbom(self, rec: StepRecorder) -> None:
        from aitrace.evidence import sbom_applies

        if not sbom_applies(rec):
            return
        try:
            from aitrace.evidence.sbom.build import attach_sbom

            attach_sbom(rec)
        except Exception as e:  # noqa: BLE001 - a missing SBOM is reported, never fatal
            _warn(f"SBOM not attached to the {rec.stage} step "
                  f"({type(e).__name__}: {scrub(str(e))})")

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        """Decorator form: each call of ``func`` is one step of this stage."""

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            ctx = StageContext(self.stage, inputs=self.inputs, outputs=self.outputs,
                               workspace=self._workspace, description=self.description,
                               mlflow=self.mlflow, sbom=self.sbom, progress=self.progress)
            with ctx:
                return func(*args, **kwargs)

        return wrapper


def stage(stage: str, **kwargs: Any) -> StageContext:
    """Record a stage: ``with aitrace.stage("training", inputs=[...]) as step: ...``."""
    return StageContext(stage, **kwargs)


def step_as_json(step: Step) -> dict[str, Any]:
    """The documented JSON form of a step (what ``show --json`` prints)."""
    out: dict[str, Any] = to_json(step)
    out["prev"] = step.prev
    out["digest"] = step.digest
    return out


__all__ = ["StageContext", "StepRecorder", "current_step", "stage", "warnings"]
