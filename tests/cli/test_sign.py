"""The keygen / bundle / verify / unpack commands: output, --json shape, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.record.completeness import completeness
from aitrace.store.workspace import Workspace
from tests.helpers.bundle import Keys, flip, read_members, write_members


def test_keygen_bundle_verify_unpack(project: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEY_PW", "correct horse")
    prefix = tmp_path / "keys" / "rel"
    assert main(["keygen", "-o", str(prefix), "--passphrase-env", "KEY_PW", "--json"]) == 0
    kg = json.loads(capsys.readouterr().out)
    assert kg["encrypted"] and len(kg["keyid"]) == 64
    assert (prefix.with_suffix(".key").stat().st_mode & 0o777) == 0o600
    assert main(["keygen", "-o", str(prefix)]) == 2  # refuses to overwrite
    capsys.readouterr()

    monkeypatch.chdir(project)
    out = tmp_path / "m.aitrace"
    assert main(["bundle", "--key", str(prefix) + ".key", "-o", str(out),
                 "--passphrase-env", "KEY_PW", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["model_signatures"] == ["signatures/dist/model.bin.sig"]
    assert info["signers"] == [kg["keyid"]]

    pub = str(prefix) + ".pub"
    assert main(["verify", str(out), "--key", pub, "--no-policy"]) == 0
    text = capsys.readouterr().out
    assert "chain.custody" in text and text.strip().splitlines()[-1].startswith("VERIFIED")
    # default policy: this six-stage record is not complete
    assert main(["verify", str(out), "--key", pub]) == 1
    text = capsys.readouterr().out
    assert "FAIL  policy.required-stages" in text and "labeling" in text

    assert main(["verify", str(out), "--key", pub, "--no-policy", "--json",
                 "--artifact", str(project / "dist/model.bin")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "aitrace.verify/v1" and doc["ok"] is True
    assert set(doc) == {"format", "bundle", "ok", "authentic", "verdict", "record", "signers",
                        "policy", "subjects", "checks", "failed", "answers", "completeness"}
    assert doc["authentic"] is True
    assert set(doc["checks"][0]) == {"id", "title", "status", "message", "member"}
    assert any(c["id"] == "artifact.matches" and c["status"] == "passed" for c in doc["checks"])

    dest = tmp_path / "unpacked"
    assert main(["unpack", str(out), "-d", str(dest)]) == 0
    assert (dest / "manifest.json").is_file() and (dest / "steps" / "000006.json").is_file()
    assert main(["unpack", str(out), "-d", str(dest)]) == 2  # refuses to overwrite


def test_verify_exit_codes(bundle_path: Path, keys: Keys, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    members = read_members(bundle_path)
    members["steps/000003.json"] = flip(members["steps/000003.json"])
    bad = write_members(tmp_path / "bad.aitrace", members)
    assert main(["verify", str(bad), "--key", str(keys.pub), "--no-policy", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert {"id": "members.digests", "member": "steps/000003.json"}.items() <= \
        doc["failed"][0].items()
    assert main(["verify", str(tmp_path / "missing.aitrace"), "--key", str(keys.pub)]) == 2
    assert main(["verify", str(bundle_path)]) == 2                      # no --key
    assert main(["verify", str(bundle_path), "--key", str(tmp_path / "no.pub")]) == 2
    policy = tmp_path / "p.yaml"
    policy.write_text("required_stages: [nope]\n")
    assert main(["verify", str(bundle_path), "--key", str(keys.pub), "--policy",
                 str(policy)]) == 2
    err = capsys.readouterr().err
    assert str(policy) in err and "required_stages[0]" in err


def test_bundle_without_workspace_or_key(tmp_path: Path, keys: Keys,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["bundle", "--key", str(keys.key), "-o", "x.aitrace"]) == 2
    assert main(["bundle", "-o", "x.aitrace"]) == 2
    assert not os.path.exists(tmp_path / "x.aitrace")


def test_completeness(project: Path) -> None:
    result = completeness(Workspace(project).steps())
    assert 0 < result.score < 100
    assert result.per_stage["labeling"].status == "missing"
    assert result.per_stage["collection"].status == "complete"
    assert result.per_stage["training"].status == "partial"
    assert "mlflow" in result.per_stage["training"].missing
    assert "training: mlflow" in result.missing
    assert completeness([]).score == 0


def test_verify_needs_a_release_key_and_names_the_roles(bundle_path: Path, keys: Keys,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    assert main(["verify", str(bundle_path), "--approver-key", str(keys.other_pub)]) == 2
    err = capsys.readouterr().err
    assert "no trusted release key given" in err and "--approver-key" in err
    assert main(["verify", str(bundle_path), "--key", str(keys.pub), "--approver-key",
                 str(keys.other_pub), "--no-policy"]) == 0
    assert main(["verify", str(bundle_path), "--key", str(keys.other_pub), "--approver-key",
                 str(keys.pub), "--no-policy"]) == 1
    assert "given as an approver key" in capsys.readouterr().out  # the signer, in the wrong role


def test_previous_needs_a_local_bundle_and_says_how_to_get_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from aitrace.signing.keys import generate_keypair

    pub = tmp_path / "k.pub"
    old = tmp_path / "old.aitrace"
    old.write_bytes(b"")
    generate_keypair(tmp_path / "k")
    for ref in ("oci://127.0.0.1:1/models/x:1", "models:/x/1"):
        assert main(["verify", ref, "--key", str(pub), "--previous", str(old)]) == 2
        err = capsys.readouterr().err
        assert f"--previous works on a local bundle, not on {ref}" in err
        assert f"aitrace pull {ref} -o new.aitrace" in err and "Traceback" not in err
    assert main(["verify", "b.aitrace", "--key", str(pub), "--previous",
                 str(tmp_path / "none.aitrace")]) == 2
    assert "none.aitrace: no such file" in capsys.readouterr().err
