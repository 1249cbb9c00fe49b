"""Format v1 workspaces keep working; ``aitrace migrate`` appends the step that carries them over.

Nothing recorded is ever rewritten: each test compares every history file before and after.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

import aitrace
from aitrace.cli import main
from aitrace.errors import InputError, IntegrityError, WorkspaceError
from aitrace.record.jsonio import canonical_bytes, legacy_canonical_digest, pretty_bytes
from aitrace.record.models import STEP_FORMAT_V1, STEP_FORMAT_V2, Actor, Step
from aitrace.record.times import utc_now
from aitrace.store.migrate import migrate
from aitrace.store.workspace import Workspace, new_id
from tests.helpers.v1 import empty_v1_workspace, file_digests, v1_workspace_from_asset

ACTOR = Actor(user="migrator", host="h")


def _sha256sum(*paths: Path) -> list[str]:
    out = subprocess.run(["sha256sum", *map(str, paths)], capture_output=True, text=True,
                         check=True).stdout
    return [line.split()[0] for line in out.splitlines()]


def _step_file(ws: Workspace, seq: int) -> Path:
    return ws.dir / "steps" / f"{seq:06d}.json"


@pytest.fixture
def v1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    ws = v1_workspace_from_asset(tmp_path / "project")
    monkeypatch.chdir(ws.root)
    return ws


def test_a_v1_workspace_keeps_working_in_v1(v1: Workspace) -> None:
    report = v1.chain()
    assert report.intact and len(report.steps) == 13
    assert {s.format for s in report.steps} == {STEP_FORMAT_V1}
    assert v1.append_format() == STEP_FORMAT_V1
    before = file_digests(v1)
    (v1.root / "out").mkdir()
    (v1.root / "out" / "a.txt").write_text("a")
    with aitrace.stage("evaluation", workspace=v1, outputs=["out"], sbom=False) as s:
        s.log_metrics({"accuracy": 1.0})
    step = v1.steps()[-1]
    assert step.format == STEP_FORMAT_V1 and step.prev == report.head
    raw = _step_file(v1, 14).read_bytes()
    assert raw == pretty_bytes(json.loads(raw))  # written as 0.1.0 wrote steps
    assert step.digest == legacy_canonical_digest(json.loads(raw))
    (out,) = step.products
    assert out.type == "directory" and out.sha256 and out.dirHash is None  # aitrace.dir/v1
    assert all(file_digests(v1)[k] == v for k, v in before.items())


def test_migrate_appends_one_step_and_rewrites_nothing(
        v1: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    before = file_digests(v1)
    v1_head = v1.chain().head
    capsys.readouterr()
    assert main(["status"]) == 0
    assert "`aitrace migrate` carries it over" in capsys.readouterr().out
    assert main(["migrate", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seq"] == 14 and out["migrated_steps"] == 13
    assert file_digests(v1) | before == file_digests(v1)  # every old file byte for byte
    step = v1.steps()[-1]
    raw = _step_file(v1, 14).read_bytes()
    assert step.is_migration and step.stage == "migration" and step.format == STEP_FORMAT_V2
    assert raw == canonical_bytes(json.loads(raw)) == step.file_bytes
    assert step.prev == v1_head  # linked as a v1 step would link
    # Each v1 file is pinned by the plain sha256 of its bytes: checkable with sha256sum alone.
    files = [_step_file(v1, i) for i in range(1, 14)]
    assert step.migration is not None
    assert [m.file_sha256 for m in step.migration.steps] == _sha256sum(*files)
    assert step.migration.record_file_sha256 == _sha256sum(v1.dir / "record.json")[0]
    assert v1.append_format() == STEP_FORMAT_V2
    assert main(["show", "14"]) == 0
    shown = capsys.readouterr().out
    assert "stage      migration" in shown and "13 aitrace.step/v1 step(s) pinned" in shown
    assert f"pinned     step 1  file sha256:{_sha256sum(files[0])[0][:16]}" in shown
    # The next step is v2 and links by the sha256 of the migration step's file.
    with aitrace.stage("evaluation", workspace=v1, sbom=False) as s:
        s.log_metrics({"accuracy": 0.97})
    last = v1.steps()[-1]
    assert last.format == STEP_FORMAT_V2 and last.prev == _sha256sum(_step_file(v1, 14))[0]
    assert v1.chain().intact
    # Once is enough.
    assert main(["migrate"]) == 2
    assert "already in format v2" in capsys.readouterr().err


def test_a_new_workspace_is_v2_and_has_nothing_to_migrate(workspace: Workspace) -> None:
    assert workspace.record.format == "aitrace.record/v2"
    raw = (workspace.dir / "record.json").read_bytes()
    assert raw == canonical_bytes(json.loads(raw))
    assert workspace.append_format() == STEP_FORMAT_V2
    with pytest.raises(InputError, match="already in format v2"):
        migrate(workspace, ACTOR)


def test_an_empty_v1_workspace_migrates_to_a_first_migration_step(tmp_path: Path) -> None:
    ws = empty_v1_workspace(tmp_path / "p")
    assert ws.append_format() == STEP_FORMAT_V1
    result = migrate(ws, ACTOR)
    assert result.step.seq == 1 and result.step.prev is None
    assert result.step.migration is not None and result.step.migration.steps == ()
    assert ws.append_format() == STEP_FORMAT_V2 and ws.chain().intact


def test_directories_recorded_in_v1_are_bridged_to_their_dirhash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aitrace.verify.custody import custody_gaps

    ws = empty_v1_workspace(tmp_path / "p")
    root = ws.root
    monkeypatch.chdir(root)
    for name in ("models", "changed"):
        (root / name / "sub").mkdir(parents=True)
        (root / name / "sub" / "w.bin").write_bytes(b"weights " + name.encode())
    with aitrace.stage("training", workspace=ws, outputs=["models", "changed"], sbom=False):
        pass
    (root / "changed" / "extra.txt").write_text("added after it was recorded")
    result = migrate(ws, ACTOR)
    assert result.bridged == ("models",)
    assert result.not_bridged == (("changed", "the directory changed since it was recorded"),)
    step = result.step
    (material,), (product,) = step.materials, step.products
    assert material.aitrace_dir_v1 == ws.steps()[0].products[0].sha256  # the v1 manifest digest
    assert material.sha256 is None and material.dirHash is None
    listing = f"{hashlib.sha256(b'weights models').hexdigest()}  sub/w.bin\n".encode()
    assert product.dirHash == hashlib.sha256(listing).hexdigest()
    assert ws.read_object(product.dirHash) == listing
    # A v2 step reading the folder keeps its chain of custody; the changed one does not.
    with aitrace.stage("evaluation", workspace=ws, inputs=["models", "changed"], sbom=False):
        pass
    gaps = custody_gaps(ws.steps())
    assert [g.path for g in gaps] == ["changed"]
    assert "dirHash:" in gaps[0].message


def test_a_running_step_blocks_migration(tmp_path: Path) -> None:
    ws = empty_v1_workspace(tmp_path / "p")
    ws.begin(new_id(), "training", utc_now(), Actor(user="u", host=socket.gethostname()),
             None, ())  # this process: alive
    with pytest.raises(InputError, match="being recorded now"):
        migrate(ws, ACTOR)
    assert ws.chain().steps == ()


def test_an_edited_v1_file_after_migration_breaks_the_chain_even_if_only_re_spaced(
        v1: Workspace) -> None:
    migrate(v1, ACTOR)
    path = _step_file(v1, 5)
    data = path.read_bytes()
    path.chmod(0o644)
    (v1.root / ".tampered").touch()
    path.write_bytes(data.replace(b"\n  ", b"\n    ", 1))  # same JSON, same v1 digest
    assert legacy_canonical_digest(json.loads(path.read_bytes())) == \
        legacy_canonical_digest(json.loads(data))
    b = v1.chain().broken
    assert b is not None and b.seq == 14
    assert "first differ at step 5" in b.reason
    with pytest.raises(IntegrityError, match="refusing to append"), \
            aitrace.stage("evaluation", workspace=v1, sbom=False):
        pass


def _raw_step(ws: Workspace, seq: int, prev: str | None, fmt: str) -> Step:
    now = utc_now()
    return Step(format=fmt, id=new_id(), record_id=ws.record.id, seq=seq,  # type: ignore[arg-type]
                stage="training", status="succeeded", started_at=now, ended_at=now,
                actor=ACTOR, prev=prev)


def test_the_format_sequence_never_goes_back_or_skips_the_migration(tmp_path: Path) -> None:
    ws = empty_v1_workspace(tmp_path / "p")
    ws.append(lambda seq, prev: _raw_step(ws, seq, prev, STEP_FORMAT_V1))
    # v1 → v2 without the migration step: refused on append, and named when found on disk.
    with pytest.raises(WorkspaceError, match="only through the migration step"):
        ws.append(lambda seq, prev: _raw_step(ws, seq, prev, STEP_FORMAT_V2))
    head = ws.chain().head
    forged = _raw_step(ws, 2, head, STEP_FORMAT_V2)
    (ws.root / ".tampered").touch()
    _step_file(ws, 2).write_bytes(forged.file_bytes)
    b = ws.chain().broken
    assert b is not None and b.seq == 2 and "only through the migration step" in b.reason
    os.unlink(_step_file(ws, 2))
    # After the migration, a v1 step (a downgrade) is refused.
    migrate(ws, ACTOR)
    with pytest.raises(WorkspaceError, match="never goes back to v1"):
        ws.append(lambda seq, prev: _raw_step(ws, seq, prev, STEP_FORMAT_V1))
    assert ws.chain().intact and len(ws.steps()) == 2
