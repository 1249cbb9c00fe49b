"""A real PostgreSQL for the shared-store tests: one server per session, a database per test.

The server is Debian's ``postgresql`` (``initdb`` + ``pg_ctl`` into a temp dir, 127.0.0.1, a free
port; ``tests.helpers.postgres``). Where its binaries are missing the tests are skipped with a
loud reason — CI installs the package (``.ci/run``), so there they always run.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aitrace.record.models import STEP_FORMAT, Actor, Step
from aitrace.record.times import utc_now
from aitrace.store.workspace import Workspace, new_id
from tests.helpers.postgres import PgServer, pg_bindir, start_server

_MISSING = ("PostgreSQL IS NOT INSTALLED (no /usr/lib/postgresql/*/bin/initdb): the shared "
            "record store tests did NOT run — `apt-get install postgresql` (.ci/run does)")
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """The session's PostgreSQL server."""
    if pg_bindir() is None:
        print(f"\n*** SKIPPED: {_MISSING} ***", file=sys.stderr)
        pytest.skip(_MISSING)
    server = start_server()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def db_url(pg: PgServer) -> str:
    """The URL of a fresh database for one test (records of other tests never interfere)."""
    name = f"t{next(_counter)}"
    pg.createdb(name)
    return pg.url(name)


@pytest.fixture(autouse=True)
def _no_store_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AITRACE_STORE", raising=False)
    monkeypatch.delenv("AITRACE_WORKSPACE", raising=False)


def shared_workspace(root: Path, url: str, name: str = "shared") -> Workspace:
    """``aitrace init --store url --name name`` in ``root``, MLflow off."""
    root.mkdir(parents=True, exist_ok=True)
    Workspace.init(root, name=name, store=url)
    cfg = root / "aitrace.yaml"
    cfg.write_text(cfg.read_text().replace("  enabled: true", "  enabled: false"))
    return Workspace(root)


def append_simple(ws: Workspace, stage: str = "collection") -> Step:
    """Append a minimal step through the workspace (as the recorder does)."""

    def build(seq: int, prev: str | None) -> Step:
        now = utc_now()
        return Step(format=STEP_FORMAT, id=new_id(), record_id=ws.record.id, seq=seq,
                    stage=stage, status="succeeded", started_at=now,  # type: ignore[arg-type]
                    ended_at=now, actor=Actor(user="tester", host="h"), prev=prev)

    return ws.append(build)
