"""Key files, signers and verifiers: formats, permissions, determinism, and every error path."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from aitrace.errors import InputError
from aitrace.signing.keys import (
    generate_keypair,
    is_encrypted_key,
    keyid,
    load_public_key,
    load_signer,
    new_signer,
    parse_public_key,
    passphrase_from_env,
)
from tests.helpers.signing import PASSPHRASE, KeyFiles


def test_keypair_files_have_pem_formats_and_modes(any_keys: KeyFiles) -> None:
    priv = any_keys.private.read_bytes()
    pub = any_keys.public.read_bytes()
    assert priv.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert pub.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert stat.S_IMODE(os.stat(any_keys.private).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(any_keys.public).st_mode) == 0o644
    assert any_keys.private.name.endswith(".key")
    assert any_keys.public.name.endswith(".pub")


def test_keyid_is_sha256_of_der_spki(any_keys: KeyFiles) -> None:
    pub = serialization.load_pem_public_key(any_keys.public.read_bytes())
    der = pub.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    expected = hashlib.sha256(der).hexdigest()
    assert keyid(pub) == expected
    assert load_public_key(any_keys.public).keyid == expected
    signer = load_signer(any_keys.private)
    assert signer.keyid == expected
    assert signer.key_type == any_keys.key_type
    assert signer.public_key().keyid == expected


def test_signatures_are_deterministic_and_verify(any_keys: KeyFiles) -> None:
    signer = load_signer(any_keys.private)
    verifier = load_public_key(any_keys.public)
    sig = signer.sign(b"payload")
    assert signer.sign(b"payload") == sig  # RFC 6979 / Ed25519
    assert verifier.verify(sig, b"payload")
    assert not verifier.verify(sig, b"payloaD")
    assert not verifier.verify(sig[:-1] + bytes([sig[-1] ^ 1]), b"payload")
    assert not verifier.verify(b"", b"payload")
    assert not verifier.verify(b"\x00" * 3, b"payload")


def test_signature_from_another_key_does_not_verify(ec_keys: KeyFiles) -> None:
    other = new_signer()
    assert not load_public_key(ec_keys.public).verify(other.sign(b"x"), b"x")


def test_signer_and_key_are_immutable(ec_keys: KeyFiles) -> None:
    signer = load_signer(ec_keys.private)
    with pytest.raises(AttributeError):
        signer._key = None  # type: ignore[misc]
    pub = load_public_key(ec_keys.public)
    with pytest.raises(AttributeError):
        pub._keyid = "x"  # type: ignore[misc]
    assert pub == signer.public_key()
    assert len({pub, signer.public_key()}) == 1


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    priv, pub = generate_keypair(tmp_path / "k")
    before = priv.read_bytes()
    with pytest.raises(InputError, match=r"k\.key already exists") as err:
        generate_keypair(tmp_path / "k")
    assert "--force" in (err.value.hint or "")
    assert priv.read_bytes() == before
    pub.unlink()
    (tmp_path / "k.key").unlink()
    (tmp_path / "k.pub").write_text("x")
    with pytest.raises(InputError, match=r"k\.pub already exists"):
        generate_keypair(tmp_path / "k")
    assert not (tmp_path / "k.key").exists()
    generate_keypair(tmp_path / "k", force=True)
    assert load_signer(tmp_path / "k.key").keyid == load_public_key(tmp_path / "k.pub").keyid


def test_generate_rejects_unknown_type_and_empty_passphrase(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown key type 'rsa'"):
        generate_keypair(tmp_path / "k", key_type="rsa")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="passphrase is empty"):
        generate_keypair(tmp_path / "k", passphrase=b"")
    assert not list(tmp_path.iterdir())


def test_encrypted_key_round_trip(encrypted_ec_keys: KeyFiles) -> None:
    path = encrypted_ec_keys.private
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert is_encrypted_key(path)
    signer = load_signer(path, PASSPHRASE)
    assert load_public_key(encrypted_ec_keys.public).verify(signer.sign(b"m"), b"m")


def test_encrypted_key_without_passphrase_is_named(encrypted_ec_keys: KeyFiles) -> None:
    with pytest.raises(InputError, match="is encrypted and no passphrase was given") as err:
        load_signer(encrypted_ec_keys.private)
    assert str(encrypted_ec_keys.private) in err.value.message
    assert "--passphrase-env" in (err.value.hint or "")


def test_wrong_passphrase_is_named(encrypted_ec_keys: KeyFiles) -> None:
    with pytest.raises(InputError, match="wrong passphrase for .*ec-enc.key"):
        load_signer(encrypted_ec_keys.private, b"nope")


def test_passphrase_for_unencrypted_key_is_ignored(ec_keys: KeyFiles) -> None:
    assert not is_encrypted_key(ec_keys.private)
    assert load_signer(ec_keys.private, b"whatever").keyid == load_signer(ec_keys.private).keyid


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a key at all", "is not a PEM key file"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
         "is not a readable PEM private key"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
         "is not a private key"),
    ],
)
def test_load_signer_rejects_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as err:
        load_signer(path)
    assert str(path) in err.value.message
    assert err.value.hint


def test_load_signer_rejects_public_key_and_missing_file(ec_keys: KeyFiles,
                                                         tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a private key"):
        load_signer(ec_keys.public)
    with pytest.raises(InputError, match="does not exist") as err:
        load_signer(tmp_path / "missing.key")
    assert "aitrace keygen" in (err.value.hint or "")
    with pytest.raises(InputError, match="is a directory"):
        load_signer(tmp_path)


def test_load_public_key_rejects_private_key_and_junk(ec_keys: KeyFiles, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a private key") as err:
        load_public_key(ec_keys.private)
    assert "never share" in (err.value.hint or "")
    junk = tmp_path / "junk.pub"
    junk.write_bytes(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(InputError, match="not a readable PEM public key"):
        load_public_key(junk)
    junk.write_bytes(b"ssh-ed25519 AAAA")
    with pytest.raises(InputError, match="is not a PEM public key"):
        load_public_key(junk)


def _pem_private(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def test_unsupported_curve_and_key_type(tmp_path: Path) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    path = tmp_path / "p384.key"
    path.write_bytes(_pem_private(p384))
    with pytest.raises(InputError, match="unsupported elliptic curve secp384r1") as err:
        load_signer(path)
    assert str(path) in err.value.message
    pub = p384.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(InputError, match="unsupported elliptic curve"):
        parse_public_key(pub, "p384.pub")
    rsa_path = tmp_path / "rsa.key"
    rsa_path.write_bytes(_pem_private(rsa.generate_private_key(65537, 2048)))
    with pytest.raises(InputError, match="unsupported key type RSAPrivateKey"):
        load_signer(rsa_path)


def test_passphrase_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AITRACE_TEST_PASS", "sécret")
    assert passphrase_from_env("AITRACE_TEST_PASS") == "sécret".encode()
    monkeypatch.delenv("AITRACE_TEST_PASS")
    with pytest.raises(InputError, match="AITRACE_TEST_PASS is not set"):
        passphrase_from_env("AITRACE_TEST_PASS")
    monkeypatch.setenv("AITRACE_TEST_PASS", "")
    with pytest.raises(InputError, match="AITRACE_TEST_PASS is empty"):
        passphrase_from_env("AITRACE_TEST_PASS")


def test_new_signer_types() -> None:
    assert new_signer("ed25519").key_type == "ed25519"
    assert new_signer().key_type == "ecdsa-p256"
    with pytest.raises(InputError, match="unknown key type"):
        new_signer("dsa")  # type: ignore[arg-type]
