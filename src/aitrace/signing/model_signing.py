"""OpenSSF model-signing: the Sigstore-bundle ``.sig`` that ``model_signing verify key`` accepts.

Through the optional ``model_signing`` package (``pip install 'aitrace[model-signing]'``), which
accepts EC keys only.

**Key ids.** The ``.sig``'s DSSE signature names the key by aitrace's key id — the SHA-256 of the
public key's DER SubjectPublicKeyInfo, the same id ``attestation.dsse.json`` uses — so one id
names the signer in both envelopes. The Sigstore bundle's ``verificationMaterial.publicKey.hint``
is model_signing's own fingerprint, the SHA-256 of the key's PEM text (``sha256sum release.pub``
for a key written by ``aitrace keygen``); ``model_signing verify`` requires it, so it stays.
The ``.sig`` file and its statement payload are written as RFC 8785 canonical JSON.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aitrace.errors import InputError, MissingDependencyError
from aitrace.record.jsonio import canonical_bytes, parse_untrusted
from aitrace.signing.dsse import pae
from aitrace.signing.keys import KeyType, Signer, is_encrypted_key, load_public_key, load_signer
from aitrace.store.files import fsync_dir

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import (
        EllipticCurvePrivateKey,
        EllipticCurvePublicKey,
    )


MODEL_SIGNING_INSTALL_HINT = "pip install 'aitrace[model-signing]'"



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
    """Re-sign model_signing's statement in a stable byte form, naming aitrace's key id.

    model_signing serialises parts of its predicate from sets and dicts whose order follows the
    interpreter's hash seed, so the same model signed twice gives different payload bytes. The
    statement is re-encoded as RFC 8785 canonical JSON and signed again with the same key (the
    same ECDSA P-256 / SHA-256 over the DSSE PAE that model_signing uses); the signature's
    ``keyid`` is set to aitrace's key id, and the Sigstore bundle is written in canonical form.
    Its fields stay model_signing's own.
    """
    source = f"model signature {sig_path}"
    doc = parse_untrusted(sig_path.read_bytes(), source, error=InputError,
                          hint="model_signing wrote an unexpected signature file")
    env = doc["dsseEnvelope"]
    statement = parse_untrusted(base64.b64decode(env["payload"]), f"{source}: payload",
                                error=InputError, hint="model_signing wrote an unexpected payload")
    payload = canonical_bytes(statement, what="the model-signing statement")
    sig = signer.sign(pae(env["payloadType"], payload))
    env["payload"] = base64.b64encode(payload).decode("ascii")
    env["signatures"] = [{"keyid": signer.keyid, "sig": base64.b64encode(sig).decode("ascii")}]
    sig_path.write_bytes(canonical_bytes(doc, what="the model signature"))


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


