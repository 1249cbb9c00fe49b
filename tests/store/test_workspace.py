"""The .aitrace/ workspace: init, the hash chain, tamper detection, content-addressed objects."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from aitrace.errors import InputError, IntegrityError, WorkspaceError
from aitrace.record.jsonio import canonical_bytes, document_bytes, pretty_bytes
from aitrace.record.models import Step
from aitrace.store.workspace import Workspace


def _step_file(ws: Workspace, seq: int) -> Path:
    return ws.dir / "steps" / f"{seq:06d}.json"


def _rewrite(path: Path, doc: dict[str, object], *, canonical: bool = True) -> None:
    """Edit a stored step behind the workspace's back (tells the schema check it is on purpose).

    A careful forger writes the edited step in RFC 8785 form, as aitrace would.
    """
    _tampered(path)
    if path.exists():
        path.chmod(0o644)
    path.write_bytes(canonical_bytes(doc) if canonical else pretty_bytes(doc))


def _tampered(path: Path) -> None:
    # tests/conftest.py validates every step left in tmp_path unless this marker exists;
    # path is tmp_path/<project>/.aitrace/steps/<file>.
    (path.parents[3] / ".tampered").touch()


def test_init_is_idempotent(tmp_path: Path) -> None:
    ws, created = Workspace.init(tmp_path, name="m")
    assert created
    record = ws.record
    cfg = (tmp_path / "aitrace.yaml").read_bytes()
    (tmp_path / "aitrace.yaml").write_bytes(cfg + b"# my edit\n")
    ws2, created2 = Workspace.init(tmp_path, name="other")
    assert not created2
    assert ws2.record == record  # the identity is written once
    assert (tmp_path / "aitrace.yaml").read_bytes().endswith(b"# my edit\n")
    for sub in ("steps", "objects/sha256", "pending", "cache"):
        assert (ws.dir / sub).is_dir()
    assert Workspace.find(tmp_path / ".aitrace").root == tmp_path.resolve()


def test_find_walks_up_and_explains_when_missing(tmp_path: Path) -> None:
    Workspace.init(tmp_path)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert Workspace.find(deep).root == tmp_path.resolve()
    with pytest.raises(WorkspaceError) as info:
        Workspace.find(Path("/"))
    assert info.value.hint and "aitrace init" in info.value.hint


def test_append_builds_a_linear_hash_chain(workspace: Workspace,
                                           append_step: Callable[..., Step]) -> None:
    s1 = append_step("problem")
    s2 = append_step("collection")
    s3 = append_step("cleaning")
    assert (s1.seq, s2.seq, s3.seq) == (1, 2, 3)
    assert s1.prev is None
    assert s2.prev == s1.digest and s3.prev == s2.digest
    # Format v2: the digest is the plain sha256 of the file, and the file is its RFC 8785 form.
    stored = _step_file(workspace, 2).read_bytes()
    assert s3.prev == hashlib.sha256(stored).hexdigest() == s2.digest
    assert stored == canonical_bytes(json.loads(stored)) == s2.file_bytes
    assert json.loads(stored)["format"] == "aitrace.step/v2"
    report = workspace.chain()
    assert report.intact and report.head == s3.digest
    assert [s.id for s in report.steps] == [s1.id, s2.id, s3.id]
    assert oct(_step_file(workspace, 1).stat().st_mode & 0o777) == "0o444"
    assert workspace.get_step("2") == s2
    assert workspace.get_step(s3.id[:20]) == s3
    with pytest.raises(InputError):
        workspace.get_step("no-such")


def test_edited_step_names_first_broken_step_and_file(workspace: Workspace,
                                                      append_step: Callable[..., Step]) -> None:
    for stage in ("problem", "collection", "cleaning", "labeling"):
        append_step(stage)
    doc = json.loads(_step_file(workspace, 2).read_bytes())
    doc["stage"] = "training"  # still a valid step, so only the chain can tell
    _rewrite(_step_file(workspace, 2), doc)
    report = workspace.chain()
    assert not report.intact and report.broken is not None
    assert report.broken.seq == 3  # the step whose prev no longer matches
    assert report.broken.file == ".aitrace/steps/000003.json"
    assert "step 2 was edited" in report.broken.reason
    assert len(report.steps) == 2
    with pytest.raises(IntegrityError, match="000003.json"):
        workspace.steps()


def test_a_step_file_not_in_canonical_form_is_named(workspace: Workspace,
                                                     append_step: Callable[..., Step]) -> None:
    """Re-encoding alone (same JSON, other bytes) changes the digest: the file itself is named."""
    append_step("problem")
    append_step("collection")
    doc = json.loads(_step_file(workspace, 1).read_bytes())
    _rewrite(_step_file(workspace, 1), doc, canonical=False)
    b = workspace.chain().broken
    assert b is not None and b.seq == 1 and b.file == ".aitrace/steps/000001.json"
    assert "not in RFC 8785 canonical form" in b.reason


def test_a_duplicated_key_in_a_stored_step_is_refused(workspace: Workspace,
                                                      append_step: Callable[..., Step]) -> None:
    append_step("problem")
    path = _step_file(workspace, 1)
    data = path.read_bytes()
    _rewrite(path, {})
    path.write_bytes(b'{"stage":"training",' + data[1:])  # the genuine "stage" comes later
    b = workspace.chain().broken
    assert b is not None and b.seq == 1 and "repeats the key 'stage'" in b.reason
    with pytest.raises(IntegrityError, match="repeats the key 'stage'"):
        append_step("collection")


def test_edited_last_step_breaks_nothing_until_the_next_append(
        workspace: Workspace, append_step: Callable[..., Step]) -> None:
    """The head has no successor; the next append would link to the edited bytes."""
    append_step("problem")
    s2 = append_step("collection")
    doc = json.loads(_step_file(workspace, 2).read_bytes())
    doc["error"] = "edited"
    _rewrite(_step_file(workspace, 2), doc)
    assert workspace.chain().head != s2.digest  # what a signed head digest would expose


def test_unparseable_step_is_named(workspace: Workspace, append_step: Callable[..., Step]) -> None:
    append_step("problem")
    append_step("collection")
    _tampered(_step_file(workspace, 2))
    _step_file(workspace, 2).chmod(0o644)
    _step_file(workspace, 2).write_text("{not json")
    b = workspace.chain().broken
    assert b is not None and b.seq == 2 and b.file == ".aitrace/steps/000002.json"
    assert "not valid JSON" in b.reason
    doc = {"format": "aitrace.step/v1"}
    _rewrite(_step_file(workspace, 2), doc)
    b = workspace.chain().broken
    assert b is not None and "field 'id' is missing" in b.reason


def test_removed_step_detected(workspace: Workspace, append_step: Callable[..., Step]) -> None:
    for stage in ("problem", "collection", "cleaning"):
        append_step(stage)
    _step_file(workspace, 2).unlink()
    b = workspace.chain().broken
    assert b is not None and b.seq == 3 and "sequence gap" in b.reason


def test_removed_step_and_renumbered_detected(workspace: Workspace,
                                             append_step: Callable[..., Step]) -> None:
    for stage in ("problem", "collection", "cleaning"):
        append_step(stage)
    _step_file(workspace, 2).unlink()
    doc = json.loads(_step_file(workspace, 3).read_bytes())
    doc["seq"] = 2
    _rewrite(_step_file(workspace, 2), doc)
    _step_file(workspace, 3).unlink()
    b = workspace.chain().broken
    assert b is not None and b.seq == 2 and "step 1 was edited, removed or replaced" in b.reason


def test_reordered_steps_detected(workspace: Workspace, append_step: Callable[..., Step]) -> None:
    for stage in ("problem", "collection", "cleaning"):
        append_step(stage)
    d2 = json.loads(_step_file(workspace, 2).read_bytes())
    d3 = json.loads(_step_file(workspace, 3).read_bytes())
    d2["seq"], d3["seq"] = 3, 2
    _rewrite(_step_file(workspace, 2), d3)
    _rewrite(_step_file(workspace, 3), d2)
    b = workspace.chain().broken
    assert b is not None and b.seq == 2 and b.step_id == d3["id"]


def test_step_from_another_record_detected(workspace: Workspace, tmp_path: Path,
                                           append_step: Callable[..., Step]) -> None:
    other_root = tmp_path / "other"
    other_root.mkdir()
    other, _ = Workspace.init(other_root)
    append_step("problem", ws=other)
    # A foreign first step, copied in whole: its own chain fields are valid.
    (workspace.dir / "steps" / "000001.json").write_bytes(_step_file(other, 1).read_bytes())
    b = workspace.chain().broken
    assert b is not None and b.seq == 1 and f"belongs to record {other.record.id}" in b.reason


def test_append_refused_onto_a_broken_chain(workspace: Workspace,
                                            append_step: Callable[..., Step]) -> None:
    append_step("problem")
    append_step("collection")
    append_step("cleaning")
    doc = json.loads(_step_file(workspace, 1).read_bytes())
    doc["actor"]["user"] = "mallory"
    _rewrite(_step_file(workspace, 1), doc)
    with pytest.raises(IntegrityError, match="refusing to append: .aitrace/steps/000002.json"):
        append_step("labeling")
    assert not _step_file(workspace, 4).exists()


def test_builder_must_honour_seq_and_prev(workspace: Workspace,
                                          append_step: Callable[..., Step]) -> None:
    s1 = append_step("problem")
    with pytest.raises(AssertionError):
        workspace.append(lambda seq, prev: s1.with_(seq=seq))  # wrong prev
    assert len(workspace.steps()) == 1


def test_temp_files_and_stray_names_ignored(workspace: Workspace,
                                            append_step: Callable[..., Step]) -> None:
    append_step("problem")
    (workspace.dir / "steps" / ".tmp-abc123").write_bytes(b"{partial")
    (workspace.dir / "steps" / "notes.txt").write_text("x")
    (workspace.dir / "pending" / ".tmp-xyz.json").write_bytes(b"{")
    (workspace.dir / "pending" / "garbage.json").write_bytes(b"{")
    assert workspace.chain().intact
    assert workspace.pending() == []
    assert append_step("collection").seq == 2


def test_objects_are_content_addressed(workspace: Workspace) -> None:
    data = b"evidence bytes"
    sha = workspace.put_object(data)
    assert sha == hashlib.sha256(data).hexdigest()
    path = workspace.object_path(sha)
    assert path == workspace.dir / "objects" / "sha256" / sha[:2] / sha[2:]
    assert path.read_bytes() == data
    assert workspace.put_object(data) == sha  # idempotent
    assert workspace.read_object(sha) == data
    sha2, size = workspace.put_json_object({"b": 1, "a": [1.0]})
    assert workspace.read_object(sha2) == b'{"a":[1],"b":1}' == document_bytes({"a": [1], "b": 1})
    assert size == len(b'{"a":[1],"b":1}')
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp-")]


def test_read_object_detects_tamper_and_loss(workspace: Workspace) -> None:
    sha = workspace.put_object(b"original")
    path = workspace.object_path(sha)
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match="does not match its digest"):
        workspace.read_object(sha)
    path.unlink()
    with pytest.raises(WorkspaceError, match="missing"):
        workspace.read_object(sha)
    with pytest.raises(InputError, match="not a sha256"):
        workspace.object_path("../../etc/passwd")


def test_relpath_and_resolve(workspace: Workspace) -> None:
    assert workspace.relpath("data/x.csv") == "data/x.csv"
    assert workspace.relpath(workspace.root / "a" / ".." / "b") == "b"
    # Outside the workspace: a file: URI, never a bare host path; read back as the same file.
    assert workspace.relpath("/etc/hosts") == "file:///etc/hosts"
    assert workspace.relpath("file:///etc/hosts") == "file:///etc/hosts"
    assert workspace.relpath(f"file://{workspace.root}/data/x.csv") == "data/x.csv"
    assert workspace.relpath("/tmp/a b#c") == "file:///tmp/a%20b%23c"
    assert workspace.resolve("file:///tmp/a%20b%23c") == Path("/tmp/a b#c")
    assert workspace.resolve("data/x.csv") == workspace.root / "data" / "x.csv"
    assert workspace.resolve("/old/absolute.csv") == Path("/old/absolute.csv")  # older records


def test_unreadable_record_is_a_workspace_error(workspace: Workspace) -> None:
    (workspace.dir / "record.json").chmod(0o644)
    (workspace.dir / "record.json").write_text("{")
    with pytest.raises(WorkspaceError, match="record.json"):
        _ = Workspace(workspace.root).record


def test_pending_marker_lifecycle(workspace: Workspace) -> None:
    from aitrace.hooks.capture import capture_actor

    path = workspace.begin("sid1", "training", "2026-01-01T00:00:00Z", capture_actor(),
                           ("python", "x.py"), ())
    assert path.is_file()
    (p,) = workspace.pending()
    assert p.step_id == "sid1" and p.pid == os.getpid() and p.alive
    workspace.end("sid1")
    workspace.end("sid1")  # idempotent
    assert workspace.pending() == []


def test_step_type_is_immutable(workspace: Workspace, append_step: Callable[..., Step]) -> None:
    s = append_step("problem")
    with pytest.raises(AttributeError):
        s.stage = "training"  # type: ignore[misc]
    assert isinstance(s, Step)
