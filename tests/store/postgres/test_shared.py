"""A record shared through PostgreSQL: joining, isolation, evidence, identity, bundles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aitrace.errors import WorkspaceError
from aitrace.store.interface import RecordStore, redact_url, strip_password
from aitrace.store.postgres.store import PostgresStore
from aitrace.store.workspace import Workspace
from tests.store.postgres.conftest import append_simple, shared_workspace


def test_urls_lose_their_password() -> None:
    url = "postgresql://alice:pa%3Ass@db.example:5432/rec?sslmode=require&password=x2"
    assert "pa%3Ass" not in redact_url(url) and "x2" not in redact_url(url)
    assert redact_url(url).startswith("postgresql://alice:***@db.example")
    assert strip_password(url) == "postgresql://alice@db.example:5432/rec?sslmode=require"
    assert redact_url("postgresql://bob@h/db") == "postgresql://bob@h/db"


def test_both_stores_implement_the_interface(tmp_path: Path, db_url: str) -> None:
    ws = shared_workspace(tmp_path / "a", db_url)
    assert isinstance(ws, RecordStore)
    assert ws.shared is not None and isinstance(ws.shared.remote, RecordStore)


def test_two_workspaces_join_one_record(tmp_path: Path, db_url: str) -> None:
    a = shared_workspace(tmp_path / "a", db_url)
    b = shared_workspace(tmp_path / "b", db_url)
    assert a.record.id == b.record.id
    s1 = append_simple(a, "problem")
    s2 = append_simple(b, "collection")
    s3 = append_simple(a, "cleaning")
    for ws in (a, b, Workspace(tmp_path / "b")):
        report = ws.chain()
        assert report.intact
        assert [s.id for s in report.steps] == [s1.id, s2.id, s3.id]
        assert [s.seq for s in report.steps] == [1, 2, 3]
    origins = [s.origin for s in b.chain().steps]
    assert all(o is not None for o in origins)
    assert origins[0] != origins[1] and origins[0] == origins[2]  # which directory did what
    assert not list((tmp_path / "a" / ".aitrace" / "steps").glob("*.json"))  # all in the DB
    # the database holds the step files' exact bytes: sha256 of the bytes is the next prev
    stored = b.chain().stored
    assert stored[1].step.prev == stored[0].digest


def test_a_second_record_in_the_same_database_is_isolated(tmp_path: Path, db_url: str) -> None:
    a = shared_workspace(tmp_path / "a", db_url, name="fraud-model")
    other = shared_workspace(tmp_path / "o", db_url, name="churn-model")
    assert a.record.id != other.record.id
    append_simple(a)
    append_simple(other)
    append_simple(a)
    assert [s.seq for s in a.chain().steps] == [1, 2]
    assert [s.seq for s in other.chain().steps] == [1]
    assert {s.record_id for s in other.chain().steps} == {other.record.id}
    assert other.shared is not None
    count, _head, broken = other.shared.remote.quick_check()
    assert (count, broken) == (1, None)


def test_a_workspace_of_another_record_cannot_join(tmp_path: Path, db_url: str) -> None:
    Workspace.init(tmp_path / "local", name="shared")
    with pytest.raises(WorkspaceError, match="already holds record"):
        Workspace.init(tmp_path / "local", name="shared", store=db_url)


def test_evidence_objects_travel_with_the_step(tmp_path: Path, db_url: str) -> None:
    from aitrace.hooks.tracker import stage

    a = shared_workspace(tmp_path / "a", db_url)
    b = shared_workspace(tmp_path / "b", db_url)
    with stage("evaluation", workspace=a):
        pass
    step = b.chain().steps[-1]
    shas = {e.sha256 for e in step.evidence}
    assert shas  # the environment document, at least
    for digest in shas:
        assert not b.object_path(digest).exists()
        data = b.read_object(digest)  # fetched from the database, kept locally
        assert b.object_path(digest).read_bytes() == data


def test_steps_are_immutable_in_the_database(tmp_path: Path, db_url: str) -> None:
    import psycopg

    a = shared_workspace(tmp_path / "a", db_url)
    append_simple(a)
    with psycopg.connect(db_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="immutable"):
            conn.execute("UPDATE aitrace_steps SET status = 'failed'")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO aitrace_steps (record_id, seq, step_id, digest, prev, "
                         "stage, status, body) SELECT record_id, 2, 'x', repeat('0', 64), "
                         "digest, stage, status, body FROM aitrace_steps")


def test_log_status_show_and_bundle_read_the_shared_record(tmp_path: Path, db_url: str,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    from aitrace.cli import main

    a = shared_workspace(tmp_path / "a", db_url)
    for stage_id in ("problem", "collection", "cleaning"):
        append_simple(a, stage_id)
    b = shared_workspace(tmp_path / "b", db_url)
    monkeypatch.chdir(b.root)
    assert main(["log", "--json"]) == 0
    assert main(["log", "--from", "2", "--limit", "1"]) == 0
    assert main(["status", "--json"]) == 0
    assert main(["show", "3"]) == 0
    assert main(["keygen", "-o", str(tmp_path / "k")]) == 0
    assert main(["bundle", "-k", str(tmp_path / "k.key"), "-o", str(tmp_path / "r.aitrace")]) == 0
    assert main(["verify", str(tmp_path / "r.aitrace"), "--key", str(tmp_path / "k.pub"),
                 "--no-policy"]) == 0


def test_status_counts_with_the_database(tmp_path: Path, db_url: str) -> None:
    from aitrace.store.status import record_status

    a = shared_workspace(tmp_path / "a", db_url)
    for stage_id in ("problem", "collection", "collection"):
        append_simple(a, stage_id)
    st = record_status(a)
    assert st.step_count == 3 and st.intact
    by = {s.stage: s for s in st.stages}
    assert (by["collection"].steps, by["collection"].latest_step) == (2, 3)
    assert by["training"].state == "missing"
    assert json.dumps(st.to_dict())


def test_unreachable_store_error_names_it_without_password(tmp_path: Path) -> None:
    from aitrace.store.interface import StoreUnavailable

    store = PostgresStore("postgresql://u:hunter2@127.0.0.1:1/db", "r")
    with pytest.raises(StoreUnavailable) as err:
        _ = store.record
    text = f"{err.value.message} {err.value.hint}"
    assert "hunter2" not in text and "127.0.0.1:1" in text


def test_start_markers_are_seen_from_every_workspace(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from aitrace.record.models import Actor

    a = shared_workspace(tmp_path / "a", db_url)
    b = shared_workspace(tmp_path / "b", db_url)
    a.begin("0123456789abcdef", "training", "2025-01-01T00:00:00Z", Actor(user="u", host="gpu"),
            ("python", "train.py"), ())
    seen = [p for p in Workspace(b.root).pending() if p.step_id == "0123456789abcdef"]
    assert len(seen) == 1 and seen[0].host == "gpu" and seen[0].stage == "training"
    from aitrace.cli import main

    capsys.readouterr()
    monkeypatch.chdir(b.root)
    assert main(["status"]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("training")]
    assert line.endswith("(running now on gpu)")  # only that machine can tell if it died
    a.end("0123456789abcdef")
    assert not Workspace(b.root).pending()


def test_show_by_number_reads_one_row(tmp_path: Path, db_url: str) -> None:
    a = shared_workspace(tmp_path / "a", db_url)
    steps = [append_simple(a) for _ in range(3)]
    assert Workspace(a.root).get_step("2").id == steps[1].id
    assert Workspace(a.root).get_step(steps[2].id[:12]).seq == 3


def test_doctor_and_migrate_say_a_shared_record_is_not_theirs_to_repair(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from aitrace.cli import main

    ws = shared_workspace(tmp_path / "a", db_url)
    append_simple(ws)
    monkeypatch.chdir(ws.root)
    for command in ("doctor", "migrate"):
        assert main([command]) == 2
        err = capsys.readouterr().err
        assert f"`aitrace {command}` works on a record kept in files" in err
        assert "aitrace sync" in err and "Traceback" not in err
    assert [s.seq for s in ws.chain().steps] == [1]  # nothing was changed
