"""``aitrace doctor``: an append-only record takes no invalid step, and damage from outside is
explained and set aside without losing anything, so the chain continues verifiably."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.errors import InputError
from aitrace.record.models import Artifact, Step
from aitrace.store.doctor import diagnose, quarantine
from aitrace.store.workspace import Workspace
from tests.helpers.bundle import new_workspace


def _damage(ws: Workspace, seq: int, old: bytes, new: bytes) -> bytes:
    path = ws.dir / "steps" / f"{seq:06d}.json"
    (ws.root.parent / ".tampered").touch()  # tests/conftest.py: damaged on purpose
    path.chmod(0o644)
    data = path.read_bytes().replace(old, new)
    path.write_bytes(data)
    return data


def test_an_invalid_step_is_refused_before_it_is_appended(
        workspace: Workspace, append_step: Callable[..., Step]) -> None:
    append_step("collection")
    bad = Artifact(path="https://example.org/raw.csv", type="uri", sha256="sha256:" + "a" * 64)
    with pytest.raises(InputError) as info:
        append_step("collection", materials=(bad,))
    assert "refusing to record" in info.value.message
    assert "materials[0].sha256" in info.value.message
    assert info.value.hint and "nothing was written" in info.value.hint
    # Nothing entered the record: it still reads, and takes the next step.
    assert workspace.chain().intact and len(workspace.steps()) == 1
    append_step("cleaning")
    assert [s.seq for s in workspace.steps()] == [1, 2]


def test_diagnose_names_the_break_and_the_tail(workspace: Workspace,
                                               append_step: Callable[..., Step]) -> None:
    for stage in ("collection", "cleaning", "labeling", "training"):
        append_step(stage)
    assert diagnose(workspace).healthy
    _damage(workspace, 2, b'"cleaning"', b'"cleanin"')
    d = diagnose(workspace)
    assert not d.healthy and d.intact == 1 and d.broken is not None and d.broken.seq == 2
    assert [t.name for t in d.tail] == ["000002.json", "000003.json", "000004.json"]
    text = "\n".join(d.explain())
    assert "BROKEN at step 2" in text and "field 'stage'" in text
    assert "aitrace doctor --repair" in text and "nothing is deleted" in text


def test_repair_sets_the_tail_aside_and_the_chain_continues(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aitrace.bundle.write import build_bundle
    from aitrace.hooks.capture import capture_actor
    from aitrace.signing.keys import generate_keypair, load_public_key, load_signer
    from aitrace.verify.bundle import verify_bundle
    from tests.helpers.bundle import record_pipeline

    ws = new_workspace(tmp_path / "project")
    monkeypatch.chdir(ws.root)
    record_pipeline(ws)  # six steps
    damaged = _damage(ws, 5, b'"evaluation"', b'"evaluatio"')
    sixth = (ws.dir / "steps" / "000006.json").read_bytes()
    done = quarantine(ws, actor=capture_actor())
    # Nothing is lost: both files are kept, byte for byte, and named with their digests.
    assert (done.directory / "000005.json").read_bytes() == damaged
    assert (done.directory / "000006.json").read_bytes() == sixth
    assert [(f.name, f.sha256, f.size) for f in done.files] == [
        ("000005.json", hashlib.sha256(damaged).hexdigest(), len(damaged)),
        ("000006.json", hashlib.sha256(sixth).hexdigest(), len(sixth))]
    assert done.directory.parent == ws.dir / "quarantine"
    # The recovery step continues the chain from the last intact step and names what it set
    # aside in its evidence.
    step = done.step
    # (the damaged file names no valid stage, so the step goes to the last intact one's)
    assert step.seq == 5 and step.status == "failed" and step.stage == "training"
    assert step.prev == ws.steps()[3].digest
    assert step.error and "set aside" in step.error
    (ref,) = step.evidence
    doc = json.loads(ws.read_object(ref.sha256))
    assert doc["format"] == "aitrace.quarantine/v1" and doc["broken_at"] == 5
    assert [f["sha256"] for f in doc["files"]] == [f.sha256 for f in done.files]
    assert diagnose(ws).healthy
    # ... and the record bundles and verifies (integrity and signature) again.
    key, pub = generate_keypair(tmp_path / "keys" / "release")
    out = tmp_path / "repaired.aitrace"
    build_bundle(ws, [load_signer(key)], out)
    report = verify_bundle(out, [load_public_key(pub)])
    assert report.ok, [c.message for c in report.failed]


def test_repair_of_an_intact_chain_is_refused(workspace: Workspace,
                                              append_step: Callable[..., Step]) -> None:
    from aitrace.hooks.capture import capture_actor

    append_step("collection")
    with pytest.raises(InputError, match="intact"):
        quarantine(workspace, actor=capture_actor())


def test_doctor_command(workspace: Workspace, append_step: Callable[..., Step],
                        capsys: pytest.CaptureFixture[str]) -> None:
    append_step("collection")
    assert main(["doctor"]) == 0 and "nothing to repair" in capsys.readouterr().out
    append_step("cleaning")
    _damage(workspace, 2, b'"cleaning"', b'"cleanin"')
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN at step 2" in out and "000002.json" in out
    # Recording refuses before the user's work runs, and points at the doctor.
    assert main(["run", "--stage", "labeling", "--", "true"]) == 1
    assert "aitrace doctor" in capsys.readouterr().err
    assert workspace.pending() == []
    assert main(["doctor", "--repair", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["repaired"] and doc["after"]["healthy"] and doc["step"]["seq"] == 2
    assert main(["run", "--stage", "labeling", "--", "true"]) == 0
    assert [s.seq for s in workspace.steps()] == [1, 2, 3]
