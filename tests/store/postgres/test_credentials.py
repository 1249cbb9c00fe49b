"""A password planted in the store URL never reaches aitrace.yaml, the record, MLflow or output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.helpers.postgres import PgServer

ROOT = Path(__file__).resolve().parents[3]
SECRET = "Pl4nted-S3cret"


def _aitrace(cwd: Path, *args: str, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]), **(env or {})}
    full.pop("AITRACE_WORKSPACE", None)
    return subprocess.run([sys.executable, "-m", "aitrace", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=300)


def test_a_planted_password_reaches_no_output(tmp_path: Path, pg: PgServer) -> None:
    pg.createdb("creds")
    url = pg.url("creds", password=SECRET)  # the test server trusts; the password is bait
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    results = [
        _aitrace(a, "init", "--store", url, "--name", "secret-test"),
        _aitrace(b, "init", "--name", "secret-test", env={"AITRACE_STORE": url}),
        _aitrace(a, "run", "--stage", "problem", "--", sys.executable, "-c", "print(1)"),
        _aitrace(b, "run", "--stage", "collection", "--no-mlflow", "--", "true",
                 env={"AITRACE_STORE": url}),
        _aitrace(b, "log"), _aitrace(b, "log", "--json"), _aitrace(a, "status"),
        _aitrace(a, "show", "2", "--json"), _aitrace(a, "sync"),
        _aitrace(a, "keygen", "-o", str(tmp_path / "k")),
        _aitrace(b, "bundle", "-k", str(tmp_path / "k.key"), "-o", str(tmp_path / "r.aitrace")),
    ]
    assert [r.returncode for r in results] == [0] * len(results), [
        (r.args, r.stderr[-500:]) for r in results if r.returncode]
    down = f"postgresql://postgres:{SECRET}@127.0.0.1:1/creds"
    failed = _aitrace(a, "status", env={"AITRACE_STORE": down})
    assert failed.returncode == 2 and "127.0.0.1:1" in failed.stderr
    assert "cannot be reached" in failed.stderr
    results.append(failed)
    for r in results:
        assert SECRET not in r.stdout + r.stderr, r.args
    assert "store: postgresql://postgres@127.0.0.1" in (a / "aitrace.yaml").read_text()
    for root in (a, b):  # aitrace.yaml, record.json, markers, objects, MLflow's own database
        for f in root.rglob("*"):
            if f.is_file():
                assert SECRET.encode() not in f.read_bytes(), f
    assert SECRET.encode() not in (tmp_path / "r.aitrace").read_bytes()
    with psycopg.connect(pg.url("creds")) as conn:
        for table in ("aitrace_records", "aitrace_steps", "aitrace_objects", "aitrace_markers"):
            rows = conn.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 - fixed names
            assert SECRET not in repr(rows), table
        assert conn.execute("SELECT count(*) FROM aitrace_steps").fetchone() == (2,)
