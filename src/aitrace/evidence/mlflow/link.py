"""Link steps to MLflow runs: one run per step, plus the runs user code started inside it.

When a step ends (``MlflowSource``, the tracker's last contributor) :func:`link_step_runs` writes
a *step run* holding the step's tags, params, metrics and status, then finds the runs the user's
code started inside the step — in-process, or in the child of ``aitrace run`` — which the
run-context provider (``aitrace.integrations.mlflow_context``) tagged with ``aitrace.step_id``.
Each link stores the tracking URI (credentials stripped), experiment id, run id and a digest of
the run's data, so a later edit of the run in MLflow is detectable (:func:`check_links`).

The step run is named ``<stage>-<first 12 hex digits of the step id>`` and tagged
``aitrace.record_id``, ``aitrace.step_id``, ``aitrace.stage``, ``aitrace.status``,
``aitrace.workspace``, ``aitrace.run_role=step`` (and ``aitrace.exit_code`` for ``aitrace run``),
with MLflow's ``mlflow.user`` and ``mlflow.source.git.*`` from the step; its status is FINISHED,
FAILED or KILLED for a succeeded, failed or interrupted step. Keys MLflow rejects are rewritten
(:func:`mlflow_key`); the step itself keeps the original names.

User runs are searched (by the ``aitrace.step_id`` tag, across all experiments) in the step's
store and in every store an in-process user run was started against — MLflow's default
``./mlflow.db`` when the user set no tracking URI. A script that calls
``mlflow.set_tracking_uri()`` itself in the child of ``aitrace run`` is not followed there.

Where runs go:

* tracking URI: ``MLFLOW_TRACKING_URI``, else ``mlflow.tracking_uri`` in ``aitrace.yaml`` (a
  relative ``sqlite:///`` path is taken from the project root), else the embedded store
  ``sqlite:///<root>/.aitrace/mlflow.db``;
* experiment: ``mlflow.experiment`` in ``aitrace.yaml``, else ``aitrace/<record name>``, created
  with an explicit artifact location (``mlflow.artifact_location``, else ``<root>/.aitrace/mlruns``
  for local stores; a tracking server keeps its own default) so artifacts never land in
  ``./mlruns`` of whatever directory a script ran in.

Run data digest (``data_sha256``): SHA-256 of the canonical JSON (``aitrace.record.jsonio``:
RFC 8785 for format v2 steps, Python's canonical form for v1 steps) of::

    {"format": "aitrace.mlflow-run-data/v1",
     "params": {key: value},               # all params
     "metrics": {key: latest value},       # non-finite values as "NaN"/"Infinity"/"-Infinity"
     "tags": {key: value}}                 # see below

``tags`` holds every tag outside MLflow's ``mlflow.`` system namespace plus the system tags that
identify where a run came from (:data:`DIGESTED_SYSTEM_TAGS`). The other ``mlflow.*`` tags are
left out on purpose: MLflow and its UI rewrite them after the fact (a run renamed in the UI, a
note edited, a model logged later appends ``mlflow.log-model.history``), and those are not
edits of the run's results.

MLflow is imported only inside these functions; its warnings and log lines are kept off the
user's terminal while aitrace talks to it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote
from urllib.request import pathname2url

from aitrace.errors import AitraceError, InputError
from aitrace.hooks.redact import scrub
from aitrace.record.jsonio import canonical_digest, legacy_canonical_digest
from aitrace.record.models import STEP_FORMAT_V1, MlflowLink
from aitrace.record.refs import is_uri
from aitrace.record.times import to_millis

if TYPE_CHECKING:
    from aitrace.hooks.handle import FinishingStep
    from aitrace.record.models import Step
    from aitrace.store.workspace import Workspace

RUN_DATA_FORMAT = "aitrace.mlflow-run-data/v1"
# The tags aitrace puts on MLflow runs; aitrace.integrations.mlflow_context repeats the first four
# (MLflow imports that module for every run, so it imports nothing of aitrace; a test checks).
TAG_RECORD_ID = "aitrace.record_id"
TAG_STEP_ID = "aitrace.step_id"
TAG_STAGE = "aitrace.stage"
TAG_WORKSPACE = "aitrace.workspace"
TAG_STATUS = "aitrace.status"
TAG_ROLE = "aitrace.run_role"
TAG_EXIT_CODE = "aitrace.exit_code"

#: ``mlflow.*`` tags included in ``data_sha256``: set once when a run starts, never by the UI.
DIGESTED_SYSTEM_TAGS = frozenset({
    "mlflow.user", "mlflow.source.name", "mlflow.source.type", "mlflow.source.git.commit",
    "mlflow.source.git.branch", "mlflow.source.git.repoURL", "mlflow.parentRunId",
})

ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
ENV_EXPERIMENT_NAME = "MLFLOW_EXPERIMENT_NAME"
ENV_EXPERIMENT_ID = "MLFLOW_EXPERIMENT_ID"
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
    """The MLflow store refused or could not hold the step's run."""


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
    return _sqlite_uri(workspace.dir / "mlflow.db")


def _sqlite_uri(path: Path) -> str:
    return "sqlite:///" + pathname2url(os.path.abspath(path))


def tracking_uri(workspace: Workspace) -> str:
    """The tracking URI steps are linked in (env, then ``aitrace.yaml``, then embedded)."""
    env = os.environ.get(ENV_TRACKING_URI)
    if env:
        return env
    configured = workspace.config.section("mlflow").get("tracking_uri")
    if configured in (None, ""):
        return default_tracking_uri(workspace)
    text = str(configured)
    if text.startswith("sqlite:///") and not text.startswith("sqlite:////"):
        # A relative SQLite path is the project's, not the current directory's.
        return _sqlite_uri(workspace.root / unquote(text[len("sqlite:///"):]))
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

    Sets ``MLFLOW_DISABLE_TELEMETRY`` before MLflow is first imported. Logger levels are lowered
    after the import, because importing MLflow configures its own loggers.
    """
    os.environ.setdefault(ENV_TELEMETRY, "true")
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


def _client(uri: str, workspace: Workspace | None = None) -> Any:
    """An ``MlflowClient`` for ``uri``; the first use of the embedded store creates its DB.

    Creating the embedded DB runs MLflow's migrations; it is done under the workspace lock so
    two processes starting at once do not migrate the same file together.
    """
    from mlflow import MlflowClient

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


def run_env(workspace: Workspace) -> dict[str, str]:
    """Environment for the child of ``aitrace run``, so its own MLflow runs land with the step's.

    Returns ``MLFLOW_TRACKING_URI`` and ``MLFLOW_EXPERIMENT_NAME`` unless the user set them (or
    ``MLFLOW_EXPERIMENT_ID``), and ``MLFLOW_DISABLE_TELEMETRY=true``. The experiment is created
    here, with its artifact location, because MLflow would otherwise create it on the child's
    first run with artifacts in the child's ``./mlruns``. If the store cannot be reached, the
    experiment is left out (the child's runs still carry the step's tags and are found by them).
    """
    env = {ENV_TELEMETRY: "true"}
    uri = tracking_uri(workspace)
    if not os.environ.get(ENV_TRACKING_URI):
        env[ENV_TRACKING_URI] = uri
    if os.environ.get(ENV_EXPERIMENT_NAME) or os.environ.get(ENV_EXPERIMENT_ID):
        return env
    name = experiment_name(workspace)
    try:
        with quiet_mlflow():
            ensure_experiment(_client(uri, workspace), name, artifact_location(workspace, uri))
    except Exception as exc:  # noqa: BLE001 - the user's command runs regardless
        detail = exc.diagnostics() if isinstance(exc, AitraceError) else \
            f"{type(exc).__name__}: {exc}"
        print(f"aitrace: warning: MLflow experiment '{name}' not prepared ({scrub(detail)})",
              file=sys.stderr)
        return env
    env[ENV_EXPERIMENT_NAME] = name
    return env


# ---------------------------------------------------------------------------- run data digest


def _json_number(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float(value)


def run_data_document(run: Any) -> dict[str, Any]:
    """What ``data_sha256`` covers for an MLflow ``Run`` (see the module docstring)."""
    data = run.data
    return {
        "format": RUN_DATA_FORMAT,
        "params": {str(k): str(v) for k, v in data.params.items()},
        "metrics": {str(k): _json_number(v) for k, v in data.metrics.items()},
        "tags": {str(k): str(v) for k, v in data.tags.items()
                 if not k.startswith("mlflow.") or k in DIGESTED_SYSTEM_TAGS},
    }


def run_data_sha256(run: Any, *, legacy: bool = False) -> str:
    """``data_sha256`` of an MLflow ``Run`` object (``legacy``: as a format v1 step has it)."""
    doc = run_data_document(run)
    return legacy_canonical_digest(doc) if legacy else canonical_digest(doc)


def run_data_digest(client: Any, run_id: str) -> str:
    """``data_sha256`` of the run as the store holds it now."""
    with quiet_mlflow():
        return run_data_sha256(client.get_run(run_id))


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


def _log_step_run(client: Any, experiment_id: str, rec: Step, root: str) -> Any:
    """Create the step run and write its data in as few calls as MLflow's limits allow."""
    from mlflow.entities import Metric, Param, RunTag

    # Step ids start with a millisecond clock: 12 hex digits tell steps apart (8 would repeat
    # for every step in the same ~65 s) and are an id prefix `aitrace show` accepts.
    run_name = f"{rec.stage}-{rec.id[:12]}"
    start, end = to_millis(rec.started_at), to_millis(rec.ended_at)
    run = client.create_run(experiment_id, start_time=start, run_name=run_name)
    run_id = run.info.run_id
    params = [Param(mlflow_key(k), scrub(v)[:_MAX_PARAM_VALUE])
              for k, v in rec.params.items()]
    metrics = [Metric(mlflow_key(k), float(v), end or 0, 0) for k, v in rec.metrics.items()]
    tags = [RunTag(k, v) for k, v in _step_tags(rec, root, run_name).items()]
    param_batches = list(_chunks(params, _PARAMS_TAGS_PER_BATCH)) or [[]]
    metric_batches = list(_chunks(metrics, _METRICS_PER_BATCH - _PARAMS_TAGS_PER_BATCH * 2))
    tag_batches = list(_chunks(tags, _PARAMS_TAGS_PER_BATCH))
    for i in range(max(len(param_batches), len(metric_batches), len(tag_batches))):
        client.log_batch(
            run_id,
            metrics=metric_batches[i] if i < len(metric_batches) else [],
            params=param_batches[i] if i < len(param_batches) else [],
            tags=tag_batches[i] if i < len(tag_batches) else [])
    client.set_terminated(run_id, status=_STATUS.get(rec.status or "failed", "FAILED"),
                          end_time=end)
    return client.get_run(run_id)


def _tagged_runs(client: Any, step_id: str) -> list[Any]:
    """Every run in the store tagged with this step id, across all experiments."""
    from mlflow.entities import ViewType

    ids: list[str] = []
    token = None
    while True:
        page = client.search_experiments(view_type=ViewType.ALL, max_results=1000,
                                         page_token=token)
        ids.extend(str(e.experiment_id) for e in page)
        token = page.token
        if not token:
            break
    found: list[Any] = []
    flt = f"tags.`{TAG_STEP_ID}` = '{step_id}'"
    for chunk in _chunks(ids, 100):
        token = None
        while True:
            runs = client.search_runs(chunk, filter_string=flt, run_view_type=ViewType.ALL,
                                      max_results=1000, page_token=token)
            found.extend(runs)
            token = runs.token
            if not token:
                break
    return sorted(found, key=lambda r: (r.info.start_time or 0, r.info.run_id))


def _link(uri: str, run: Any, role: str) -> MlflowLink:
    return MlflowLink(tracking_uri=public_uri(uri), experiment_id=str(run.info.experiment_id),
                      run_id=str(run.info.run_id), role=role,  # type: ignore[arg-type]
                      run_name=run.info.run_name or None, data_sha256=run_data_sha256(run))


def link_step_runs(finishing: FinishingStep) -> list[MlflowLink]:
    """Write the step's MLflow run and link the runs user code started inside the step.

    Called when a step ends (with MLflow enabled). User runs are searched in the step's store
    and in every store an in-process user run was started against.
    """
    ws = finishing.workspace
    rec = finishing.step
    uri = tracking_uri(ws)
    if not re.match(r"^[0-9a-f]+$", rec.id):
        raise InputError(f"step id {rec.id!r} is not hexadecimal")  # ids are ours; be strict
    with quiet_mlflow():
        client = _client(uri, ws)
        experiment_id = ensure_experiment(client, experiment_name(ws), artifact_location(ws, uri))
        step_run = _log_step_run(client, experiment_id, rec, str(ws.root))
        links = [_link(uri, step_run, "step")]
        stores = [uri, *(u for u in finishing.mlflow_stores if u != uri)]
        for store in stores:
            store_client = client if store == uri else _client(store)
            for run in _tagged_runs(store_client, rec.id):
                if run.info.run_id != step_run.info.run_id:
                    links.append(_link(store, run, "user"))
    return links


# ---------------------------------------------------------------------------- verification


def check_links(step: Step, tracking_uri: str | None = None) -> list[LinkProblem]:
    """Re-read each run linked to ``step`` and report any whose data changed or vanished.

    ``tracking_uri`` overrides every link's stored URI (the store moved, or the stored URI had
    credentials stripped and they come from elsewhere). An empty list means every run matches.
    """
    problems: list[LinkProblem] = []
    clients: dict[str, Any] = {}
    for link in step.mlflow:
        uri = tracking_uri or link.tracking_uri
        try:
            with quiet_mlflow():
                if uri not in clients:
                    clients[uri] = _client(uri)
                run = clients[uri].get_run(link.run_id)
                actual = run_data_sha256(run, legacy=step.format == STEP_FORMAT_V1)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reported problem
            if _is_missing(exc):
                problems.append(LinkProblem(link, "the run no longer exists"))
            else:
                problems.append(LinkProblem(
                    link, f"cannot read the run ({type(exc).__name__}: {scrub(str(exc))[:300]})"))
            continue
        if run.info.lifecycle_stage == "deleted":
            problems.append(LinkProblem(link, "the run was deleted"))
        elif link.data_sha256 is None:
            problems.append(LinkProblem(link, "the step recorded no data digest for the run"))
        elif actual != link.data_sha256:
            problems.append(LinkProblem(
                link, f"params, metrics or tags changed since the step ended "
                      f"(data_sha256 {link.data_sha256[:12]}… now {actual[:12]}…)"))
    return problems
