"""Reading MLflow stores without MLflow: the same runs MLflow's own client sees, bytes unchanged.

Each store is written by real MLflow (SQLite, and the file store that MLflow 2.x uses by
default), then read by aitrace's readers and compared with what ``MlflowClient`` reports.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import pytest

from aitrace.evidence.mlflow.link import run_data_sha256
from aitrace.evidence.mlflow.observe import data_sha256, display_uri
from aitrace.evidence.mlflow.stores import (
    FileStoreReader,
    SqliteReader,
    absolute_uri,
    file_store_path,
    open_store,
    sqlite_path,
)


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def _write_runs(uri: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[str]]:
    """Three runs: a rich one, a nested child, a deleted one (written by MLflow itself)."""
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(uri)
    exp = client.create_experiment("readers")
    rich = client.create_run(exp, run_name="rich")
    rid = rich.info.run_id
    client.log_param(rid, "alpha", "0.5")
    client.log_param(rid, "model/depth", "3")  # nested key: a sub-folder in the file store
    client.log_metric(rid, "mae", 2.0, step=0)
    client.log_metric(rid, "mae", 1.5, step=1)
    client.log_metric(rid, "mae", 9.0, step=0)  # later, lower step: not the latest
    client.log_metric(rid, "gap", math.nan)
    client.log_metric(rid, "ceiling", math.inf)
    client.set_tag(rid, "team", "pricing")
    client.set_terminated(rid)
    child = client.create_run(exp, run_name="child", tags={"mlflow.parentRunId": rid})
    client.set_terminated(child.info.run_id, status="FAILED")
    gone = client.create_run(exp, run_name="gone")
    client.delete_run(gone.info.run_id)
    del mlflow
    return client, [rid, child.info.run_id, gone.info.run_id]


@pytest.mark.parametrize("kind", ["sqlite", "file"])
def test_readers_agree_with_mlflow(kind: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"sqlite:///{tmp_path}/m.db" if kind == "sqlite" else (tmp_path / "mlruns").as_uri()
    client, ids = _write_runs(uri, monkeypatch)
    before = _tree_digest(tmp_path)
    reader = open_store(uri, tmp_path)
    assert isinstance(reader, SqliteReader if kind == "sqlite" else FileStoreReader)
    assert reader.exists()
    for run_id in ids:
        mine = reader.get(run_id)
        theirs = client.get_run(run_id)
        assert mine is not None
        assert mine.run_id == run_id and mine.experiment_id == theirs.info.experiment_id
        assert mine.status == theirs.info.status
        assert mine.lifecycle_stage == theirs.info.lifecycle_stage
        assert (mine.start_time, mine.end_time) == (theirs.info.start_time,
                                                    theirs.info.end_time)
        assert mine.run_name == theirs.info.run_name
        assert dict(mine.params) == theirs.data.params
        assert dict(mine.tags) == theirs.data.tags
        assert set(mine.metrics) == set(theirs.data.metrics)
        assert data_sha256(mine) == run_data_sha256(theirs)
    rich = reader.get(ids[0])
    assert rich is not None
    assert rich.metrics["mae"] == 1.5 and math.isnan(rich.metrics["gap"])
    assert rich.params["model/depth"] == "3"
    assert reader.get("0" * 32) is None
    assert {r.run_id for r in reader.tagged("team", "pricing")} == {ids[0]}
    assert {r.run_id for r in reader.recent(0)} == set(ids)
    latest = max(max(r.start_time or 0, r.end_time or 0) for r in reader.recent(0))
    assert reader.recent(latest + 1) == []
    assert _tree_digest(tmp_path) == before, "reading changed the store"


def test_sqlite_is_opened_read_only(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "m.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
    con.execute("INSERT INTO alembic_version VALUES ('0584bdc529eb')")
    con.commit()
    con.close()
    reader = SqliteReader(db)
    assert reader.schema_revision() == "0584bdc529eb"
    with reader._connect() as ro, pytest.raises(sqlite3.OperationalError, match="readonly"):
        ro.execute("INSERT INTO alembic_version VALUES ('x')")


def test_uris(tmp_path: Path) -> None:
    assert sqlite_path("sqlite:///mlflow.db", tmp_path) == tmp_path / "mlflow.db"
    assert sqlite_path("sqlite:////abs/m.db", tmp_path) == Path("/abs/m.db")
    assert sqlite_path("sqlite://", tmp_path) is None
    assert file_store_path("mlruns", tmp_path) == tmp_path / "mlruns"
    assert file_store_path("file:///x/mlruns", tmp_path) == Path("/x/mlruns")
    assert file_store_path("http://h:5000", tmp_path) is None
    assert absolute_uri("./mlruns", tmp_path) == (tmp_path / "mlruns").as_uri()
    assert absolute_uri("http://h:5000", tmp_path) == "http://h:5000"
    assert open_store("postgresql://u@h/db", tmp_path) is None
    assert open_store("databricks", tmp_path) is None
    # Links name stores inside the workspace relative to it, others by URI.
    assert display_uri(f"sqlite:///{tmp_path}/.aitrace/mlflow.db", tmp_path) == \
        "sqlite:///.aitrace/mlflow.db"
    assert display_uri((tmp_path / "mlruns").as_uri(), tmp_path) == "mlruns"
    assert display_uri("file:///elsewhere/mlruns", tmp_path) == "file:///elsewhere/mlruns"
    assert display_uri("http://bob:pw@h:5000", tmp_path) == "http://h:5000"


def test_file_store_skips_what_is_not_a_run(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    (root / "models" / "m").mkdir(parents=True)  # the model registry's folder
    (root / "0").mkdir()
    (root / "0" / "meta.yaml").write_text("experiment_id: '0'\nname: Default\n")
    (root / "0" / "broken").mkdir()
    (root / "0" / "broken" / "meta.yaml").write_text(": : not yaml [")
    reader = FileStoreReader(root)
    assert reader.exists()
    assert reader.recent(0) == []
    assert reader.get("../0") is None
    assert not FileStoreReader(tmp_path / "absent").exists()
