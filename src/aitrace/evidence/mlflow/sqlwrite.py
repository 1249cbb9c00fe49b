"""aitrace's step run written straight into its embedded SQLite store, without importing MLflow.

Importing MLflow and opening a store costs a step ~1.5–2.5 s of CPU; for a short command that is
the whole step overhead (issue 13). aitrace's embedded store (``.aitrace/mlflow.db``) is a SQLite
file aitrace's own MLflow created. Once it holds aitrace's experiment, at a schema this module
knows — an alembic revision in ``KNOWN_REVISIONS`` and exactly the columns in ``_COLUMNS`` — a
step run is written as the rows MLflow's ``create_run`` + ``log_batch`` + ``set_terminated``
write: one ``runs`` row, its ``tags``, ``params``, ``metrics`` and ``latest_metrics``, in one
``BEGIN IMMEDIATE`` transaction (MLflow's own writers wait on the same SQLite lock).

Anything else — no store or experiment yet, another schema, a deleted experiment, a non-finite
metric, a key MLflow would refuse (two names made one), any SQLite error — answers ``None``, and
the caller uses MLflow's client exactly as before. A test writes the same step both ways and
compares what MLflow's client reads back. Only the embedded store is written this way: a store
the user configured may be shared with other MLflow versions, and a tracking server has its own
rules.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aitrace.evidence.mlflow.link import StepRunContents

KNOWN_REVISIONS: frozenset[str] = frozenset({"dc11669786a5"})
"""Alembic revisions of MLflow's tracking schema whose run tables this module writes (MLflow 3.17;
add one only with the test that compares this writer with MLflow's client passing)."""

_COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("run_uuid", "name", "source_type", "source_name", "entry_point_name", "user_id",
             "status", "start_time", "end_time", "source_version", "lifecycle_stage",
             "artifact_uri", "experiment_id", "deleted_time"),
    "tags": ("key", "value", "run_uuid"),
    "params": ("key", "value", "run_uuid"),
    "metrics": ("key", "value", "timestamp", "run_uuid", "step", "is_nan"),
    "latest_metrics": ("key", "value", "timestamp", "step", "is_nan", "run_uuid"),
    "experiments": ("experiment_id", "name", "artifact_location", "lifecycle_stage",
                    "creation_time", "last_update_time", "workspace"),
}


@dataclass(frozen=True)
class _Experiment:
    experiment_id: str
    artifact_location: str


def _experiment(con: sqlite3.Connection, name: str) -> _Experiment | None:
    """The step runs' experiment if this module knows the store's schema, else ``None``."""
    row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    if row is None or str(row[0]) not in KNOWN_REVISIONS:
        return None
    for table, columns in _COLUMNS.items():
        found = tuple(str(r[1]) for r in con.execute(f"PRAGMA table_info({table})"))
        if found != columns:
            return None
    exp = con.execute("SELECT experiment_id, artifact_location, lifecycle_stage FROM experiments "
                      "WHERE name = ? AND workspace = 'default'", (name,)).fetchone()
    if exp is None or exp[2] != "active" or not str(exp[1] or "").startswith("file:///"):
        return None  # MLflow creates it, reports a deleted one, and builds other locations
    return _Experiment(experiment_id=str(exp[0]), artifact_location=str(exp[1]).rstrip("/"))


def can_write(db: Path, experiment: str) -> bool:
    """Whether a step run can be written here without MLflow (read-only look, no lock)."""
    if not db.is_file():
        return False
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return False
    try:
        return _experiment(con, experiment) is not None
    except sqlite3.Error:
        return False
    finally:
        con.close()


def write_step_run(db: Path, experiment: str, run: StepRunContents) -> str | None:
    """Write ``run`` into ``db`` as MLflow would; its run id, or ``None`` (use MLflow's client).

    Rows MLflow would refuse (a repeated param key, a non-finite metric) are left to MLflow's
    client, so its error, not a different row, is what the step reports.
    """
    if not db.is_file() or any(not math.isfinite(v) for _k, v in run.metrics):
        return None
    for pairs in (run.params, run.metrics):
        if len({k for k, _v in pairs}) != len(pairs):
            return None
    try:
        con = sqlite3.connect(db, timeout=30, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        con.execute("BEGIN IMMEDIATE")
        try:
            run_id = _insert(con, experiment, run)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if run_id is None:
            con.execute("ROLLBACK")
            return None
        con.execute("COMMIT")
        return run_id
    except sqlite3.Error:
        return None
    finally:
        with contextlib.suppress(sqlite3.Error):
            con.close()


def _insert(con: sqlite3.Connection, experiment: str, run: StepRunContents) -> str | None:
    exp = _experiment(con, experiment)
    if exp is None:
        return None
    run_id = uuid.uuid4().hex  # as MLflow's SQLAlchemy store makes run ids
    con.execute(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
        "status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, "
        "experiment_id, deleted_time) VALUES (?, ?, 'UNKNOWN', '', '', 'unknown', ?, ?, ?, '', "
        "'active', ?, ?, NULL)",
        (run_id, run.run_name, run.status, run.start_ms, run.end_ms,
         f"{exp.artifact_location}/{run_id}/artifacts", int(exp.experiment_id)))
    con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                    [(k, v, run_id) for k, v in run.tags.items()])
    con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                    [(k, v, run_id) for k, v in run.params])
    stamp = run.end_ms or 0
    con.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                    "VALUES (?, ?, ?, ?, 0, 0)", [(k, v, stamp, run_id) for k, v in run.metrics])
    con.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                    "VALUES (?, ?, ?, 0, 0, ?)",
                    [(k, v, stamp, run_id) for k, v in run.metrics])
    return run_id
