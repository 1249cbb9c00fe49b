"""DSSE envelopes and in-toto statements: our verifier, and independent tooling (securesystemslib,
in-toto-attestation) agreeing with it."""

from __future__ import annotations

import base64
import copy
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement as Statement_
from securesystemslib.dsse import Envelope as Envelope_
from securesystemslib.signer import SSlibKey

from aitrace.errors import InputError, InvalidBundle
from aitrace.record.jsonio import canonical_bytes
from aitrace.signing.dsse import (
    IN_TOTO_PAYLOAD_TYPE,
    STATEMENT_TYPE,
    Attestation,
    Envelope,
    Statement,
    Subject,
    dsse_sign,
    make_statement,
    pae,
    verify_attestation,
)
from aitrace.signing.keys import PublicKey, Signer, load_public_key, load_signer, new_signer
from tests.helpers.signing import KeyFiles

SHA_A = "a" * 64
SHA_B = "b" * 64
PTYPE = "https://aitrace.dev/production-record/v1"


@dataclass(frozen=True)
class _Pred:
    record_id: str
    steps: tuple[str, ...]


def _verify(env: dict[str, Any], keys: list[PublicKey],
            threshold: int = 1) -> Attestation[_Pred]:
    """Our verifier over an envelope's JSON form, through the edge parser as in production."""
    envelope = Envelope.from_bytes(json.dumps(env).encode(), "test envelope")
    return verify_attestation(envelope, keys, PTYPE, _Pred, threshold=threshold)


def _statement() -> dict[str, Any]:
    return make_statement([("models/model.pkl", SHA_A), ("manifest.json", SHA_B)], PTYPE,
                          {"record_id": "r1", "steps": ["x"]})


def _sslib_key(pub: PublicKey) -> SSlibKey:
    return SSlibKey.from_crypto(pub.crypto_key, keyid=pub.keyid)


def test_pae_matches_the_dsse_spec_vector() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world")
    assert pae("t", b"") == b"DSSEv1 1 t 0 "


def test_envelope_shape_and_determinism(ec_keys: KeyFiles) -> None:
    signer = load_signer(ec_keys.private)
    payload = canonical_bytes(_statement())
    env = dsse_sign(payload, IN_TOTO_PAYLOAD_TYPE, [signer])
    assert set(env) == {"payload", "payloadType", "signatures"}
    assert base64.b64decode(env["payload"]) == payload
    assert env["payloadType"] == IN_TOTO_PAYLOAD_TYPE
    assert env["signatures"] == [{"keyid": signer.keyid, "sig": env["signatures"][0]["sig"]}]
    assert dsse_sign(payload, IN_TOTO_PAYLOAD_TYPE, [signer]) == env


def test_securesystemslib_verifies_our_envelope(any_keys: KeyFiles) -> None:
    signer = load_signer(any_keys.private)
    pub = load_public_key(any_keys.public)
    env = dsse_sign(canonical_bytes(_statement()), IN_TOTO_PAYLOAD_TYPE, [signer])
    sslib_env = Envelope_.from_dict(copy.deepcopy(env))
    accepted = sslib_env.verify([_sslib_key(pub)], 1)
    assert list(accepted) == [pub.keyid]
    assert json.loads(sslib_env.payload)["_type"] == STATEMENT_TYPE


def test_securesystemslib_rejects_what_we_reject(ec_keys: KeyFiles) -> None:
    signer = load_signer(ec_keys.private)
    pub = load_public_key(ec_keys.public)
    env = dsse_sign(canonical_bytes(_statement()), IN_TOTO_PAYLOAD_TYPE, [signer])
    assert _verify(env, [pub]).ok
    tampered = dict(env, payloadType="application/json")
    assert not _verify(tampered, [pub]).signed
    with pytest.raises(Exception, match="threshold"):
        Envelope_.from_dict(copy.deepcopy(tampered)).verify([_sslib_key(pub)], 1)


def test_multi_signature_envelope_with_threshold(ec_keys: KeyFiles, ed_keys: KeyFiles) -> None:
    engineer = load_signer(ec_keys.private)
    manager = load_signer(ed_keys.private)
    env = dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [manager, engineer])
    ids = [s["keyid"] for s in env["signatures"]]
    assert ids == sorted(ids)
    keys = [load_public_key(ec_keys.public), load_public_key(ed_keys.public)]
    result = _verify(env, keys, threshold=2)
    assert result.signed
    assert result.verified_keyids == tuple(sorted(ids))
    assert result.messages("signature") == ()
    # Independent check of the same threshold.
    assert len(Envelope_.from_dict(copy.deepcopy(env)).verify(
        [_sslib_key(k) for k in keys], 2)) == 2
    # Only one of them trusted: threshold 2 fails and says why.
    partial = _verify(env, keys[:1], threshold=2)
    assert not partial.signed
    assert partial.verified_keyids == (keys[0].keyid,)
    assert any("not by a trusted key" in p for p in partial.messages("signature"))
    assert any("1 of the required 2" in p for p in partial.messages("signature"))


def test_untrusted_signer_is_reported_not_raised(ec_keys: KeyFiles) -> None:
    env = dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [new_signer()])
    result = _verify(env, [load_public_key(ec_keys.public)])
    assert not result.signed
    assert result.verified_keyids == ()
    assert "is not by a trusted key" in result.problems[0].message
    assert result.problems[0].stage == "signature"


def test_signature_relabelled_with_trusted_keyid_fails(ec_keys: KeyFiles) -> None:
    pub = load_public_key(ec_keys.public)
    env = dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [new_signer()])
    env["signatures"][0]["keyid"] = pub.keyid
    result = _verify(env, [pub])
    assert not result.signed
    assert "does not verify" in result.problems[0].message


@pytest.mark.parametrize("field", ["payload", "payloadType"])
def test_tampering_breaks_verification(ec_keys: KeyFiles, field: str) -> None:
    signer = load_signer(ec_keys.private)
    env = dsse_sign(b'{"a":1}', IN_TOTO_PAYLOAD_TYPE, [signer])
    env[field] = (base64.b64encode(b'{"a":2}').decode() if field == "payload"
                  else "application/vnd.in-toto+jsoN")
    result = _verify(env, [load_public_key(ec_keys.public)])
    assert not result.signed
    assert "altered" in result.problems[0].message


def test_signature_without_keyid_tries_every_trusted_key(ec_keys: KeyFiles,
                                                         ed_keys: KeyFiles) -> None:
    signer = load_signer(ed_keys.private)
    env = dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [signer])
    del env["signatures"][0]["keyid"]
    keys = [load_public_key(ec_keys.public), load_public_key(ed_keys.public)]
    assert _verify(env, keys).verified_keyids == (signer.keyid,)


def test_same_key_twice_counts_once(ec_keys: KeyFiles) -> None:
    signer = load_signer(ec_keys.private)
    pub = load_public_key(ec_keys.public)
    env = dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [signer])
    env["signatures"].append(dict(env["signatures"][0]))
    result = _verify(env, [pub, pub], threshold=2)
    assert not result.signed
    assert result.verified_keyids == (pub.keyid,)


def test_url_safe_base64_is_accepted(ec_keys: KeyFiles) -> None:
    signer = load_signer(ec_keys.private)
    payload = bytes(range(256)) * 3
    env = dsse_sign(payload, IN_TOTO_PAYLOAD_TYPE, [signer])
    env["payload"] = base64.urlsafe_b64encode(payload).decode()
    env["signatures"][0]["sig"] = base64.urlsafe_b64encode(
        base64.b64decode(env["signatures"][0]["sig"])).decode()
    envelope = Envelope.from_bytes(json.dumps(env).encode(), "test envelope")
    assert envelope.payload == payload
    result = verify_attestation(envelope, [load_public_key(ec_keys.public)], PTYPE, _Pred)
    assert result.signed


_GOOD_SIG = {"keyid": "k", "sig": "AAAA"}


@pytest.mark.parametrize(
    ("envelope", "field"),
    [
        ([], "'$'"),
        ({"payloadType": "t", "signatures": [_GOOD_SIG]}, "'payload'"),
        ({"payload": "!!!", "payloadType": "t", "signatures": [_GOOD_SIG]}, "'payload'"),
        ({"payload": "é", "payloadType": "t", "signatures": [_GOOD_SIG]}, "'payload'"),
        ({"payload": "", "payloadType": 3, "signatures": [_GOOD_SIG]}, "'payloadType'"),
        ({"payload": "", "payloadType": "", "signatures": [_GOOD_SIG]}, "'payloadType'"),
        ({"payload": "", "payloadType": "t"}, "'signatures'"),
        ({"payload": "", "payloadType": "t", "signatures": []}, "'signatures'"),
        ({"payload": "", "payloadType": "t", "signatures": ["x"]}, "'signatures[0]'"),
        ({"payload": "", "payloadType": "t", "signatures": [{"sig": 1}]}, "'signatures[0].sig'"),
        ({"payload": "", "payloadType": "t", "signatures": [{"sig": "%%"}]},
         "'signatures[0].sig'"),
        ({"payload": "", "payloadType": "t", "signatures": [{"keyid": 5, "sig": ""}]},
         "'signatures[0].keyid'"),
    ],
)
def test_malformed_envelopes_raise_invalid_bundle_naming_the_field(envelope: Any,
                                                                   field: str) -> None:
    with pytest.raises(InvalidBundle, match=re.escape(f"attestation.dsse.json: field {field}")):
        Envelope.from_bytes(json.dumps(envelope).encode(), "attestation.dsse.json")


def test_threshold_and_signer_argument_errors(ec_keys: KeyFiles) -> None:
    signer: Signer = load_signer(ec_keys.private)
    env = dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [signer])
    with pytest.raises(InputError, match="threshold must be at least 1"):
        _verify(env, [], threshold=0)
    with pytest.raises(InputError, match="no signing key"):
        dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [])
    with pytest.raises(InputError, match="more than once"):
        dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [signer, load_signer(ec_keys.private)])


def test_statement_round_trip_and_in_toto_attestation_validates_it() -> None:
    statement = _statement()
    assert statement["_type"] == STATEMENT_TYPE
    assert statement["subject"][0] == {"name": "models/model.pkl", "digest": {"sha256": SHA_A}}
    parsed = Statement.from_bytes(canonical_bytes(statement), "test")
    assert parsed.subjects == (Subject("models/model.pkl", {"sha256": SHA_A}),
                               Subject("manifest.json", {"sha256": SHA_B}))
    assert parsed.subjects[0].sha256 == SHA_A
    assert parsed.to_json() == statement
    pb = json_format.ParseDict(statement, statement_pb2.Statement())
    Statement_.copy_from_pb(pb).validate()  # raises ValueError if invalid


def test_statement_with_another_type_fails_the_verifier(ec_keys: KeyFiles) -> None:
    statement = dict(_statement(), _type="https://in-toto.io/Statement/v0.1")
    env = dsse_sign(canonical_bytes(statement), IN_TOTO_PAYLOAD_TYPE,
                    [load_signer(ec_keys.private)])
    result = _verify(env, [load_public_key(ec_keys.public)])
    assert result.signed and not result.ok
    assert result.statement is None and result.predicate is None
    assert [p.stage for p in result.problems] == ["statement"]
    assert "field '_type' must be 'https://in-toto.io/Statement/v1'" in result.problems[0].message


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda s: s.pop("_type"), "'_type'"),
        (lambda s: s.update(subject=[]), "'subject'"),
        (lambda s: s.update(subject=["x"]), r"'subject\[0\]'"),
        (lambda s: s["subject"][1].pop("name"), r"'subject\[1\].name'"),
        (lambda s: s["subject"][0].update(digest={}), r"'subject\[0\].digest'"),
        (lambda s: s["subject"][0].update(digest={"sha256": 5}),
         r"'subject\[0\].digest.sha256'"),
        (lambda s: s["subject"][0].update(digest={"sha256": "AB" * 32}),
         r"'subject\[0\].digest.sha256'"),
        (lambda s: s.pop("predicateType"), "'predicateType'"),
        (lambda s: s.update(predicate=[1]), "'predicate'"),
    ],
)
def test_statement_names_the_bad_field(mutate: Any, field: str) -> None:
    statement = _statement()
    mutate(statement)
    with pytest.raises(InvalidBundle, match=f"field {field}"):
        Statement.from_bytes(canonical_bytes(statement), "test")


@pytest.mark.parametrize(("payload", "fragment"), [
    (b"\xff", "is not UTF-8"),
    (b"[1]", "field '$' must be a JSON object"),
    (b"{", "is not valid JSON"),
    (b"[" * 100000, "deeper than"),
    (b'{"_type": NaN}', "not JSON"),
])
def test_statement_rejects_non_statements(payload: bytes, fragment: str) -> None:
    with pytest.raises(InvalidBundle, match=re.escape(fragment)):
        Statement.from_bytes(payload, "test")


def test_securesystemslib_envelope_verifies_with_ours(any_keys: KeyFiles) -> None:
    """The other direction: an envelope signed by securesystemslib passes our verifier."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from securesystemslib.signer import CryptoSigner

    pub = load_public_key(any_keys.public)
    priv = load_pem_private_key(any_keys.private.read_bytes(), None)
    sslib_signer = CryptoSigner(priv, _sslib_key(pub))
    sslib_env = Envelope_(canonical_bytes(_statement()), IN_TOTO_PAYLOAD_TYPE, {})
    sslib_env.sign(sslib_signer)
    result = _verify(sslib_env.to_dict(), [pub])
    assert result.ok, result.problems
    assert result.verified_keyids == (pub.keyid,)
    assert result.predicate == _Pred(record_id="r1", steps=("x",))
