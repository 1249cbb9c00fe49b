"""Keys, DSSE envelopes and in-toto statements: how a record is signed and checked.

* **Keys** are PEM files: ECDSA P-256 by default (what OpenSSF model-signing, cosign and
  securesystemslib all accept), Ed25519 as an option. A key's id is the SHA-256 of its public
  key's DER ``SubjectPublicKeyInfo``, so anyone holding the ``.pub`` file can recompute it.
  Private keys are written ``0600`` and may be encrypted with a passphrase, which comes from a
  prompt or from an environment variable (``passphrase_from_env``) — never a command-line value.
* **Signatures are deterministic**: ECDSA uses RFC 6979 nonces and Ed25519 is deterministic by
  construction, so signing the same bytes twice gives the same bytes — a bundle built twice is
  byte-identical.
* **DSSE** (``dsse_sign``/``dsse_verify``) signs ``PAE(payloadType, payload)``; the envelope is the
  standard JSON form that securesystemslib and in-toto tooling verify independently.
* **OpenSSF model-signing** (``write_model_signature``/``verify_model_signature``) writes the
  Sigstore-bundle ``.sig`` that ``model_signing verify key`` accepts, through the optional
  ``model_signing`` package.

``cryptography`` is imported inside the functions that need it, so importing this module is
cheap for CLI start-up.
"""

from __future__ import annotations

import abc
import base64
import binascii
import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from aitrace.errors import InputError, InvalidBundle, MissingDependencyError
from aitrace.store.files import atomic_write, fsync_dir

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

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
MODEL_SIGNING_INSTALL_HINT = "pip install 'aitrace[model-signing]'"

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


# --------------------------------------------------------------------------- DSSE


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding: the exact bytes a DSSE signature covers."""
    pt = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(pt), pt, len(payload), payload)


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(value: str) -> bytes:
    """Standard or URL-safe base64 (DSSE allows both); raise ``ValueError`` otherwise."""
    raw = value.encode("ascii")
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error:
        pass
    if any(c in raw for c in b"+/"):
        raise ValueError("not base64")
    try:
        return base64.b64decode(raw.replace(b"-", b"+").replace(b"_", b"/"), validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None


def dsse_sign(payload: bytes, payload_type: str, signers: Sequence[Signer]) -> dict[str, Any]:
    """A DSSE envelope over ``payload`` signed by every signer (signatures sorted by key id).

    Raises:
        InputError: no signers, or the same key twice.
    """
    if not signers:
        raise InputError("nothing to sign with: no signing key given",
                         hint="pass --key with a private key from `aitrace keygen`")
    ids = [s.keyid for s in signers]
    if len(set(ids)) != len(ids):
        raise InputError("the same signing key was given more than once",
                         hint="give each --key once")
    message = pae(payload_type, payload)
    sigs = sorted(({"keyid": s.keyid, "sig": _b64encode(s.sign(message))} for s in signers),
                  key=lambda d: d["keyid"])
    return {"payload": _b64encode(payload), "payloadType": payload_type, "signatures": sigs}


@dataclass(frozen=True)
class DsseResult:
    """What ``dsse_verify`` found: the payload and which trusted keys vouched for it."""

    payload: bytes
    payload_type: str
    verified_keyids: tuple[str, ...]
    problems: tuple[str, ...]
    threshold: int = 1

    @property
    def ok(self) -> bool:
        """Whether at least ``threshold`` distinct trusted keys signed the payload."""
        return len(self.verified_keyids) >= self.threshold


def _malformed(source: str, field_name: str, what: str) -> InvalidBundle:
    return InvalidBundle(f"{source}: field '{field_name}' {what}",
                         hint="the DSSE envelope is damaged or was not written by a DSSE signer")


def dsse_verify(
    envelope: Mapping[str, Any],
    keys: Sequence[PublicKey],
    threshold: int = 1,
    *,
    source: str = "DSSE envelope",
) -> DsseResult:
    """Check a DSSE envelope against trusted ``keys``; report, never raise, bad signatures.

    A signature counts when its key id names a trusted key (or it has no key id) and it verifies
    under that key; each trusted key counts once toward ``threshold``.

    Raises:
        InvalidBundle: the envelope is structurally malformed (naming the field).
        InputError: ``threshold`` is below 1.
    """
    if threshold < 1:
        raise InputError(f"threshold must be at least 1 (got {threshold})",
                         hint="pass --threshold 1 or more")
    if not isinstance(envelope, Mapping):
        raise _malformed(source, "$", "must be a JSON object")
    payload_b64 = envelope.get("payload")
    if not isinstance(payload_b64, str):
        raise _malformed(source, "payload", "must be a base64 string")
    try:
        payload = _b64decode(payload_b64)
    except (ValueError, UnicodeEncodeError):
        raise _malformed(source, "payload", "is not valid base64") from None
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type:
        raise _malformed(source, "payloadType", "must be a non-empty string")
    raw_sigs = envelope.get("signatures")
    if not isinstance(raw_sigs, list) or not raw_sigs:
        raise _malformed(source, "signatures", "must be a non-empty array")
    parsed: list[tuple[str, bytes]] = []
    for i, entry in enumerate(raw_sigs):
        if not isinstance(entry, Mapping):
            raise _malformed(source, f"signatures[{i}]", "must be an object")
        kid = entry.get("keyid", "")
        if not isinstance(kid, str):
            raise _malformed(source, f"signatures[{i}].keyid", "must be a string")
        sig_b64 = entry.get("sig")
        if not isinstance(sig_b64, str):
            raise _malformed(source, f"signatures[{i}].sig", "must be a base64 string")
        try:
            sig = _b64decode(sig_b64)
        except (ValueError, UnicodeEncodeError):
            raise _malformed(source, f"signatures[{i}].sig", "is not valid base64") from None
        parsed.append((kid, sig))

    message = pae(payload_type, payload)
    trusted = {k.keyid: k for k in keys}
    verified: set[str] = set()
    problems: list[str] = []
    for i, (kid, sig) in enumerate(parsed):
        label = f"signature {i}" + (f" (keyid {kid[:16]}…)" if kid else " (no keyid)")
        candidates = [trusted[kid]] if kid in trusted else ([] if kid else list(trusted.values()))
        if not candidates:
            problems.append(f"{label} is not by a trusted key")
            continue
        good = [k for k in candidates if k.verify(sig, message)]
        if not good:
            problems.append(f"{label} does not verify under the trusted key: the payload, "
                            "payloadType or signature was altered")
            continue
        verified.update(k.keyid for k in good)
    if len(verified) < threshold:
        problems.append(f"{len(verified)} of the required {threshold} trusted keys signed "
                        f"({len(trusted)} trusted key(s) given)")
    return DsseResult(payload=payload, payload_type=payload_type,
                      verified_keyids=tuple(sorted(verified)), problems=tuple(problems),
                      threshold=threshold)


# --------------------------------------------------------------------------- in-toto


def make_statement(
    subjects: Sequence[tuple[str, str]], predicate_type: str, predicate: Mapping[str, Any],
) -> dict[str, Any]:
    """An in-toto Statement v1 over ``(name, sha256)`` subjects (kept in the given order)."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": sha}} for name, sha in subjects],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }


def parse_statement(payload: bytes, *, source: str = "statement") -> dict[str, Any]:
    """Parse and shape-check an in-toto Statement v1 from a DSSE payload.

    Raises:
        InvalidBundle: not JSON, or a field of the statement is missing or malformed.
    """
    def bad(field_name: str, what: str) -> InvalidBundle:
        return InvalidBundle(f"{source}: in-toto statement field '{field_name}' {what}",
                             hint="the attestation was not made by an in-toto v1 signer, "
                                  "or it was altered")

    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad("$", "is not valid UTF-8 JSON") from None
    if not isinstance(doc, dict):
        raise bad("$", "must be a JSON object")
    if doc.get("_type") != STATEMENT_TYPE:
        raise bad("_type", f"must be {STATEMENT_TYPE!r} (got {doc.get('_type')!r})")
    subjects = doc.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise bad("subject", "must be a non-empty array")
    for i, subj in enumerate(subjects):
        if not isinstance(subj, dict):
            raise bad(f"subject[{i}]", "must be an object")
        name = subj.get("name")
        if not isinstance(name, str) or not name:
            raise bad(f"subject[{i}].name", "must be a non-empty string")
        digest = subj.get("digest")
        if not isinstance(digest, dict) or not digest:
            raise bad(f"subject[{i}].digest", "must be a non-empty object")
        for alg, value in digest.items():
            if not isinstance(value, str) or not value:
                raise bad(f"subject[{i}].digest.{alg}", "must be a hex string")
        sha = digest.get("sha256")
        if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise bad(f"subject[{i}].digest.sha256", "must be 64 lowercase hex characters")
    ptype = doc.get("predicateType")
    if not isinstance(ptype, str) or not ptype:
        raise bad("predicateType", "must be a non-empty string (a URI)")
    if "predicate" in doc and not isinstance(doc["predicate"], dict):
        raise bad("predicate", "must be an object")
    return doc


# --------------------------------------------------------------------------- model-signing


def model_signing_skip_reason(key_type: KeyType) -> str | None:
    """Why a key of this type cannot write an OpenSSF model-signing signature (None: it can)."""
    if key_type == "ecdsa-p256":
        return None
    return (f"OpenSSF model-signing accepts only elliptic-curve keys (P-256/384/521), not "
            f"{key_type}; no model .sig was written (use an ecdsa-p256 key to get one)")


def _import_model_signing() -> Any:
    try:
        import model_signing.hashing
        import model_signing.signing
        import model_signing.verifying
    except ImportError as exc:
        raise MissingDependencyError(
            f"OpenSSF model signatures need the model-signing package ({exc})",
            hint=MODEL_SIGNING_INSTALL_HINT) from None
    return model_signing


class _Rfc6979Key:
    """Wraps an EC private key so model_signing's ECDSA signatures are deterministic."""

    def __init__(self, key: EllipticCurvePrivateKey) -> None:
        self._key = key

    def sign(self, data: bytes, algorithm: Any) -> bytes:
        from cryptography.hazmat.primitives.asymmetric import ec

        if isinstance(algorithm, ec.ECDSA):
            algorithm = ec.ECDSA(algorithm.algorithm, deterministic_signing=True)
        return self._key.sign(data, algorithm)

    def public_key(self) -> EllipticCurvePublicKey:
        return self._key.public_key()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._key, name)


def write_model_signature(
    model_path: Path, private_key_path: Path, out_sig: Path, passphrase: bytes | None = None,
) -> Path:
    """Sign a model file or directory as OpenSSF model-signing does (``model_signing sign key``).

    The ``.sig`` is a Sigstore bundle whose DSSE payload is an in-toto statement with the
    ``https://model_signing/signature/v1.0`` predicate; ``model_signing verify key
    --signature SIG --public_key KEY.pub MODEL`` accepts it. Signatures are made deterministic
    (RFC 6979) so a bundle rebuilt from the same record is byte-identical.

    Raises:
        MissingDependencyError: the ``model-signing`` extra is not installed.
        InputError: the key cannot be loaded, is not an EC key, or the model path is missing.
    """
    signer = load_signer(private_key_path, passphrase)  # clear errors before model_signing's
    reason = model_signing_skip_reason(signer.key_type)
    if reason:
        raise InputError(f"{private_key_path}: {reason}",
                         hint="create an ecdsa-p256 key with `aitrace keygen` for model .sig files")
    if not Path(model_path).exists():
        raise InputError(f"model {model_path} does not exist",
                         hint="model signatures are written for files present at bundle time")
    ms = _import_model_signing()
    encrypted = is_encrypted_key(private_key_path)
    # model_signing hands ``password`` straight to cryptography, which wants bytes.
    config = ms.signing.Config().use_elliptic_key_signer(
        private_key=Path(private_key_path), password=passphrase if encrypted else None)
    # model_signing lists the ignored git paths from a frozenset, so their order (and the
    # signed payload) would change with the interpreter's hash seed; a released model file has
    # no git paths to ignore, so none are listed and the payload is stable.
    hashing: Any = ms.hashing
    config.set_hashing_config(
        hashing.Config().set_ignored_paths(paths=[], ignore_git_paths=False))
    inner = getattr(config, "_signer", None)
    if inner is not None and hasattr(inner, "_private_key"):
        inner._private_key = _Rfc6979Key(inner._private_key)
    out_sig = Path(out_sig)
    out_sig.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".sig", dir=out_sig.parent)
    os.close(fd)
    try:
        try:
            config.sign(Path(model_path), Path(tmp))
        except (ValueError, OSError) as exc:
            raise InputError(f"model-signing could not sign {model_path}: {exc}",
                             hint="check that the model path is readable and holds no links"
                             ) from None
        _stabilise_model_signature(Path(tmp), signer)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_sig)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    fsync_dir(out_sig.parent)
    return out_sig


def _stabilise_model_signature(sig_path: Path, signer: Signer) -> None:
    """Re-sign model_signing's statement in a stable byte form.

    model_signing serialises parts of its predicate from sets and dicts whose order follows the
    interpreter's hash seed, so the same model signed twice gives different payload bytes. The
    statement is re-encoded with sorted keys and signed again with the same key (the same
    ECDSA P-256 / SHA-256 over the DSSE PAE that model_signing uses); only the payload and
    signature strings change, so the Sigstore bundle stays model_signing's own.
    """
    raw = sig_path.read_text(encoding="utf-8")
    env = json.loads(raw)["dsseEnvelope"]
    statement = json.loads(base64.b64decode(env["payload"]))
    payload = json.dumps(statement, sort_keys=True, indent=2).encode("utf-8")
    new_sig = base64.b64encode(signer.sign(pae(env["payloadType"], payload))).decode()
    (old_sig,) = [s["sig"] for s in env["signatures"]]
    new_payload = base64.b64encode(payload).decode()
    raw = raw.replace(env["payload"], new_payload, 1).replace(old_sig, new_sig, 1)
    sig_path.write_text(raw, encoding="utf-8")


def check_model_signature(model_path: Path, sig_path: Path, public_key_path: Path) -> str | None:
    """Verify an OpenSSF model-signing ``.sig``; return ``None`` if it holds, else the problem.

    Raises:
        MissingDependencyError: the ``model-signing`` extra is not installed.
        InputError: the public key cannot be loaded.
    """
    key = load_public_key(public_key_path)
    reason = model_signing_skip_reason(key.key_type)
    if reason:
        return f"{public_key_path}: {reason}"
    if not Path(sig_path).is_file():
        return f"model signature {sig_path} does not exist"
    if not Path(model_path).exists():
        return f"model {model_path} does not exist"
    ms = _import_model_signing()
    config = ms.verifying.Config().use_elliptic_key_verifier(public_key=Path(public_key_path))
    try:
        with contextlib.redirect_stdout(None):  # it prints format warnings to stdout
            config.verify(Path(model_path), Path(sig_path))
    except Exception as exc:  # noqa: BLE001 - any failure of a foreign verifier is a verdict
        text = str(exc) or type(exc).__name__
        return f"model signature {sig_path} does not verify for {model_path}: {text}"
    return None


def verify_model_signature(model_path: Path, sig_path: Path, public_key_path: Path) -> bool:
    """Whether the model-signing ``.sig`` verifies ``model_path`` under ``public_key_path``."""
    return check_model_signature(model_path, sig_path, public_key_path) is None
