"""OpenSSF model-signing signatures: written with model_signing's API, accepted by its verifier
(Python API and the ``model_signing`` CLI)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from aitrace.errors import InputError, MissingDependencyError
from aitrace.signing.keys import load_signer
from aitrace.signing.model_signing import (
    check_model_signature,
    model_signing_skip_reason,
    verify_model_signature,
    write_model_signature,
)
from tests.helpers.signing import KeyFiles

pytest.importorskip("model_signing")

MODEL_SIGNING_CLI = Path(sys.executable).parent / "model_signing"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "model.pkl"
    path.write_bytes(b"\x80\x04weights" * 5000)
    return path


@pytest.fixture(scope="module")
def signed(model_file: Path, ec_keys: KeyFiles) -> Path:
    return write_model_signature(model_file, ec_keys.private, model_file.with_suffix(".sig"))


def test_signature_is_a_sigstore_bundle_with_the_model_signing_predicate(signed: Path) -> None:
    bundle = json.loads(signed.read_bytes())
    assert bundle["mediaType"].startswith("application/vnd.dev.sigstore.bundle")
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    assert statement["predicateType"] == "https://model_signing/signature/v1.0"
    assert statement["subject"][0]["name"] == "model.pkl"


def test_one_key_id_names_the_signer_and_the_hint_is_model_signings_own(
        signed: Path, ec_keys: KeyFiles) -> None:
    """The .sig's DSSE signature names the key by aitrace's key id (sha256 of the DER
    SubjectPublicKeyInfo, as attestation.dsse.json does); the Sigstore hint stays model_signing's
    rule, sha256 of the PEM file — both recomputable with openssl and sha256sum."""
    import hashlib

    import rfc8785

    data = signed.read_bytes()
    bundle = json.loads(data)
    assert rfc8785.dumps(bundle) == data  # written as RFC 8785 canonical JSON
    payload = base64.b64decode(bundle["dsseEnvelope"]["payload"])
    assert rfc8785.dumps(json.loads(payload)) == payload
    (sig,) = bundle["dsseEnvelope"]["signatures"]
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", str(ec_keys.public), "-outform",
                          "DER"], capture_output=True, check=True).stdout
    assert sig["keyid"] == hashlib.sha256(der).hexdigest() == load_signer(ec_keys.private).keyid
    hint = bundle["verificationMaterial"]["publicKey"]["hint"]
    assert hint == hashlib.sha256(ec_keys.public.read_bytes()).hexdigest()


def test_python_api_verifies_and_detects_a_changed_model(
        model_file: Path, signed: Path, ec_keys: KeyFiles, tmp_path: Path) -> None:
    assert verify_model_signature(model_file, signed, ec_keys.public)
    changed = tmp_path / "model.pkl"
    changed.write_bytes(model_file.read_bytes() + b"!")
    problem = check_model_signature(changed, signed, ec_keys.public)
    assert problem is not None
    assert "does not verify" in problem


def test_wrong_public_key_is_refused(model_file: Path, signed: Path, tmp_path: Path) -> None:
    from aitrace.signing.keys import generate_keypair

    _, other_pub = generate_keypair(tmp_path / "other")
    assert not verify_model_signature(model_file, signed, other_pub)


@pytest.mark.skipif(not MODEL_SIGNING_CLI.exists(), reason="model_signing CLI not installed")
def test_model_signing_cli_accepts_the_signature(model_file: Path, signed: Path,
                                                 ec_keys: KeyFiles) -> None:
    proc = subprocess.run(
        [str(MODEL_SIGNING_CLI), "verify", "key", "--signature", str(signed),
         "--public_key", str(ec_keys.public), str(model_file)],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "succeeded" in (proc.stdout + proc.stderr).lower()


def test_signatures_are_deterministic(model_file: Path, signed: Path, ec_keys: KeyFiles,
                                      tmp_path: Path) -> None:
    again = write_model_signature(model_file, ec_keys.private, tmp_path / "again.sig")
    assert again.read_bytes() == signed.read_bytes()


def test_encrypted_key_and_model_directory(encrypted_ec_keys: KeyFiles, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    (model_dir / "sub").mkdir(parents=True)
    (model_dir / "config.json").write_text("{}")
    (model_dir / "sub" / "weights.bin").write_bytes(b"w" * 1000)
    sig = write_model_signature(model_dir, encrypted_ec_keys.private, tmp_path / "model.sig",
                                passphrase=encrypted_ec_keys.passphrase)
    assert verify_model_signature(model_dir, sig, encrypted_ec_keys.public)
    (model_dir / "sub" / "weights.bin").write_bytes(b"x" * 1000)
    assert not verify_model_signature(model_dir, sig, encrypted_ec_keys.public)
    with pytest.raises(InputError, match="wrong passphrase"):
        write_model_signature(model_dir, encrypted_ec_keys.private, tmp_path / "x.sig",
                              passphrase=b"bad")


def test_ed25519_keys_are_skipped_with_a_clear_message(model_file: Path, ed_keys: KeyFiles,
                                                       tmp_path: Path) -> None:
    reason = model_signing_skip_reason(load_signer(ed_keys.private).key_type)
    assert reason is not None
    assert "only elliptic-curve keys" in reason
    assert model_signing_skip_reason("ecdsa-p256") is None
    with pytest.raises(InputError, match="only elliptic-curve keys"):
        write_model_signature(model_file, ed_keys.private, tmp_path / "m.sig")
    assert not (tmp_path / "m.sig").exists()
    problem = check_model_signature(model_file, tmp_path / "m.sig", ed_keys.public)
    assert problem is not None
    assert "ed25519" in problem


def test_missing_model_and_missing_signature(ec_keys: KeyFiles, model_file: Path,
                                             tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        write_model_signature(tmp_path / "nope.pkl", ec_keys.private, tmp_path / "n.sig")
    problem = check_model_signature(model_file, tmp_path / "none.sig", ec_keys.public)
    assert problem is not None
    assert "none.sig does not exist" in problem
    garbage = tmp_path / "garbage.sig"
    garbage.write_text("{not json")
    assert not verify_model_signature(model_file, garbage, ec_keys.public)


def test_missing_package_gives_install_hint(monkeypatch: pytest.MonkeyPatch,
                                            model_file: Path, ec_keys: KeyFiles,
                                            tmp_path: Path) -> None:
    for name in [m for m in sys.modules if m == "model_signing" or
                 m.startswith("model_signing.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "model_signing", None)
    with pytest.raises(MissingDependencyError) as err:
        write_model_signature(model_file, ec_keys.private, tmp_path / "m.sig")
    assert err.value.hint == "pip install 'aitrace[model-signing]'"
