"""Link steps to MLflow runs: aitrace's own run per step, and checks of every linked run.

Two kinds of link live in a step's ``mlflow`` field:

* the **step run** (role ``step``) — aitrace's own run in *aitrace's* store, holding the step's
  tags, params, metrics and status, written by :func:`log_step_run` through MLflow's client;
* **user runs** (role ``user``) — the runs the step's own code created or resumed in the
  user's store, found read-only by ``aitrace.evidence.mlflow.observe`` (never through MLflow's
  client: aitrace does not write to, redirect or migrate a user's store).

aitrace's store: ``AITRACE_MLFLOW_TRACKING_URI``, else ``mlflow.tracking_uri`` in
``aitrace.yaml`` (a relative ``sqlite:///`` path is the project root's), else the embedded
``sqlite:///<root>/.aitrace/mlflow.db``. ``MLFLOW_TRACKING_URI`` is the user's and is not read
here. The experiment is ``mlflow.experiment`` from ``aitrace.yaml``, else ``aitrace/<record
name>``, created with an explicit artifact location (``mlflow.artifact_location``, else
``<root>/.aitrace/mlruns`` for local stores). A SQLite store whose schema another MLflow version
wrote is refused rather than migrated (a warning; the step is kept without a step run).

The step run is named ``<stage>-<first 12 hex digits of the step id>`` and tagged
``aitrace.record_id``, ``aitrace.step_id``, ``aitrace.stage``, ``aitrace.status``,
``aitrace.workspace``, ``aitrace.run_role=step`` (and ``aitrace.exit_code`` for ``aitrace run``),
with MLflow's ``mlflow.user`` and ``mlflow.source.git.*`` from the step; its status is FINISHED,
FAILED or KILLED for a succeeded, failed or interrupted step. Keys MLflow rejects are rewritten
(:func:`mlflow_key`); the step itself keeps the original names.

Speed: the slow part — importing MLflow and opening aitrace's store (~3 s) — is
:func:`prepare_store`, which ``MlflowSource`` runs on a thread from the moment an ``aitrace
run`` step starts, so it overlaps the user's command; writing the run at the end is one batch.

Run data digest (``data_sha256``): SHA-256 of the canonical JSON (``aitrace.record.jsonio``) of::

    {"format": "aitrace.mlflow-run-data/v1",
     "params": {key: value},               # all params
     "metrics": {key: latest value},       # non-finite values as "NaN"/"Infinity"/"-Infinity"
     "tags": {key: value}}                 # see below

``tags`` holds every tag outside MLflow's ``mlflow.`` system namespace plus the system tags that
identify where a run came from (:data:`DIGESTED_SYSTEM_TAGS`). The other ``mlflow.*`` tags are
left out on purpose: MLflow and its UI rewrite them after the fact (a run renamed in the UI, a
note edited, a model logged later appends ``mlflow.log-model.history``), and those are not
edits of the run's results. :func:`check_links` re-reads every linked run read-only and reports
any whose digest changed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aitrace.errors import AitraceError, InputError
from aitrace.evidence.mlflow.observe import (
    DIGESTED_SYSTEM_TAGS,
    RUN_DATA_FORMAT,
    data_sha256,
    display_uri,
    run_data_document,
)
from aitrace.evidence.mlflow.stores import (
    SqliteReader,
    StoreReadError,
    open_store,
    sqlite_path,
    sqlite_uri,
)
from aitrace.hooks.ownenv import set_own_default
from aitrace.hooks.redact import scrub
from aitrace.record.jsonio import canonical_digest, legacy_canonical_digest
from aitrace.record.models import STEP_FORMAT_V1, MlflowLink
from aitrace.record.refs import is_uri
from aitrace.record.times import to_millis

if TYPE_CHECKING:
    from aitrace.record.models import Step
    from aitrace.store.workspace import Workspace

__all__ = ["DIGESTED_SYSTEM_TAGS", "RUN_DATA_FORMAT", "LinkProblem", "MlflowLinkError",
           "PreparedStore", "check_links", "log_step_run", "mlflow_key", "prepare_store",
           "tracking_uri"]

# The tags aitrace puts on MLflow runs; aitrace.integrations.mlflow_context repeats the first four
# (MLflow imports that module for every run, so it imports nothing of aitrace; a test checks).
TAG_RECORD_ID = "aitrace.record_id"
TAG_STEP_ID = "aitrace.step_id"
TAG_STAGE = "aitrace.stage"
TAG_WORKSPACE = "aitrace.workspace"
TAG_STATUS = "aitrace.status"
TAG_ROLE = "aitrace.run_role"
TAG_EXIT_CODE = "aitrace.exit_code"

ENV_AITRACE_TRACKING_URI = "AITRACE_MLFLOW_TRACKING_URI"
ENV_TELEMETRY = "MLFLOW_DISABLE_TELEMETRY"

_STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
_REMOTE_SCHEMES = ("http://", "https://", "databricks")
# MLflow's limits (mlflow.utils.validation), mirrored to batch and trim without importing it.
_PARAMS_TAGS_PER_BATCH = 100
_METRICS_PER_BATCH = 1000
_MAX_KEY = 250
_MAX_PARAM_VALUE = 6000
_MAX_TAG_VALUE = 8000
_BAD_KEY_CHARS = re.compile(r"[^\w.\- :/]")


class MlflowLinkError(AitraceError):
    """aitrace's MLflow store refused or could not hold the step's run."""


@dataclass(frozen=True)
class LinkProblem:
    """A linked run that no longer matches what the step recorded (or cannot be read)."""

    link: MlflowLink
    reason: str

    def __str__(self) -> str:
        return f"MLflow run {self.link.run_id} ({self.link.role}) at " \
               f"{self.link.tracking_uri}: {self.reason}"


# ---------------------------------------------------------------------------- configuration


def default_tracking_uri(workspace: Workspace) -> str:
    """The embedded store: ``sqlite:///<root>/.aitrace/mlflow.db`` (as MLflow spells it)."""
    return sqlite_uri(workspace.dir / "mlflow.db")


def tracking_uri(workspace: Workspace) -> str:
    """Aitrace's store (``AITRACE_MLFLOW_TRACKING_URI``, ``aitrace.yaml``, then embedded)."""
    env = os.environ.get(ENV_AITRACE_TRACKING_URI)
    if env:
        return env
    configured = workspace.config.section("mlflow").get("tracking_uri")
    if configured in (None, ""):
        return default_tracking_uri(workspace)
    text = str(configured)
    if text.startswith("sqlite:///") and not text.startswith("sqlite:////"):
        # A relative SQLite path is the project's, not the current directory's.
        return sqlite_uri(workspace.root / unquote(text[len("sqlite:///"):]))
    return text


def experiment_name(workspace: Workspace) -> str:
    """``mlflow.experiment`` from ``aitrace.yaml``, else ``aitrace/<record name>``."""
    configured = workspace.config.section("mlflow").get("experiment")
    if configured not in (None, ""):
        return str(configured)
    return f"aitrace/{workspace.name}"


def artifact_location(workspace: Workspace, uri: str) -> str | None:
    """Where a new experiment keeps artifacts (``None``: the tracking server's default)."""
    configured = workspace.config.section("mlflow").get("artifact_location")
    if configured not in (None, ""):
        text = str(configured)
        return text if is_uri(text) else (workspace.root / text).resolve().as_uri()
    if uri.startswith(_REMOTE_SCHEMES):
        return None
    return (workspace.dir / "mlruns").as_uri()


def public_uri(uri: str) -> str:
    """A tracking URI as it may be stored: credentials and known secret values removed."""
    return scrub(uri)


# ---------------------------------------------------------------------------- quiet MLflow


@contextlib.contextmanager
def quiet_mlflow() -> Iterator[None]:
    """Import MLflow and keep its warnings and INFO logs (DB migrations) off the terminal.

    Sets ``MLFLOW_DISABLE_TELEMETRY`` in aitrace's own process before MLflow is first imported
    (never in the user's command). Logger levels are lowered after the import, because
    importing MLflow configures its own loggers.
    """
    set_own_default(ENV_TELEMETRY, "true")
    with warnings.catch_warnings():
        for category in (UserWarning, DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category,
                                    module=r"(mlflow|sqlalchemy|alembic|pydantic)(\.|$)")
        warnings.filterwarnings("ignore", message=r".*LocalArtifactDatasetSource")
        import mlflow  # noqa: F401 - configures MLflow's loggers before we quiet them

        loggers = [logging.getLogger(n) for n in ("mlflow", "alembic", "sqlalchemy")]
        levels = [lg.level for lg in loggers]
        for lg in loggers:
            lg.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def refuse_foreign_schema(uri: str) -> None:
    """Raise when ``uri`` is a SQLite store whose schema this MLflow would migrate.

    MLflow 3 upgrades an older store's schema when its client opens it, after which the MLflow
    that wrote the store refuses it; aitrace only writes to stores at its own MLflow's schema.
    """
    path = sqlite_path(uri, Path.cwd())
    if path is None or not path.is_file():
        return
    found = SqliteReader(path).schema_revision()
    from mlflow.store.db.utils import _get_latest_schema_revision

    head = str(_get_latest_schema_revision())  # type: ignore[no-untyped-call]
    if found is not None and found != head:
        raise MlflowLinkError(
            f"the MLflow store {path} has schema {found}, written by another MLflow version "
            f"(aitrace's MLflow is at {head}); aitrace does not migrate it",
            hint="leave mlflow.tracking_uri in aitrace.yaml empty (aitrace's own "
                 ".aitrace/mlflow.db) or point it at a store of aitrace's own")


def _client(uri: str, workspace: Workspace | None = None) -> Any:
    """An ``MlflowClient`` for aitrace's store; the first use of the embedded store creates it.

    Creating the embedded DB runs MLflow's migrations; it is done under the workspace lock so
    two processes starting at once do not migrate the same file together.
    """
    from mlflow import MlflowClient

    if workspace is None or uri != default_tracking_uri(workspace):
        refuse_foreign_schema(uri)  # aitrace's embedded store follows aitrace's MLflow
    if workspace is not None and uri == default_tracking_uri(workspace) and \
            not (workspace.dir / "mlflow.db").exists():
        with workspace.lock():
            return MlflowClient(tracking_uri=uri)
    return MlflowClient(tracking_uri=uri)


def _is_missing(exc: BaseException) -> bool:
    return getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST"


def ensure_experiment(client: Any, name: str, location: str | None) -> str:
    """The id of experiment ``name``, created (with ``location``) when it does not exist."""
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return str(client.create_experiment(name, artifact_location=location))
        except MlflowException:  # another process created it first
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.lifecycle_stage == "deleted":
        raise MlflowLinkError(
            f"MLflow experiment '{name}' (id {exp.experiment_id}) is deleted",
            hint=f"restore it (`mlflow experiments restore --experiment-id "
                 f"{exp.experiment_id}`) or set mlflow.experiment in aitrace.yaml")
    return str(exp.experiment_id)


@dataclass(frozen=True)
class PreparedStore:
    """aitrace's store, opened, with the step runs' experiment: what writing a run needs."""

    uri: str
    client: Any
    experiment_id: str


def prepare_store(workspace: Workspace) -> PreparedStore:
    """Import MLflow, open aitrace's store and ensure its experiment (the slow part)."""
    uri = tracking_uri(workspace)
    with quiet_mlflow():
        client = _client(uri, workspace)
        experiment_id = ensure_experiment(client, experiment_name(workspace),
                                          artifact_location(workspace, uri))
    return PreparedStore(uri=uri, client=client, experiment_id=experiment_id)


# ---------------------------------------------------------------------------- the step run


def mlflow_key(name: str) -> str:
    """``name`` made acceptable as an MLflow param/metric key (MLflow rejects some characters)."""
    key = _BAD_KEY_CHARS.sub("_", name)[:_MAX_KEY]
    parts = [p for p in key.split("/") if p not in ("", ".", "..")]
    if "/".join(parts) != key:
        key = key.replace("/", "_")
    if key in ("", ".", "..") or key.startswith(".."):
        key = "_" + key
    return key


def _step_tags(rec: Step, root: str, run_name: str) -> dict[str, str]:
    tags = {
        TAG_RECORD_ID: rec.record_id, TAG_STEP_ID: rec.id, TAG_STAGE: rec.stage,
        TAG_STATUS: rec.status or "failed", TAG_WORKSPACE: root,
        TAG_ROLE: "step", "mlflow.runName": run_name, "mlflow.user": rec.actor.user,
    }
    exit_code = rec.command.exit_code if rec.command is not None else None
    if exit_code is not None:
        tags[TAG_EXIT_CODE] = str(exit_code)
    code = rec.code
    if code is not None:
        for key, value in (("mlflow.source.git.commit", code.commit),
                           ("mlflow.source.git.branch", code.branch),
                           ("mlflow.source.git.repoURL", code.remote)):
            if value:
                tags[key] = scrub(value)
    if rec.description:
        tags["mlflow.note.content"] = scrub(rec.description)[:_MAX_TAG_VALUE]
    return tags


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


@dataclass(frozen=True)
class StepRunContents:
    """What a step run holds, as MLflow stores it (keys rewritten, values trimmed)."""

    run_name: str
    start_ms: int | None
    end_ms: int | None
    status: str
    params: tuple[tuple[str, str], ...]  # pairs: two names may become one key (MLflow refuses)
    metrics: tuple[tuple[str, float], ...]
    tags: dict[str, str]


def step_run_contents(rec: Step, root: str) -> StepRunContents:
    """The step run of ``rec``: one definition for MLflow's client and the direct SQLite path."""
    # Step ids start with a millisecond clock: 12 hex digits tell steps apart (8 would repeat
    # for every step in the same ~65 s) and are an id prefix `aitrace show` accepts.
    run_name = f"{rec.stage}-{rec.id[:12]}"
    return StepRunContents(
        run_name=run_name, start_ms=to_millis(rec.started_at), end_ms=to_millis(rec.ended_at),
        status=_STATUS.get(rec.status or "failed", "FAILED"),
        params=tuple((mlflow_key(k), scrub(v)[:_MAX_PARAM_VALUE]) for k, v in rec.params.items()),
        metrics=tuple((mlflow_key(k), float(v)) for k, v in rec.metrics.items()),
        tags=_step_tags(rec, root, run_name))


def _write_step_run(client: Any, experiment_id: str, rec: Step, root: str) -> Any:
    """Create the step run and write its data in as few calls as MLflow's limits allow."""
    from mlflow.entities import Metric, Param, RunTag

    run = step_run_contents(rec, root)
    created = client.create_run(experiment_id, start_time=run.start_ms, run_name=run.run_name)
    run_id = created.info.run_id
    params = [Param(k, v) for k, v in run.params]
    metrics = [Metric(k, v, run.end_ms or 0, 0) for k, v in run.metrics]
    tags = [RunTag(k, v) for k, v in run.tags.items()]
    param_batches = list(_chunks(params, _PARAMS_TAGS_PER_BATCH)) or [[]]
    metric_batches = list(_chunks(metrics, _METRICS_PER_BATCH - _PARAMS_TAGS_PER_BATCH * 2))
    tag_batches = list(_chunks(tags, _PARAMS_TAGS_PER_BATCH))
    for i in range(max(len(param_batches), len(metric_batches), len(tag_batches))):
        client.log_batch(
            run_id,
            metrics=metric_batches[i] if i < len(metric_batches) else [],
            params=param_batches[i] if i < len(param_batches) else [],
            tags=tag_batches[i] if i < len(tag_batches) else [])
    with _no_run_url():
        client.set_terminated(run_id, status=run.status, end_time=run.end_ms)
    return client.get_run(run_id)


@contextlib.contextmanager
def _no_run_url() -> Iterator[None]:
    """Keep MLflow from printing the step run's URL (with any credentials in it) to stdout."""
    name = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"
    previous = os.environ.get(name)
    os.environ[name] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def run_data_sha256(run: Any, *, legacy: bool = False) -> str:
    """``data_sha256`` of an MLflow ``Run`` entity (aitrace's own step run).

    ``legacy``: as a format v1 step computes it (see ``observe.data_sha256``).
    """
    data = run.data
    doc = run_data_document(data.params, data.metrics, data.tags)
    return legacy_canonical_digest(doc) if legacy else canonical_digest(doc)


def log_step_run(prepared: PreparedStore, rec: Step, workspace: Workspace) -> MlflowLink:
    """Write the step's run in aitrace's store and return its link."""
    if not re.match(r"^[0-9a-f]+$", rec.id):
        raise InputError(f"step id {rec.id!r} is not hexadecimal")  # ids are ours; be strict
    with quiet_mlflow():
        run = _write_step_run(prepared.client, prepared.experiment_id, rec,
                              str(workspace.root))
    return MlflowLink(tracking_uri=display_uri(prepared.uri, workspace.root),
                      experiment_id=str(run.info.experiment_id), run_id=str(run.info.run_id),
                      role="step", run_name=run.info.run_name or None,
                      data_sha256=run_data_sha256(run, legacy=rec.format == STEP_FORMAT_V1))


def direct_store(workspace: Workspace) -> Path | None:
    """The embedded store's file when a step run can be written without MLflow (``sqlwrite``)."""
    from aitrace.evidence.mlflow.sqlwrite import can_write

    uri = tracking_uri(workspace)
    if uri != default_tracking_uri(workspace):
        return None
    db = workspace.dir / "mlflow.db"
    return db if can_write(db, experiment_name(workspace)) else None


def log_step_run_direct(rec: Step, workspace: Workspace) -> MlflowLink | None:
    """``log_step_run`` without importing MLflow, into the embedded store; ``None``: not here.

    The link is built from the rows as read back, as ``check_links`` reads them.
    """
    from aitrace.evidence.mlflow.observe import data_sha256
    from aitrace.evidence.mlflow.sqlwrite import write_step_run

    if not re.match(r"^[0-9a-f]+$", rec.id):
        raise InputError(f"step id {rec.id!r} is not hexadecimal")  # ids are ours; be strict
    uri = tracking_uri(workspace)
    if uri != default_tracking_uri(workspace):
        return None
    db = workspace.dir / "mlflow.db"
    run_id = write_step_run(db, experiment_name(workspace),
                            step_run_contents(rec, str(workspace.root)))
    if run_id is None:
        return None
    found = SqliteReader(db).get(run_id)
    if found is None:  # committed, so only a store deleted in between; the client path reports
        return None
    return MlflowLink(tracking_uri=display_uri(uri, workspace.root),
                      experiment_id=found.experiment_id, run_id=run_id, role="step",
                      run_name=found.run_name,
                      data_sha256=data_sha256(found, legacy=rec.format == STEP_FORMAT_V1))


# ---------------------------------------------------------------------------- verification


def check_links(step: Step, tracking_uri: str | None = None,
                root: Path | None = None) -> list[LinkProblem]:
    """Re-read each run linked to ``step``, read-only, and report any that changed or vanished.

    ``tracking_uri`` overrides every link's stored URI (the store moved, or the stored URI had
    credentials stripped and they come from elsewhere); stores named relative to the
    workspace are found under ``root`` (default: the current directory). An empty list means
    every run matches.
    """
    problems: list[LinkProblem] = []
    base = root or Path.cwd()
    for link in step.mlflow:
        uri = tracking_uri or link.tracking_uri
        try:
            run = _read_run(uri, link, base, legacy=step.format == STEP_FORMAT_V1)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reported problem
            detail = exc.message if isinstance(exc, AitraceError) else \
                f"{type(exc).__name__}: {scrub(str(exc))[:300]}"
            problems.append(LinkProblem(link, f"cannot read the run ({detail})"))
            continue
        if run is None:
            problems.append(LinkProblem(link, "the run no longer exists"))
        elif run[0] == "deleted":
            problems.append(LinkProblem(link, "the run was deleted"))
        elif link.data_sha256 is None:
            problems.append(LinkProblem(link, "the step recorded no data digest for the run"))
        elif run[1] != link.data_sha256:
            problems.append(LinkProblem(
                link, f"params, metrics or tags changed since the step ended "
                      f"(data_sha256 {link.data_sha256[:12]}… now {run[1][:12]}…)"))
    return problems


def _read_run(uri: str, link: MlflowLink, base: Path, *,
              legacy: bool = False) -> tuple[str, str] | None:
    """``(lifecycle stage, data_sha256)`` of a linked run, or ``None`` when it is gone."""
    reader = open_store(uri, base)
    if reader is not None:
        try:
            found = reader.get(link.run_id)
        except StoreReadError:
            raise
        return ((found.lifecycle_stage, data_sha256(found, legacy=legacy))
                if found is not None else None)
    if link.role != "step":
        raise StoreReadError(f"{scrub(uri)} cannot be read without MLflow's client, which "
                             "may write to a user's store")
    with quiet_mlflow():
        try:
            run = _client(uri).get_run(link.run_id)
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise
    return str(run.info.lifecycle_stage), run_data_sha256(run, legacy=legacy)
