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
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from aitrace.errors import AitraceError, InputError, StepFailed, user_facing
from aitrace.hooks.capture import capture_code_version, capture_process_command
from aitrace.hooks.handle import (
    Launch,
    StepContributor,
    StepOptions,
    default_contributors,
)
from aitrace.hooks.outputs import untouched_warning
from aitrace.hooks.recorder import StepRecorder, _warn
from aitrace.hooks.redact import scrub
from aitrace.record.models import (
    Command,
    Step,
)
from aitrace.record.stages import STAGE_IDS, StageId, is_stage
from aitrace.record.times import utc_now
from aitrace.store.digest import Progress
from aitrace.store.workspace import Workspace

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




def _failure(e: BaseException) -> str:
    """A contributor's failure in one line (library errors can span dozens: SQL, parameters).

    aitrace's own errors are shown whole: their message is one written sentence.
    """
    if isinstance(e, AitraceError):
        return f"{type(e).__name__}: {scrub(e.message)}"
    lines = scrub(str(e)).strip().splitlines() or [""]
    first = lines[0] if len(lines[0]) <= 200 else lines[0][:199] + "…"
    return f"{type(e).__name__}: {first}" + (" …" if len(lines) > 1 else "")


class StageContext:
    """``aitrace.stage(...)``: a context manager yielding a ``StepRecorder``, or a decorator."""

    @user_facing
    def __init__(self, stage: str, *, inputs: Iterable[str | os.PathLike[str]] = (),
                 outputs: Iterable[str | os.PathLike[str]] = (),
                 workspace: Workspace | str | os.PathLike[str] | None = None,
                 description: str | None = None, command: Command | None = None,
                 mlflow: bool | None = None, sbom: bool | None = None,
                 progress: Progress | None = None,
                 contributors: Callable[[], Sequence[StepContributor]] | None = None,
                 launch: Launch | None = None) -> None:
        if not is_stage(stage):
            raise InputError(f"unknown stage '{stage}'",
                             hint="use one of: " + ", ".join(STAGE_IDS))
        self.stage: StageId = stage
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self._workspace = workspace
        self.description = description
        self.command = command
        self.mlflow = mlflow
        self.sbom = sbom
        self.progress = progress
        self.launch = launch
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

    @user_facing
    def __enter__(self) -> StepRecorder:
        outer = _current.get()
        if outer is not None:
            raise InputError(f"stage '{self.stage}' started inside stage '{outer.stage}'",
                             hint="stages do not nest; end one before starting the next")
        ws = self._resolve_workspace()
        ws.require_intact()  # a damaged chain can take no step: say so before the work runs
        rec = StepRecorder(ws, self.stage, description=self.description, progress=self.progress)
        rec.command = self.command or capture_process_command(
            ws.relpath, lambda p: rec._hasher.digest(p).sha256)
        rec.launch = self.launch
        enabled = bool(ws.config.section("mlflow").get("enabled", True))
        rec.options = StepOptions(mlflow=self.mlflow if self.mlflow is not None else enabled,
                                  sbom=self.sbom)
        rec.input(*self.inputs)  # a missing input fails here, before anything is written
        rec.output(*self.outputs)
        rec.watch.before([os.fspath(o) for o in self.outputs])
        rec.code = capture_code_version(ws.root)
        ws.begin(rec.id, self.stage, rec.started_at, rec.actor,
                 self.command.argv if self.command else None, tuple(rec.materials))
        self.recorder = rec
        self._token = _current.set(rec)
        self._contributors = list(self._make_contributors())
        rec.contributors = self._contributors
        try:
            starting = rec.finishing()  # hashes declared outputs that exist already
        except BaseException:
            _current.reset(self._token)  # nothing started: leave no stage or marker behind
            self._token = None
            ws.end(rec.id)
            raise
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

    @user_facing
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
        missing, escaped = rec.hash_outputs()
        untouched = [a.path for a in rec.products if a.unchanged]
        if untouched and rec.status == "succeeded":
            _warn(untouched_warning(untouched))
        outputs_failed = bool(missing or escaped) and rec.status == "succeeded"
        why: list[str] = []
        if outputs_failed:
            if missing:
                why.append("declared output(s) not produced: " + ", ".join(missing))
            if escaped:
                why.append("declared output(s) not recorded, a symbolic link takes them out of "
                           "the project: " + ", ".join(escaped))
            rec.set_result("failed", exit_code=rec.exit_code, error="; ".join(why))
        # The user's work ends here; evidence built from it below does not extend the step.
        rec.ended_at = utc_now()
        for c in self._contributors:  # in registry order: the MLflow link comes last
            self._contribute(rec, c)
        rec._bind_evidence()
        self.step = ws.append(rec.build)
        ws.end(rec.id)
        if outputs_failed and exc_type is None:
            raise StepFailed(
                f"stage '{rec.stage}': " + "; ".join(why),
                hint=f"the step was recorded as failed (step {self.step.seq}); "
                "check the paths or make the command write them"
                + ("; write outputs inside the project, not links out of it" if escaped
                   else ""))

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


@user_facing
def stage(stage: str, **kwargs: Any) -> StageContext:
    """Record a stage: ``with aitrace.stage("training", inputs=[...]) as step: ...``."""
    return StageContext(stage, **kwargs)


__all__ = ["StageContext", "StepRecorder", "current_step", "stage"]


