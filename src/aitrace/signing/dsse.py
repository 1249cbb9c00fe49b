"""DSSE envelopes over in-toto Statements v1: how a record and an approval are signed and checked.

``dsse_sign`` signs ``PAE(payloadType, payload)``; the envelope is the standard JSON form that
securesystemslib and in-toto tooling verify independently.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aitrace.errors import InputError, InvalidBundle
from aitrace.signing.keys import PublicKey, Signer

if TYPE_CHECKING:
    pass


STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


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




