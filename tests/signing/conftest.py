"""Key pairs shared by the signing tests (generated once per module: key generation is cheap,
but scrypt-encrypted keys are not)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aitrace.signing.keys import generate_keypair
from tests.helpers.signing import PASSPHRASE, KeyFiles


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="module")
def ec_keys(keydir: Path) -> KeyFiles:
    priv, pub = generate_keypair(keydir / "ec")
    return KeyFiles("ecdsa-p256", priv, pub)


@pytest.fixture(scope="module")
def ed_keys(keydir: Path) -> KeyFiles:
    priv, pub = generate_keypair(keydir / "ed", key_type="ed25519")
    return KeyFiles("ed25519", priv, pub)


@pytest.fixture(scope="module")
def encrypted_ec_keys(keydir: Path) -> KeyFiles:
    priv, pub = generate_keypair(keydir / "ec-enc", passphrase=PASSPHRASE)
    return KeyFiles("ecdsa-p256", priv, pub, PASSPHRASE)


@pytest.fixture(scope="module", params=["ecdsa-p256", "ed25519"])
def any_keys(request: pytest.FixtureRequest, ec_keys: KeyFiles, ed_keys: KeyFiles) -> KeyFiles:
    return ec_keys if request.param == "ecdsa-p256" else ed_keys
