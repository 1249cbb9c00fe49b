"""Building bundles: layout, determinism, signed statement, interop with independent tools."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

import pytest

from aitrace.bundle.format import ATTESTATION_MEMBER, MANIFEST_MEMBER, PREDICATE_TYPE, SBOM_MEMBER
from aitrace.bundle.write import build_bundle
from aitrace.errors import InputError
from aitrace.schemas import validator
from aitrace.signing.keys import load_public_key, load_signer
from aitrace.store.workspace import Workspace
from aitrace.verify.bundle import verify_bundle
from tests.helpers.bundle import Keys, new_workspace, read_members, statement_of


def test_layout_and_manifest(bundle_path: Path, project: Path) -> None:
    members = read_members(bundle_path)
    names = sorted(members)
    assert names[0].startswith("approvals/") and names[1] == ATTESTATION_MEMBER
    assert {MANIFEST_MEMBER, "record.json", SBOM_MEMBER, "signatures/dist/model.bin.sig",
            "steps/000001.json", "steps/000006.json"} <= set(names)
    manifest = json.loads(members[MANIFEST_MEMBER])
    assert not list(validator("manifest.schema.json").iter_errors(manifest))
    listed = [m["path"] for m in manifest["members"]]
    assert listed == sorted(n for n in names if n not in (MANIFEST_MEMBER, ATTESTATION_MEMBER))
    ws = Workspace(project)
    steps = ws.steps()
    assert manifest["created_at"] == steps[-1].ended_at
    assert manifest["chain_head"] == steps[-1].digest
    # steps are stored byte for byte
    assert members["steps/000003.json"] == (ws.dir / "steps/000003.json").read_bytes()
    # every evidence object is there, nothing else
    objs = {n.rsplit("/", 1)[1] for n in names if n.startswith("objects/")}
    refs = {e.sha256 for s in steps for e in s.evidence}
    refs |= {s.environment.distributions_sha256 for s in steps
             if s.environment and s.environment.distributions_sha256}
    assert objs == refs


def test_statement_subjects_and_predicate(bundle_path: Path, project: Path) -> None:
    members = read_members(bundle_path)
    st = statement_of(members)
    assert st["predicateType"] == PREDICATE_TYPE
    import hashlib

    subjects = {s["name"]: s["digest"]["sha256"] for s in st["subject"]}
    assert subjects == {
        "dist/model.bin": hashlib.sha256(b"weights" * 100).hexdigest(),
        MANIFEST_MEMBER: hashlib.sha256(members[MANIFEST_MEMBER]).hexdigest()}
    pred = st["predicate"]
    assert not list(validator("predicate.schema.json").iter_errors(pred))
    assert [p["stage"] for p in pred["steps"]] == ["problem", "collection", "cleaning",
                                                  "training", "evaluation", "deployment"]
    assert pred["released_from"]["stage"] == "deployment"
    assert pred["chain_head"] == Workspace(project).steps()[-1].digest


def test_deterministic(bundle_path: Path, project: Path, keys: Keys, tmp_path: Path) -> None:
    again = tmp_path / "again.aitrace"
    build_bundle(Workspace(project), [load_signer(keys.key)], again, model_signing_key=keys.key)
    assert again.read_bytes() == bundle_path.read_bytes()


def test_securesystemslib_verifies_envelope(bundle_path: Path, keys: Keys) -> None:
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    env_dict = json.loads(read_members(bundle_path)[ATTESTATION_MEMBER])
    pub = load_public_key(keys.pub)
    key = SSlibKey.from_crypto(pub.crypto_key, keyid=pub.keyid)
    env = Envelope.from_dict(copy.deepcopy(env_dict))
    assert pub.keyid in env.verify([key], 1)


def test_in_toto_attestation_validates_statement(bundle_path: Path) -> None:
    from google.protobuf import json_format
    from in_toto_attestation.v1.statement import Statement

    st = statement_of(read_members(bundle_path))
    from in_toto_attestation.v1 import statement_pb2

    pb = json_format.ParseDict(st, statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()


def test_model_signing_verifies_released_model(bundle_path: Path, project: Path, keys: Keys,
                                               tmp_path: Path) -> None:
    from aitrace.signing.model_signing import check_model_signature

    sig = tmp_path / "model.bin.sig"
    sig.write_bytes(read_members(bundle_path)["signatures/dist/model.bin.sig"])
    assert check_model_signature(project / "dist/model.bin", sig, keys.pub) is None
    tampered = tmp_path / "model.bin"
    tampered.write_bytes(b"weights" * 99)
    assert check_model_signature(tampered, sig, keys.pub) is not None


def test_include_is_streamed_and_verified(project: Path, keys: Keys, tmp_path: Path) -> None:
    ws = Workspace(project)
    extra = project / "models" / "extra.bin"
    extra.write_bytes(bytes(range(256)) * 4096)
    out = tmp_path / "inc.aitrace"
    info = build_bundle(ws, [load_signer(keys.key)], out, include=[extra])
    extra.unlink()
    assert info.included == ("artifacts/models/extra.bin",)
    with zipfile.ZipFile(out) as zf:
        assert zf.getinfo("artifacts/models/extra.bin").compress_type == zipfile.ZIP_STORED
    report = verify_bundle(out, [load_public_key(keys.pub)])
    assert report.ok, report.failed


def test_include_outside_project_refused(project: Path, keys: Keys, tmp_path: Path) -> None:
    outside = tmp_path / "x.bin"
    outside.write_bytes(b"x")
    with pytest.raises(InputError, match="outside the project"):
        build_bundle(Workspace(project), [load_signer(keys.key)], tmp_path / "o.aitrace",
                     include=[outside])


def test_fallback_release_and_ed25519_note(tmp_path: Path, keys: Keys) -> None:
    import aitrace

    ws = new_workspace(tmp_path / "p")
    with aitrace.stage("training", workspace=ws, sbom=False) as s:
        (ws.root / "m.bin").write_bytes(b"m")
        s.output(ws.root / "m.bin", role="model")
    info = build_bundle(ws, [load_signer(keys.ed_key)], tmp_path / "b.aitrace",
                        model_signing_key=keys.ed_key)
    assert info.release_source is not None and info.release_source.fallback
    assert any("no succeeded deployment step" in n for n in info.notes)
    assert any("ed25519" in n for n in info.notes) and not info.model_signatures
    assert verify_bundle(tmp_path / "b.aitrace", [load_public_key(keys.ed_pub)]).ok


def test_empty_record_and_no_signer_refused(tmp_path: Path, keys: Keys) -> None:
    ws = new_workspace(tmp_path / "p")
    with pytest.raises(InputError, match="no steps"):
        build_bundle(ws, [load_signer(keys.key)], tmp_path / "b.aitrace")
    with pytest.raises(InputError, match="no signing key"):
        build_bundle(ws, [], tmp_path / "b.aitrace")


def test_two_signers_threshold(project: Path, keys: Keys, tmp_path: Path) -> None:
    out = tmp_path / "two.aitrace"
    build_bundle(Workspace(project), [load_signer(keys.key), load_signer(keys.other_key)], out)
    both = [load_public_key(keys.pub), load_public_key(keys.other_pub)]
    assert verify_bundle(out, both, threshold=2).ok
    one = verify_bundle(out, both[:1], threshold=2)
    assert [c.id for c in one.failed] == ["signature.trusted"]


def test_a_workspace_step_with_a_duplicate_key_is_never_signed(
        project: Path, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A last-value-wins parser sees the genuine step (same digest, chain intact); we refuse."""
    from aitrace.cli import main
    from tests.helpers.bundle import copy_project

    root = copy_project(project, tmp_path / "dup")
    path = root / ".aitrace" / "steps" / "000003.json"
    text = path.read_bytes()
    at = text.index(b'"stage":')
    forged = text[:at] + b'"stage": "deployment",\n  ' + text[at:]
    assert json.loads(forged) == json.loads(text)
    path.chmod(0o644)
    path.write_bytes(forged)
    monkeypatch.chdir(root)
    out = tmp_path / "dup.aitrace"
    assert main(["bundle", "--key", str(keys.key), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "repeats the key 'stage'" in err and "000003.json" in err
    assert not out.exists()
    assert main(["status"]) == 1
    assert "BROKEN at step 3" in capsys.readouterr().out


def test_include_through_a_symlinked_parent_is_refused(project: Path, keys: Keys,
                                                       tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`ln -s /etc linkdir; aitrace bundle --include linkdir/passwd` must not embed it."""
    from aitrace.cli import main
    from tests.helpers.bundle import copy_project

    root = copy_project(project, tmp_path / "p")
    outside = tmp_path / "etc"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0:secret\n")
    (root / "linkdir").symlink_to(outside)
    real = root / "realdir"
    real.mkdir()
    (real / "ok.bin").write_bytes(b"kept")
    (real / "escape").symlink_to(outside)  # a symlinked directory below: never walked
    monkeypatch.chdir(root)
    out = tmp_path / "x.aitrace"
    for given in ("linkdir/passwd", "./linkdir/passwd", str(root / "linkdir/passwd")):
        assert main(["bundle", "--key", str(keys.key), "-o", str(out), "--include", given]) == 2
        err = capsys.readouterr().err
        assert "through a symbolic link" in err and str(outside / "passwd") in err, err
        assert not out.exists()
    assert main(["bundle", "--key", str(keys.key), "-o", str(out), "--include", "realdir"]) == 0
    assert sorted(n for n in read_members(out) if n.startswith("artifacts/")) == [
        "artifacts/realdir/ok.bin"]
