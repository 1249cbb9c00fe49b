"""The database down while a step runs: the step is spooled, never lost, and synced in order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aitrace.hooks.tracker import stage
from aitrace.store.workspace import Workspace
from tests.helpers.postgres import PgServer, pg_bindir, start_server
from tests.store.postgres.conftest import append_simple, shared_workspace


@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    """A server of this test's own, so stopping it disturbs no other test."""
    if pg_bindir() is None:
        pytest.skip("PostgreSQL IS NOT INSTALLED: the offline tests did NOT run")
    server = start_server()
    try:
        yield server
    finally:
        server.cleanup()


def test_a_step_ending_while_the_database_is_down_is_spooled_then_synced(
        tmp_path: Path, own_pg: PgServer, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from aitrace.cli import main

    url = own_pg.url()
    a = shared_workspace(tmp_path / "a", url)
    b = shared_workspace(tmp_path / "b", url)
    append_simple(a, "problem")
    with stage("collection", workspace=a):
        own_pg.stop()  # the database goes away while the step runs
    with stage("cleaning", workspace=Workspace(a.root)):
        pass
    err = capsys.readouterr().err
    assert f"127.0.0.1:{own_pg.port}" in err and "cannot be reached" in err
    spooled = sorted((a.dir / "spool").glob("*.json"))
    assert len(spooled) == 2
    with pytest.raises(Exception, match="cannot be reached"):
        Workspace(b.root).chain()

    own_pg.start()
    append_simple(Workspace(b.root), "labeling")  # another machine appends meanwhile: step 2
    monkeypatch.chdir(a.root)
    assert main(["sync"]) == 0
    assert not list((a.dir / "spool").glob("*.json"))
    report = Workspace(b.root).chain()
    assert report.intact
    assert [(s.seq, s.stage) for s in report.steps] == [
        (1, "problem"), (2, "labeling"), (3, "collection"), (4, "cleaning")]
    synced = report.steps[2]
    assert synced.origin is not None and synced.origin.spooled_at and synced.origin.synced_at
    assert synced.prev == report.steps[1].digest  # finalised against the real head at sync
    assert main(["sync"]) == 0  # nothing left: a no-op


def test_the_next_command_syncs_and_a_double_sync_appends_once(tmp_path: Path,
                                                               own_pg: PgServer) -> None:
    url = own_pg.url()
    a = shared_workspace(tmp_path / "a", url)
    own_pg.stop()
    draft = append_simple(a, "problem")
    spool = next((a.dir / "spool").glob("*.json"))
    copy = spool.read_bytes()
    own_pg.start()
    ws = Workspace(a.root)
    append_simple(ws, "collection")  # syncs the spool first: problem stays first
    spool.write_bytes(copy)  # as if a sync committed and died before removing the file
    report = Workspace(a.root).chain()  # reading syncs too; the step id is there already
    assert [(s.seq, s.stage, s.id) for s in report.steps][:1] == [(1, "problem", draft.id)]
    assert [s.stage for s in report.steps] == ["problem", "collection"]
    assert not spool.exists()
