"""Find the MLflow runs a step's own code created or resumed, in the user's store, read-only.

aitrace never points the user's code at a store or experiment (the child of ``aitrace run``
gets no ``MLFLOW_*`` variable from aitrace); it looks, after the fact, where the code wrote:

* **which stores** — the child's ``MLFLOW_TRACKING_URI`` when it has one, else MLflow's
  defaults in the child's working directory (``./mlruns``, MLflow 2.x's file store, and
  ``./mlflow.db``, MLflow 3.x's SQLite store), plus every store a run was started against as
  reported by aitrace's run-context provider (in-process, or in a child that can import aitrace);
* **which runs** — runs tagged with the step's id by that provider; for ``aitrace run``, also
  runs that started or ended within the step's time window (MLflow records no process id, so
  the window stands in for the process tree), and the run named by ``MLFLOW_RUN_ID`` in the
  child's environment (a resumed run; ``mlflow run`` hands its child one that way). A run tagged
  with *another* step's id is never linked, nor aitrace's own step runs
  (``aitrace.run_role=step``), wherever the stores are. Each link says how it was found
  (``linked_by``).

What the links carry into the step (``observe_user_runs``):

* params and metrics of the linked runs, **namespaced** ``mlflow.<key>`` — or
  ``mlflow.<run name>.<key>`` for a key whose value differs between linked runs (a run without
  a name is named by the first 12 hex digits of its id); non-finite metrics are left out;
* the run's local artifact folder as a product (role ``mlflow-artifacts``), and each MLflow
  model folder in it (a folder holding an ``MLmodel`` file) as a product with role ``model``.

Stores are read by ``aitrace.evidence.mlflow.stores`` (never through MLflow's client, which
would migrate an older SQLite schema). Links name local stores inside the workspace relative
to its root (``sqlite:///mlflow.db``, ``mlruns``) and others by URI, credentials stripped.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from aitrace.evidence.mlflow.stores import (
    RunData,
    StoreReader,
    StoreReadError,
    absolute_uri,
    file_store_path,
    open_store,
    sqlite_path,
)
from aitrace.hooks.handle import FinishingStep, FoundOutput
from aitrace.hooks.redact import scrub
from aitrace.record.jsonio import canonical_digest, legacy_canonical_digest
from aitrace.record.models import MLFLOW_VALUE_PREFIX, STEP_FORMAT_V1, MlflowLink
from aitrace.record.times import to_millis

RUN_DATA_FORMAT = "aitrace.mlflow-run-data/v1"
TAG_STEP_ID = "aitrace.step_id"
TAG_ROLE = "aitrace.run_role"
ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
ENV_RUN_ID = "MLFLOW_RUN_ID"
VALUE_PREFIX = MLFLOW_VALUE_PREFIX
ROLE_RUN_ARTIFACTS = "mlflow-artifacts"

#: ``mlflow.*`` tags included in ``data_sha256``: set once when a run starts, never by the UI.
DIGESTED_SYSTEM_TAGS = frozenset({
    "mlflow.user", "mlflow.source.name", "mlflow.source.type", "mlflow.source.git.commit",
    "mlflow.source.git.branch", "mlflow.source.git.repoURL", "mlflow.parentRunId",
})
_LABEL_CHARS = re.compile(r"[^\w\-]")
V = TypeVar("V", str, float)


# ---------------------------------------------------------------------------- run data digest


def _json_number(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float(value)


def run_data_document(params: Mapping[str, str], metrics: Mapping[str, float],
                      tags: Mapping[str, str]) -> dict[str, object]:
    """What ``data_sha256`` covers (see ``aitrace.evidence.mlflow.link``)."""
    return {
        "format": RUN_DATA_FORMAT,
        "params": {str(k): str(v) for k, v in params.items()},
        "metrics": {str(k): _json_number(float(v)) for k, v in metrics.items()},
        "tags": {str(k): str(v) for k, v in tags.items()
                 if not k.startswith("mlflow.") or k in DIGESTED_SYSTEM_TAGS},
    }


def data_sha256(run: RunData, *, legacy: bool = False) -> str:
    """``data_sha256`` of a run as a store reader returned it.

    ``legacy``: canonical JSON as a format v1 step computes digests (a v1 workspace keeps
    writing v1 steps until ``aitrace migrate``; its links must be checked the same way).
    """
    doc = run_data_document(run.params, run.metrics, run.tags)
    return legacy_canonical_digest(doc) if legacy else canonical_digest(doc)


# ---------------------------------------------------------------------------- stores


def display_uri(uri: str, root: Path) -> str:
    """How a link names a store: local stores inside the workspace relative to its root."""
    db = sqlite_path(uri, root)
    if db is not None:
        try:
            return "sqlite:///" + db.relative_to(root).as_posix()
        except ValueError:
            return uri
    folder = file_store_path(uri, root)
    if folder is not None:
        try:
            return folder.relative_to(root).as_posix() or "."
        except ValueError:
            return folder.as_uri()
    return scrub(uri)


def child_stores(step: FinishingStep) -> list[str]:
    """The stores (absolute URIs) the step's code may have written runs to."""
    uris: list[str] = []
    launch = step.launch
    if launch is not None:
        cwd = Path(launch.cwd)
        configured = launch.env.get(ENV_TRACKING_URI)
        if configured:
            uris.append(absolute_uri(configured, cwd))
        else:
            uris += [(cwd / "mlruns").as_uri(), absolute_uri("sqlite:///mlflow.db", cwd)]
    uris += [absolute_uri(u, step.workspace.root) for u in step.mlflow_stores]
    seen: set[str] = set()
    return [u for u in uris if not (u in seen or seen.add(u))]  # type: ignore[func-returns-value]


# ---------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class Found:
    """A user run linked to the step, the store it is in, and how it was found."""

    store: StoreReader
    run: RunData
    linked_by: str


@dataclass
class Observation:
    """What observing a step's stores found: links, namespaced values, products, problems."""

    links: list[MlflowLink] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    outputs: list[FoundOutput] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def find_runs(store: StoreReader, *, step_id: str, since_ms: int | None,
              until_ms: int | None, resumed: str | None) -> list[Found]:
    """The runs of ``store`` that belong to the step (see the module docstring)."""
    found: dict[str, Found] = {}
    for run in store.tagged(TAG_STEP_ID, step_id):
        if run.tags.get(TAG_ROLE) != "step":  # aitrace's own step run
            found[run.run_id] = Found(store, run, "tag")
    if since_ms is not None and until_ms is not None:
        for run in store.recent(since_ms):
            other = run.tags.get(TAG_STEP_ID)
            if run.run_id in found or run.tags.get(TAG_ROLE) == "step" or \
                    (other is not None and other != step_id):
                continue
            started = run.start_time is not None and since_ms <= run.start_time <= until_ms
            ended = run.end_time is not None and since_ms <= run.end_time <= until_ms
            if started or ended:
                found[run.run_id] = Found(store, run, "time-window")
    if resumed and resumed not in found:
        again = store.get(resumed)
        if again is not None and again.tags.get(TAG_STEP_ID, step_id) == step_id and \
                again.tags.get(TAG_ROLE) != "step":
            found[again.run_id] = Found(store, again, "resumed")
    return sorted(found.values(), key=lambda f: (f.run.start_time or 0, f.run.run_id))


def observe_user_runs(step: FinishingStep) -> Observation:
    """Find and describe the user runs of ``step`` (never aitrace's own step runs)."""
    obs = Observation()
    rec = step.step
    root = step.workspace.root
    window = step.launch is not None
    since = to_millis(rec.started_at) if window else None
    until = (to_millis(rec.ended_at) or 0) + 1 if window else None
    resumed = step.launch.env.get(ENV_RUN_ID) if step.launch is not None else None
    found: list[Found] = []
    for uri in child_stores(step):
        cwd = Path(step.launch.cwd) if step.launch is not None else root
        store = open_store(uri, cwd)
        if store is None:
            obs.problems.append(f"{scrub(uri)}: aitrace reads only SQLite, file and HTTP "
                                "stores (without MLflow's client); runs there are not linked")
            continue
        try:
            if not store.exists():
                continue
            found += find_runs(store, step_id=rec.id, since_ms=since, until_ms=until,
                               resumed=resumed)
        except StoreReadError as exc:
            obs.problems.append(scrub(exc.message))
    for f in found:
        obs.links.append(MlflowLink(
            tracking_uri=display_uri(f.store.uri, root), experiment_id=f.run.experiment_id,
            run_id=f.run.run_id, role="user", run_name=f.run.run_name,
            data_sha256=data_sha256(f.run, legacy=rec.format == STEP_FORMAT_V1),
            linked_by=f.linked_by))  # type: ignore[arg-type]
        obs.outputs += artifact_outputs(f.run)
    obs.params, obs.metrics = namespaced_values([f.run for f in found])
    return obs


def _label(run: RunData) -> str:
    return _LABEL_CHARS.sub("_", run.run_name or "") or run.run_id[:12]


def namespaced_values(runs: Sequence[RunData]) -> tuple[dict[str, str], dict[str, float]]:
    """Params and metrics of linked runs under ``mlflow.`` (see the module docstring)."""
    live = [r for r in runs if r.lifecycle_stage == "active"]
    params: dict[str, str] = {}
    metrics: dict[str, float] = {}
    for key in sorted({k for r in live for k in r.params}):
        _spread(key, [(r, r.params[key]) for r in live if key in r.params], params)
    for key in sorted({k for r in live for k in r.metrics}):
        _spread(key, [(r, v) for r in live if key in r.metrics
                      and math.isfinite(v := r.metrics[key])], metrics)
    return params, metrics


def _spread(key: str, having: list[tuple[RunData, V]], target: dict[str, V]) -> None:
    """One ``mlflow.<key>`` when the runs agree, else one key per run."""
    if not having:
        return
    if all(v == having[0][1] for _, v in having):
        target[VALUE_PREFIX + key] = having[0][1]
        return
    for r, v in having:
        target[f"{VALUE_PREFIX}{_label(r)}.{key}"] = v


def artifact_outputs(run: RunData) -> list[FoundOutput]:
    """The run's local artifact folder and the MLflow model folders in it, as products."""
    folder = local_artifact_dir(run.artifact_uri)
    if folder is None or not folder.is_dir() or not any(folder.iterdir()):
        return []
    out = [FoundOutput(path=str(folder), role=ROLE_RUN_ARTIFACTS)]
    for dirpath, dirs, files in os.walk(folder):
        dirs.sort()
        if "MLmodel" in files and Path(dirpath) != folder:
            out.append(FoundOutput(path=dirpath, role="model"))
            dirs.clear()  # a model's own sub-folders are part of it
    return out


def local_artifact_dir(artifact_uri: str | None) -> Path | None:
    """The folder of a local artifact URI (``file:///…`` or a plain absolute path)."""
    if not artifact_uri:
        return None
    if artifact_uri.startswith("/"):
        return Path(artifact_uri)
    if artifact_uri.startswith("file:"):
        return file_store_path(artifact_uri, Path("/"))
    return None
