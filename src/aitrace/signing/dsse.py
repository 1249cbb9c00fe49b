"""DSSE envelopes over in-toto Statements v1: how a record and an approval are signed and checked.

Signing: ``dsse_sign`` signs ``PAE(payloadType, payload)`` and returns the envelope's standard
JSON form, which securesystemslib and in-toto tooling verify independently.

Checking is one path for every attestation aitrace reads (a bundle's ``attestation.dsse.json``,
a reviewer's approval):

1. ``Envelope.from_bytes`` parses the untrusted bytes once, at the edge, with the hardened
   ``parse_untrusted`` (no duplicate keys, bounded size and depth, no NaN) and one strict base64
   decoder for the payload and every signature, into frozen models.
2. ``verify_attestation`` runs the fixed sequence — signatures by trusted keys over
   ``PAE(payloadType, payload)`` (a threshold of *distinct* keys), payloadType, Statement
   ``_type``, predicateType, the predicate's model — and returns every problem as a value. The
   ``Statement`` it returns is parsed from ``Envelope.payload``: the very bytes whose signatures
   were checked, so no second decoding can show a verifier one predicate and a reader another.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from aitrace.errors import AitraceError, InputError, InvalidBundle
from aitrace.record._model import JSONValue, from_json
from aitrace.record.jsonio import DEFAULT_LIMITS, JsonLimits, parse_untrusted

if TYPE_CHECKING:
    from aitrace.signing.keys import PublicKey, Signer


STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"

_ENVELOPE_HINT = "the DSSE envelope is damaged or was not written by a DSSE signer"
_STATEMENT_HINT = "the attestation was not made by an in-toto v1 signer, or it was altered"
_HEX = frozenset("0123456789abcdef")

P = TypeVar("P")


# --------------------------------------------------------------------------- DSSE


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding: the exact bytes a DSSE signature covers."""
    pt = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(pt), pt, len(payload), payload)


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(value: str) -> bytes | None:
    """Decode strict base64, standard or URL-safe (DSSE allows both); None when it is not.

    The one decoder for payloads and signatures. Strict: padding required, no whitespace, no
    characters of both alphabets, and the text must be the canonical encoding of its bytes, so
    one byte string has exactly one accepted spelling per alphabet.
    """
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        return None
    urlsafe = any(c in raw for c in b"-_")
    if urlsafe and any(c in raw for c in b"+/"):
        return None
    std = raw.replace(b"-", b"+").replace(b"_", b"/") if urlsafe else raw
    try:
        data = base64.b64decode(std, validate=True)
    except binascii.Error:
        return None
    return data if base64.b64encode(data) == std else None


@dataclass(frozen=True)
class Signature:
    """One DSSE signature: the key id it names (``""`` when it names none) and its raw bytes."""

    keyid: str
    sig: bytes = dc_field(repr=False)


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope, decoded: the payload and signatures as bytes, nothing left in base64.

    Build one from untrusted input with ``from_bytes`` only; inside the library an ``Envelope``
    is always well-formed (but not verified: see ``verify_attestation``).
    """

    payload_type: str
    payload: bytes = dc_field(repr=False)
    signatures: tuple[Signature, ...]

    @classmethod
    def from_bytes(cls, data: bytes, source: str, *,
                   limits: JsonLimits = DEFAULT_LIMITS) -> Envelope:
        """Parse an envelope's JSON bytes with the hardened parser and one base64 decoder.

        Args:
            data: the envelope file's bytes.
            source: how the envelope is named in errors (a file, ``bundle: member 'x'``).
            limits: size and depth bounds for the JSON.

        Raises:
            InvalidBundle: not JSON by ``parse_untrusted``'s rules, or a field is missing or
                malformed (named, e.g. ``field 'signatures[0].sig' is not valid base64``).
        """
        doc = parse_untrusted(data, source, limits=limits, hint=_ENVELOPE_HINT)

        def bad(name: str, what: str) -> InvalidBundle:
            return InvalidBundle(f"{source}: field '{name}' {what}", hint=_ENVELOPE_HINT)

        def b64(value: Any, name: str) -> bytes:
            if not isinstance(value, str):
                raise bad(name, "must be a base64 string")
            decoded = _b64decode(value)
            if decoded is None:
                raise bad(name, "is not valid base64")
            return decoded

        if not isinstance(doc, dict):
            raise bad("$", "must be a JSON object")
        payload = b64(doc.get("payload"), "payload")
        payload_type = doc.get("payloadType")
        if not isinstance(payload_type, str) or not payload_type:
            raise bad("payloadType", "must be a non-empty string")
        if not payload_type.isprintable():  # also refuses lone surrogates: PAE is UTF-8
            raise bad("payloadType", "must be printable Unicode (no control characters)")
        raw_sigs = doc.get("signatures")
        if not isinstance(raw_sigs, list) or not raw_sigs:
            raise bad("signatures", "must be a non-empty array")
        sigs = []
        for i, entry in enumerate(raw_sigs):
            if not isinstance(entry, dict):
                raise bad(f"signatures[{i}]", "must be an object")
            kid = entry.get("keyid", "")
            if not isinstance(kid, str) or not kid.isprintable():
                raise bad(f"signatures[{i}].keyid", "must be a printable string")
            sigs.append(Signature(kid, b64(entry.get("sig"), f"signatures[{i}].sig")))
        return cls(payload_type=payload_type, payload=payload, signatures=tuple(sigs))

    def to_json(self) -> dict[str, Any]:
        """The standard DSSE JSON form (standard base64; ``keyid`` omitted when empty)."""
        return {
            "payload": _b64encode(self.payload),
            "payloadType": self.payload_type,
            "signatures": [{"keyid": s.keyid, "sig": _b64encode(s.sig)} if s.keyid
                           else {"sig": _b64encode(s.sig)} for s in self.signatures],
        }


def dsse_sign(payload: bytes, payload_type: str, signers: Sequence[Signer]) -> dict[str, Any]:
    """A DSSE envelope (its JSON form) over ``payload`` signed by every signer, sorted by key id.

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
    sigs = sorted((Signature(s.keyid, s.sign(message)) for s in signers), key=lambda s: s.keyid)
    return Envelope(payload_type=payload_type, payload=payload, signatures=tuple(sigs)).to_json()


# --------------------------------------------------------------------------- in-toto


@dataclass(frozen=True)
class Subject:
    """A statement subject: a name and its digest set (algorithm → lowercase hex)."""

    name: str
    digest: Mapping[str, str] = dc_field(hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", MappingProxyType(dict(self.digest)))

    @property
    def sha256(self) -> str | None:
        """The subject's ``sha256`` digest, or None when it has none."""
        return self.digest.get("sha256")

    @property
    def digest_items(self) -> tuple[tuple[str, str], ...]:
        """The digest set as sorted ``(algorithm, hex)`` pairs (what comparisons use)."""
        return tuple(sorted(self.digest.items()))


@dataclass(frozen=True)
class Statement:
    """An in-toto Statement, parsed and shape-checked; the predicate stays raw JSON.

    The predicate is parsed into its own model by ``verify_attestation`` once its
    ``predicate_type`` is known to be the expected one.
    """

    type: str
    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: JSONValue = dc_field(default=None, hash=False)

    @classmethod
    def from_bytes(cls, payload: bytes, source: str, *,
                   limits: JsonLimits = DEFAULT_LIMITS) -> Statement:
        """Parse a DSSE payload into a Statement (any ``_type``; the verifier checks v1).

        Raises:
            InvalidBundle: not JSON by ``parse_untrusted``'s rules (duplicate keys included), or
                a field is missing or malformed (named).
        """
        doc = parse_untrusted(payload, f"{source}: in-toto statement", limits=limits,
                              hint=_STATEMENT_HINT)

        def bad(name: str, what: str) -> InvalidBundle:
            return InvalidBundle(f"{source}: in-toto statement field '{name}' {what}",
                                 hint=_STATEMENT_HINT)

        if not isinstance(doc, dict):
            raise bad("$", "must be a JSON object")
        stype = doc.get("_type")
        if not isinstance(stype, str) or not stype:
            raise bad("_type", f"must be {STATEMENT_TYPE!r} (got {stype!r})")
        raw = doc.get("subject")
        if not isinstance(raw, list) or not raw:
            raise bad("subject", "must be a non-empty array")
        subjects = []
        for i, subj in enumerate(raw):
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
            for alg in ("sha256", "dirHash"):  # the SHA-256 based keys aitrace reads
                value = digest.get(alg)
                if value is not None and (len(value) != 64 or not _HEX.issuperset(value)):
                    raise bad(f"subject[{i}].digest.{alg}", "must be 64 lowercase hex characters")
            subjects.append(Subject(name, digest))
        ptype = doc.get("predicateType")
        if not isinstance(ptype, str) or not ptype:
            raise bad("predicateType", "must be a non-empty string (a URI)")
        predicate = doc.get("predicate")
        if "predicate" in doc and not isinstance(predicate, dict):
            raise bad("predicate", "must be an object")
        return cls(type=stype, subjects=tuple(subjects), predicate_type=ptype,
                   predicate=predicate)

    def to_json(self) -> dict[str, Any]:
        """The statement's JSON form (``predicate`` omitted when None)."""
        out: dict[str, Any] = {
            "_type": self.type,
            "subject": [{"name": s.name, "digest": dict(s.digest)} for s in self.subjects],
            "predicateType": self.predicate_type,
        }
        if self.predicate is not None:
            out["predicate"] = self.predicate
        return out


def make_statement(
    subjects: Sequence[tuple[str, str | Mapping[str, str]]], predicate_type: str,
    predicate: Mapping[str, Any],
) -> dict[str, Any]:
    """An in-toto Statement v1 (JSON form) over subjects, in the given order.

    Each subject is ``(name, sha256 hex)`` or ``(name, digest set)`` — e.g. ``{"dirHash": hex}``
    for a directory, as in-toto's digest-set spec defines it.
    """
    return Statement(type=STATEMENT_TYPE,
                     subjects=tuple(Subject(name, {"sha256": d} if isinstance(d, str) else d)
                                    for name, d in subjects),
                     predicate_type=predicate_type, predicate=dict(predicate)).to_json()


# --------------------------------------------------------------------------- verification

Stage = Literal["signature", "payload-type", "statement", "predicate-type", "predicate"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an attestation, and which stage of ``verify_attestation`` found it."""

    stage: Stage
    message: str


@dataclass(frozen=True)
class Attestation(Generic[P]):
    """What ``verify_attestation`` found.

    ``statement`` and ``predicate`` are set whenever they parse — also when the signatures do
    not hold, so that a report can show what an unverified attestation *claims*. They are
    vouched for only when ``ok``.
    """

    verified_keyids: tuple[str, ...]
    threshold: int
    problems: tuple[Problem, ...]
    statement: Statement | None = None
    predicate: P | None = None

    @property
    def signed(self) -> bool:
        """Whether at least ``threshold`` distinct trusted keys signed the payload."""
        return len(self.verified_keyids) >= self.threshold

    @property
    def ok(self) -> bool:
        """Whether every stage passed: trusted signatures, in-toto v1, the expected predicate."""
        return not self.problems

    def messages(self, *stages: Stage) -> tuple[str, ...]:
        """The problems found by ``stages`` (all stages when none is named), in order."""
        return tuple(p.message for p in self.problems if not stages or p.stage in stages)

    def first_problem(self) -> str | None:
        """The problems of the first stage that failed, joined; None when ``ok``."""
        if not self.problems:
            return None
        return "; ".join(self.messages(self.problems[0].stage))


def _check_signatures(envelope: Envelope, keys: Sequence[PublicKey],
                      threshold: int) -> tuple[tuple[str, ...], list[str]]:
    """Which distinct trusted keys signed ``PAE(payloadType, payload)``, and what failed.

    A signature counts when its key id names a trusted key (or it names none and some trusted
    key verifies it); each trusted key counts once toward ``threshold``. Problems are returned
    only when the threshold is not met: extra unrecognised signatures do not void an envelope
    (DSSE's rule).
    """
    message = pae(envelope.payload_type, envelope.payload)
    trusted = {k.keyid: k for k in keys}
    verified: set[str] = set()
    problems: list[str] = []
    for i, s in enumerate(envelope.signatures):
        label = f"signature {i}" + (f" (keyid {s.keyid[:16]}…)" if s.keyid else " (no keyid)")
        if s.keyid:
            candidates = [trusted[s.keyid]] if s.keyid in trusted else []
        else:
            candidates = list(trusted.values())
        if not candidates:
            problems.append(f"{label} is not by a trusted key")
            continue
        good = [k.keyid for k in candidates if k.verify(s.sig, message)]
        if not good:
            problems.append(f"{label} does not verify under the trusted key: the payload, "
                            "payloadType or signature was altered")
            continue
        verified.update(good)
    if len(verified) >= threshold:
        return tuple(sorted(verified)), []
    problems.append(f"{len(verified)} of the required {threshold} trusted keys signed "
                    f"({len(trusted)} trusted key(s) given)")
    return tuple(sorted(verified)), problems


def verify_attestation(
    envelope: Envelope,
    keys: Sequence[PublicKey],
    predicate_type: str,
    predicate_model: type[P],
    *,
    threshold: int = 1,
    source: str = "attestation",
    limits: JsonLimits = DEFAULT_LIMITS,
) -> Attestation[P]:
    """Check a DSSE envelope as an in-toto attestation; every problem is a value, none raises.

    The stages, in order: signatures by ``keys`` over ``PAE(payloadType, payload)`` with at
    least ``threshold`` distinct keys; payloadType is ``IN_TOTO_PAYLOAD_TYPE``; the payload is a
    Statement whose ``_type`` is v1; its predicateType is ``predicate_type``; its predicate
    parses into ``predicate_model``. Every stage runs even when an earlier one failed (a report
    shows all of them), except that a statement that does not parse has no predicate.

    Args:
        envelope: the parsed envelope (``Envelope.from_bytes``).
        keys: the trusted public keys.
        predicate_type: the expected predicateType URI.
        predicate_model: the frozen model the predicate must parse into.
        threshold: how many distinct trusted keys must have signed.
        source: how the attestation is named in problems.
        limits: size and depth bounds for the statement's JSON.

    Raises:
        InputError: ``threshold`` is below 1 (a usage error, not a verdict).
    """
    if threshold < 1:
        raise InputError(f"threshold must be at least 1 (got {threshold})",
                         hint="pass --threshold 1 or more")
    problems: list[Problem] = []
    verified, sig_problems = _check_signatures(envelope, keys, threshold)
    problems += [Problem("signature", p) for p in sig_problems]
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        problems.append(Problem("payload-type", f"payloadType is {envelope.payload_type!r}, "
                                                f"not {IN_TOTO_PAYLOAD_TYPE!r}"))
    statement: Statement | None = None
    predicate: P | None = None
    try:
        statement = Statement.from_bytes(envelope.payload, source, limits=limits)
    except AitraceError as exc:
        problems.append(Problem("statement", exc.message))
    if statement is not None and statement.type != STATEMENT_TYPE:
        problems.append(Problem("statement", f"{source}: in-toto statement field '_type' must "
                                             f"be {STATEMENT_TYPE!r} (got {statement.type!r})"))
        statement = None
    if statement is not None:
        if statement.predicate_type != predicate_type:
            problems.append(Problem("predicate-type",
                                    f"{source}: predicateType is {statement.predicate_type!r}, "
                                    f"not {predicate_type!r}"))
        else:
            try:
                predicate = from_json(predicate_model, statement.predicate,
                                      source=f"{source} predicate")
            except InputError as exc:
                problems.append(Problem("predicate", exc.message))
    return Attestation(verified_keyids=verified, threshold=threshold, problems=tuple(problems),
                       statement=statement, predicate=predicate)
