"""Keys: ECDSA P-256 (default) and Ed25519 PEM files, signers and trusted public keys.

A key's id is the SHA-256 of its public key's DER ``SubjectPublicKeyInfo``, so anyone holding
the ``.pub`` file can recompute it. Private keys are written ``0600`` and may be encrypted with a
passphrase, which comes from a prompt or from an environment variable (``passphrase_from_env``)
— never a command-line value. Signatures are deterministic: ECDSA uses RFC 6979 nonces and
Ed25519 is deterministic by construction, so a bundle built twice is byte-identical.
``cryptography`` is imported inside the functions that need it, for CLI start-up.
"""

from __future__ import annotations

import abc
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from aitrace.errors import InputError
from aitrace.store.files import atomic_write

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import (
        EllipticCurvePrivateKey,
        EllipticCurvePublicKey,
    )
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from cryptography.hazmat.primitives.asymmetric.types import (
        PrivateKeyTypes,
        PublicKeyTypes,
    )


KeyType = Literal["ecdsa-p256", "ed25519"]
KEY_TYPES: tuple[KeyType, ...] = get_args(KeyType)
DEFAULT_KEY_TYPE: KeyType = "ecdsa-p256"



_KEYGEN_HINT = "create one with `aitrace keygen -o PREFIX`"


# --------------------------------------------------------------------------- key files


def generate_keypair(
    path_prefix: Path,
    key_type: KeyType = DEFAULT_KEY_TYPE,
    passphrase: bytes | None = None,
    force: bool = False,
) -> tuple[Path, Path]:
    """Create ``<prefix>.key`` (PKCS#8 PEM, 0600) and ``<prefix>.pub`` (SubjectPublicKeyInfo PEM).

    Args:
        path_prefix: where to write, without extension (``keys/release``).
        key_type: ``"ecdsa-p256"`` (default) or ``"ed25519"``.
        passphrase: encrypt the private key with it (best available PKCS#8 encryption).
        force: overwrite existing files instead of refusing.

    Returns:
        The private and public key paths.

    Raises:
        InputError: an unknown key type, an empty passphrase, or a file that exists already.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if key_type not in KEY_TYPES:
        raise InputError(f"unknown key type {key_type!r}",
                         hint=f"choose one of {', '.join(KEY_TYPES)}")
    if passphrase is not None and not passphrase:
        raise InputError("the passphrase is empty",
                         hint="give a non-empty passphrase, or none for an unencrypted key")
    priv_path = Path(f"{path_prefix}.key")
    pub_path = Path(f"{path_prefix}.pub")
    if not force:
        for existing in (priv_path, pub_path):
            if existing.exists() or existing.is_symlink():
                raise InputError(f"{existing} already exists; refusing to overwrite a key",
                                 hint="choose another -o prefix, or pass --force to replace it")
    private: PrivateKeyTypes
    if key_type == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        private = ec.generate_private_key(ec.SECP256R1())
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase
        else serialization.NoEncryption())
    priv_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    pub_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        atomic_write(priv_path, priv_pem, mode=0o600)
        atomic_write(pub_path, pub_pem, mode=0o644)
    except OSError as exc:
        raise InputError(f"cannot write key files at {path_prefix}: {exc.strerror or exc}",
                         hint="check that the directory is writable") from None
    return priv_path, pub_path


def passphrase_from_env(name: str) -> bytes:
    """The passphrase held in environment variable ``name`` (UTF-8 bytes).

    Raises:
        InputError: the variable is unset or empty.
    """
    value = os.environ.get(name)
    if value is None:
        raise InputError(f"environment variable {name} is not set",
                         hint=f"export {name}=... with the key's passphrase, or omit the option "
                              "to be prompted")
    if not value:
        raise InputError(f"environment variable {name} is empty",
                         hint=f"put the key's passphrase in {name}")
    return value.encode("utf-8")


def is_encrypted_key(path: Path) -> bool:
    """Whether a PEM private key file is passphrase-protected (so the CLI knows to prompt)."""
    data = _read_key_file(path)
    return b"BEGIN ENCRYPTED PRIVATE KEY" in data or b"Proc-Type: 4,ENCRYPTED" in data


def keyid(public_key: PublicKeyTypes) -> str:
    """Hex SHA-256 of the public key's DER SubjectPublicKeyInfo: the key's stable id."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _read_key_file(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"key file {path} does not exist", hint=_KEYGEN_HINT) from None
    except IsADirectoryError:
        raise InputError(f"key file {path} is a directory", hint="give the key file") from None
    except OSError as exc:
        raise InputError(f"cannot read key file {path}: {exc.strerror or exc}",
                         hint="check the path and its permissions") from None


def _key_type_of(key: Any, source: str) -> KeyType:
    """Our name for a cryptography key object; refuse anything we do not sign with."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if not isinstance(key.curve, ec.SECP256R1):
            raise InputError(
                f"{source}: unsupported elliptic curve {key.curve.name}",
                hint="aitrace signs with ECDSA P-256 (secp256r1) or Ed25519; "
                     "create a key with `aitrace keygen`")
        return "ecdsa-p256"
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    raise InputError(f"{source}: unsupported key type {type(key).__name__}",
                     hint="aitrace signs with ECDSA P-256 or Ed25519; "
                          "create a key with `aitrace keygen`")


# --------------------------------------------------------------------------- signers


class _KeyHandle(abc.ABC):  # noqa: B024 - shared state only; subclasses are the ABCs
    """What signers and public keys share: the wrapped key, its id and origin; immutable."""

    key_type: KeyType
    __slots__ = ("_key", "_keyid", "_source")
    _key: Any
    _keyid: str
    _source: str

    def __init__(self, key: Any, source: str, kid: str) -> None:
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_keyid", kid)
        object.__setattr__(self, "_source", source)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(keyid={self.keyid[:12]}…, source={self._source!r})"

    @property
    def keyid(self) -> str:
        """SHA-256 of the public key's DER SubjectPublicKeyInfo."""
        return self._keyid

    @property
    def source(self) -> str:
        """Where the key came from (a path, or ``<generated>``)."""
        return self._source


class Signer(_KeyHandle):
    """A private key that signs bytes; immutable once loaded.

    Subclasses implement only ``_sign``; the public face (``keyid``, ``key_type``,
    ``public_key``) is shared.
    """

    __slots__ = ()

    def __init__(self, key: Any, source: str) -> None:
        super().__init__(key, source, keyid(key.public_key()))

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``; the same bytes always give the same signature."""
        return self._sign(bytes(data))

    def public_key(self) -> PublicKey:
        """The matching verifier."""
        return _public_key_for(self._key.public_key(), f"{self._source} (public part)")

    @abc.abstractmethod
    def _sign(self, data: bytes) -> bytes:
        """Backend signing of raw bytes."""


class _EcdsaP256Signer(Signer):
    key_type: KeyType = "ecdsa-p256"
    __slots__ = ()

    def _sign(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        key: EllipticCurvePrivateKey = self._key
        # RFC 6979 nonces: deterministic signatures, hence byte-identical bundles.
        return key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))


class _Ed25519Signer(Signer):
    key_type: KeyType = "ed25519"
    __slots__ = ()

    def _sign(self, data: bytes) -> bytes:
        key: Ed25519PrivateKey = self._key
        return key.sign(data)


def _signer_for(key: Any, source: str) -> Signer:
    key_type = _key_type_of(key, source)
    if key_type == "ecdsa-p256":
        return _EcdsaP256Signer(key, source)
    return _Ed25519Signer(key, source)


def new_signer(key_type: KeyType = DEFAULT_KEY_TYPE) -> Signer:
    """An ephemeral in-memory signer (tests, throw-away signatures)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if key_type not in KEY_TYPES:
        raise InputError(f"unknown key type {key_type!r}",
                         hint=f"choose one of {', '.join(KEY_TYPES)}")
    key: Any = (ed25519.Ed25519PrivateKey.generate() if key_type == "ed25519"
                else ec.generate_private_key(ec.SECP256R1()))
    return _signer_for(key, "<generated>")


def load_signer(path: Path, passphrase: bytes | None = None) -> Signer:
    """Load a PEM private key as a ``Signer``.

    A passphrase given for an unencrypted key is ignored.

    Raises:
        InputError: missing file, not a PEM private key, encrypted key without passphrase,
            wrong passphrase, or an unsupported key type or curve — each naming the file.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    data = _read_key_file(path)
    if b"-----BEGIN" not in data:
        raise InputError(f"{path} is not a PEM key file",
                         hint="give the .key file written by `aitrace keygen`")
    if b"PRIVATE KEY-----" not in data:
        raise InputError(f"{path} is not a private key (it looks like a public key or "
                         "certificate)", hint="sign with the .key file, verify with the .pub file")
    encrypted = b"BEGIN ENCRYPTED PRIVATE KEY" in data or b"Proc-Type: 4,ENCRYPTED" in data
    if encrypted and not passphrase:
        raise InputError(f"{path} is encrypted and no passphrase was given",
                         hint="enter the passphrase when prompted, or name an environment "
                              "variable holding it with --passphrase-env")
    try:
        key = serialization.load_pem_private_key(data, passphrase if encrypted else None)
    except ValueError as exc:
        if encrypted:
            raise InputError(f"wrong passphrase for {path} (or the key file is damaged)",
                             hint="check the passphrase; keys cannot be recovered without it"
                             ) from None
        raise InputError(f"{path} is not a readable PEM private key ({exc})",
                         hint="give the .key file written by `aitrace keygen`") from None
    except (TypeError, UnsupportedAlgorithm) as exc:
        raise InputError(f"{path}: cannot load private key ({exc})",
                         hint="give an ECDSA P-256 or Ed25519 key from `aitrace keygen`"
                         ) from None
    return _signer_for(key, str(path))


# --------------------------------------------------------------------------- verifiers


class PublicKey(_KeyHandle):
    """A trusted public key that checks signatures.

    ``verify`` is a template method: it normalises input and turns any backend failure into
    ``False``; subclasses implement only ``_verify`` for their algorithm.
    """

    __slots__ = ()

    def __init__(self, key: Any, source: str) -> None:
        super().__init__(key, source, keyid(key))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.keyid == self.keyid

    def __hash__(self) -> int:
        return hash(self.keyid)

    @property
    def crypto_key(self) -> PublicKeyTypes:
        """The underlying ``cryptography`` key (for interoperability, e.g. securesystemslib)."""
        k: PublicKeyTypes = self._key
        return k

    def pem(self) -> bytes:
        """The SubjectPublicKeyInfo PEM form (what ``.pub`` files hold)."""
        from cryptography.hazmat.primitives import serialization

        data: bytes = self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return data

    def verify(self, sig: bytes, data: bytes) -> bool:
        """Whether ``sig`` is this key's signature over ``data`` (never raises for bad input)."""
        from cryptography.exceptions import InvalidSignature

        if not isinstance(sig, (bytes, bytearray)) or not sig:
            return False
        try:
            self._verify(bytes(sig), bytes(data))
        except (InvalidSignature, ValueError):
            return False
        return True

    @abc.abstractmethod
    def _verify(self, sig: bytes, data: bytes) -> None:
        """Raise ``InvalidSignature`` unless ``sig`` signs ``data``."""


class _EcdsaP256PublicKey(PublicKey):
    key_type: KeyType = "ecdsa-p256"
    __slots__ = ()

    def _verify(self, sig: bytes, data: bytes) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        key: EllipticCurvePublicKey = self._key
        key.verify(sig, data, ec.ECDSA(hashes.SHA256()))


class _Ed25519PublicKey(PublicKey):
    key_type: KeyType = "ed25519"
    __slots__ = ()

    def _verify(self, sig: bytes, data: bytes) -> None:
        key: Ed25519PublicKey = self._key
        key.verify(sig, data)


def _public_key_for(key: Any, source: str) -> PublicKey:
    key_type = _key_type_of(key, source)
    if key_type == "ecdsa-p256":
        return _EcdsaP256PublicKey(key, source)
    return _Ed25519PublicKey(key, source)


def parse_public_key(pem: bytes, source: str) -> PublicKey:
    """Parse SubjectPublicKeyInfo PEM bytes (e.g. a key shipped inside a bundle).

    Raises:
        InputError: not a PEM public key, or an unsupported key type or curve.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    if b"PRIVATE KEY-----" in pem:
        raise InputError(f"{source} is a private key; verification needs the public key",
                         hint="give the .pub file next to it — never share the .key file")
    if b"-----BEGIN PUBLIC KEY-----" not in pem:
        raise InputError(f"{source} is not a PEM public key",
                         hint="give the .pub file written by `aitrace keygen`")
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InputError(f"{source} is not a readable PEM public key ({exc})",
                         hint="give the .pub file written by `aitrace keygen`") from None
    return _public_key_for(key, source)


def load_public_key(path: Path) -> PublicKey:
    """Load a trusted public key from a ``.pub`` PEM file (a private key is refused).

    Raises:
        InputError: missing/unreadable file, not a PEM public key, or unsupported type/curve.
    """
    return parse_public_key(_read_key_file(path), str(path))




