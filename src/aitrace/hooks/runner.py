"""``aitrace run -- cmd``: run a command as one recorded step of a stage.

The child gets the user's environment unchanged plus the ``AITRACE_*`` step variables (so MLflow
runs it starts are tagged by aitrace's context provider when aitrace is importable there) —
never an ``MLFLOW_*`` variable: its MLflow store and experiment are the user's, observed
afterwards (``aitrace.evidence.mlflow.observe``). Ctrl-C reaches the child (same process group);
the parent waits for it and records the step as ``interrupted``. The command line is stored with
secrets redacted.

Values the command leaves in files are read when it ends: ``metrics_files`` (JSON or YAML,
nested keys joined with ``.``, as DVC reads ``metrics.json``) are outputs with role ``metrics``,
whose numbers become the step's metrics; explicit ``params``/``metrics`` are recorded last, so
they win over what the command reported.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from aitrace.errors import InputError, StepNotRecorded, WriteError
from aitrace.hooks.env import ENV_RECORD_ID, ENV_STAGE, ENV_STEP_ID, ENV_WORKSPACE
from aitrace.hooks.handle import Launch
from aitrace.hooks.ownenv import user_environ
from aitrace.hooks.redact import redact_argv
from aitrace.hooks.tracker import StageContext
from aitrace.hooks.values import read_metrics_file
from aitrace.record.models import Command, Step
from aitrace.record.refs import normalize_sha256
from aitrace.record.stages import SOURCE_STAGES
from aitrace.store.digest import Progress
from aitrace.store.workspace import Workspace

_INTERRUPT_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@dataclass(frozen=True)
class Source:
    """A declared external input: a path or URI with where it came from and its licence."""

    path: str
    origin: str | None = None
    license: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class RunResult:
    """What ``aitrace run`` reports: the child's exit code and the step written."""

    exit_code: int
    step: Step


def parse_source(spec: str) -> Source:
    """Parse ``PATH_OR_URI[,origin=URL][,license=SPDX][,sha256=HEX]`` (``--source``)."""
    head, *opts = spec.split(",")
    fields: dict[str, str] = {}
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep or key not in ("origin", "license", "sha256"):
            raise InputError(f"--source {spec!r}: '{opt}' is not origin=, license= or sha256=",
                             hint="write e.g. --source data/raw.csv,origin=https://…,license=CC0-1.0")
        fields[key] = value
    if not head:
        raise InputError(f"--source {spec!r}: the path is empty")
    sha = fields.get("sha256")
    if sha is not None:
        sha = normalize_sha256(sha, what=f"--source {head}: sha256")
    return Source(path=head, origin=fields.get("origin") or head,
                  license=fields.get("license"), sha256=sha)


def run_command(argv: Sequence[str], *, stage: str, inputs: Sequence[str] = (),
                outputs: Sequence[str] = (), sources: Sequence[Source] = (),
                description: str | None = None, mlflow: bool | None = None,
                sbom: bool | None = None, progress: Progress | None = None,
                workspace: Workspace | None = None, params: Mapping[str, str] | None = None,
                metrics: Mapping[str, float] | None = None,
                metrics_files: Sequence[str] = ()) -> RunResult:
    """Run ``argv`` as a step of ``stage`` and record it, whatever its outcome.

    Raises:
        StepNotRecorded: the command ran but the step could not be written (a full disk); its
            ``exit_code`` is the command's.
    """
    if not argv:
        raise InputError("no command given", hint="put the command after --, e.g. "
                         "aitrace run --stage training -- python train.py")
    if shutil.which(argv[0]) is None:
        raise InputError(f"command not found: {argv[0]}",
                         hint="check the spelling or give the full path to the program")
    if sources and stage not in SOURCE_STAGES:
        raise InputError(
            f"--source at stage '{stage}': external data enters a record at "
            + ", ".join(SOURCE_STAGES) + " only (chain of custody would fail at verify)",
            hint="declare the source at collection (or selection for a base model), or pass a "
                 "file an earlier step produced with --input")
    ws = workspace or Workspace.find()
    cwd = Path.cwd()
    command = Command(argv=redact_argv(argv), cwd=ws.relpath(cwd))
    # The user's environment as it is now: what aitrace sets for itself (or its threads set
    # later, e.g. MLflow's telemetry switch) never reaches the command.
    env = user_environ()
    ctx = StageContext(stage, inputs=inputs, outputs=outputs, workspace=ws,
                       description=description, command=command, mlflow=mlflow, sbom=sbom,
                       progress=progress, launch=Launch(argv=tuple(argv), cwd=str(cwd), env=env))
    returncode: int | None = None
    received: int | None = None
    try:
        with ctx as rec:
            for src in sources:
                rec.input(src.path, origin=src.origin, license=src.license, sha256=src.sha256)
            for path in metrics_files:
                rec.output(path, role="metrics")
            rec.watch.before(metrics_files)
            child_env = {**env, ENV_RECORD_ID: rec.record_id, ENV_STEP_ID: rec.id,
                         ENV_STAGE: stage, ENV_WORKSPACE: str(ws.root)}
            returncode, received = _run_child(list(argv), child_env)
            for path in metrics_files:
                if Path(path).is_file():
                    rec.log_metrics(read_metrics_file(Path(path)))
            rec.log_params(params or {})
            rec.log_metrics(metrics or {})
            if received is not None:
                # Told to stop (CI cancellation, `timeout -s INT`, Ctrl-C): interrupted, whatever
                # the child made of the signal, and we exit as a process killed by it would.
                rec.set_result("interrupted", exit_code=returncode,
                               error=f"interrupted by {signal.Signals(received).name} (command "
                                     f"exit {returncode})")
            elif returncode == 0:
                rec.set_result("succeeded", exit_code=0)
            elif -returncode in _INTERRUPT_SIGNALS or returncode == 130:
                rec.set_result("interrupted", exit_code=returncode,
                               error=f"interrupted (exit {returncode})")
            else:
                rec.set_result("failed", exit_code=returncode,
                               error=f"command exited with {returncode}")
    except WriteError as exc:
        # The record cannot be written (a full disk): the command still runs and its exit code
        # is still ours; the failure to record is reported beside it, never instead of it.
        started = returncode is not None
        if returncode is None:
            returncode, received = _run_child(list(argv), env)
        code = _exit_code(returncode, received)
        raise StepNotRecorded(
            f"the command ran (exit {code}) but its step was not recorded: {exc.message}",
            exit_code=code, hint=(exc.hint or "") + (
                "; the next recorded step will record this one as interrupted" if started
                else "")) from None
    if ctx.step is None:  # pragma: no cover - __exit__ always appends or raises
        raise RuntimeError("the step was not written")
    return RunResult(exit_code=_exit_code(returncode, received), step=ctx.step)


def _exit_code(returncode: int, received: int | None = None) -> int:
    """A child's exit code as a shell reports it (128+N when it died of signal N).

    When aitrace itself was told to stop by signal N and the child exited 0 anyway, it is still
    128+N: the run was interrupted.
    """
    code = returncode if returncode >= 0 else 128 - returncode
    if received is not None and code == 0:
        code = 128 + received
    return code


def _from_terminal() -> bool:
    """Whether a SIGINT now most likely came from the terminal (Ctrl-C).

    The terminal signals its whole foreground process group, the child included; a SIGINT sent
    to this process alone (``kill -INT``, CI cancellation, ``timeout -s INT``) reached only us.
    """
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False  # no controlling terminal: nobody pressed Ctrl-C
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def _run_child(argv: list[str], env: dict[str, str]) -> tuple[int, int | None]:
    """Run the child; pass termination signals on instead of dying first.

    Returns the child's return code and the interrupting signal this process received, if any.
    """
    try:
        proc = subprocess.Popen(argv, env=env)
    except OSError as exc:
        raise InputError(f"cannot start {argv[0]}: {exc.strerror}",
                         hint="check that it is an executable program") from None
    received: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        # Ctrl-C in a terminal already reached the child (same process group): sending it
        # again would interrupt the child's own clean-up.
        if signum != signal.SIGINT or not _from_terminal():
            proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in _INTERRUPT_SIGNALS}
    try:
        while True:
            try:
                return proc.wait(), (received[0] if received else None)
            except KeyboardInterrupt:  # pragma: no cover - handler above replaces it
                continue
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
