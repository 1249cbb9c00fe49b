"""DSSE envelopes and in-toto statements: our verifier, and independent tooling (securesystemslib,
in-toto-attestation) agreeing with it."""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any

import pytest
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

from aitrace.errors import InputError, InvalidBundle
from aitrace.record.jsonio import canonical_bytes
from aitrace.signing.dsse import (
    IN_TOTO_PAYLOAD_TYPE,
    STATEMENT_TYPE,
    dsse_sign,
    dsse_verify,
    make_statement,
    pae,
    parse_statement,
)
from aitrace.signing.keys import PublicKey, Signer, load_public_key, load_signer, new_signer
from tests.helpers.signing import KeyFiles

SHA_A = "a" * 64
SHA_B = "b" * 64


def _statement() -> dict[str, Any]:
    return make_statement([("models/model.pkl", SHA_A), ("manifest.json", SHA_B)],
                          "https://aitrace.dev/production-record/v1",
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
    sslib_env = Envelope.from_dict(copy.deepcopy(env))
    accepted = sslib_env.verify([_sslib_key(pub)], 1)
    assert list(accepted) == [pub.keyid]
    assert json.loads(sslib_env.payload)["_type"] == STATEMENT_TYPE


def test_securesystemslib_rejects_what_we_reject(ec_keys: KeyFiles) -> None:
    signer = load_signer(ec_keys.private)
    pub = load_public_key(ec_keys.public)
    env = dsse_sign(canonical_bytes(_statement()), IN_TOTO_PAYLOAD_TYPE, [signer])
    tampered = dict(env, payloadType="application/json")
    assert not dsse_verify(tampered, [pub]).ok
    with pytest.raises(Exception, match="threshold"):
        Envelope.from_dict(copy.deepcopy(tampered)).verify([_sslib_key(pub)], 1)


def test_multi_signature_envelope_with_threshold(ec_keys: KeyFiles, ed_keys: KeyFiles) -> None:
    engineer = load_signer(ec_keys.private)
    manager = load_signer(ed_keys.private)
    env = dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [manager, engineer])
    ids = [s["keyid"] for s in env["signatures"]]
    assert ids == sorted(ids)
    keys = [load_public_key(ec_keys.public), load_public_key(ed_keys.public)]
    result = dsse_verify(env, keys, threshold=2)
    assert result.ok
    assert result.verified_keyids == tuple(sorted(ids))
    assert result.problems == ()
    # Independent check of the same threshold.
    assert len(Envelope.from_dict(copy.deepcopy(env)).verify(
        [_sslib_key(k) for k in keys], 2)) == 2
    # Only one of them trusted: threshold 2 fails and says why.
    partial = dsse_verify(env, keys[:1], threshold=2)
    assert not partial.ok
    assert partial.verified_keyids == (keys[0].keyid,)
    assert any("not by a trusted key" in p for p in partial.problems)
    assert any("1 of the required 2" in p for p in partial.problems)


def test_untrusted_signer_is_reported_not_raised(ec_keys: KeyFiles) -> None:
    env = dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [new_signer()])
    result = dsse_verify(env, [load_public_key(ec_keys.public)])
    assert not result.ok
    assert result.verified_keyids == ()
    assert "is not by a trusted key" in result.problems[0]


def test_signature_relabelled_with_trusted_keyid_fails(ec_keys: KeyFiles) -> None:
    pub = load_public_key(ec_keys.public)
    env = dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [new_signer()])
    env["signatures"][0]["keyid"] = pub.keyid
    result = dsse_verify(env, [pub])
    assert not result.ok
    assert "does not verify" in result.problems[0]


@pytest.mark.parametrize("field", ["payload", "payloadType"])
def test_tampering_breaks_verification(ec_keys: KeyFiles, field: str) -> None:
    signer = load_signer(ec_keys.private)
    env = dsse_sign(b'{"a":1}', IN_TOTO_PAYLOAD_TYPE, [signer])
    env[field] = (base64.b64encode(b'{"a":2}').decode() if field == "payload"
                  else "application/vnd.in-toto+jsoN")
    result = dsse_verify(env, [load_public_key(ec_keys.public)])
    assert not result.ok
    assert "altered" in result.problems[0]


def test_signature_without_keyid_tries_every_trusted_key(ec_keys: KeyFiles,
                                                         ed_keys: KeyFiles) -> None:
    signer = load_signer(ed_keys.private)
    env = dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [signer])
    del env["signatures"][0]["keyid"]
    keys = [load_public_key(ec_keys.public), load_public_key(ed_keys.public)]
    assert dsse_verify(env, keys).verified_keyids == (signer.keyid,)


def test_same_key_twice_counts_once(ec_keys: KeyFiles) -> None:
    signer = load_signer(ec_keys.private)
    pub = load_public_key(ec_keys.public)
    env = dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [signer])
    env["signatures"].append(dict(env["signatures"][0]))
    result = dsse_verify(env, [pub, pub], threshold=2)
    assert not result.ok
    assert result.verified_keyids == (pub.keyid,)


def test_url_safe_base64_is_accepted(ec_keys: KeyFiles) -> None:
    signer = load_signer(ec_keys.private)
    payload = bytes(range(256)) * 3
    env = dsse_sign(payload, IN_TOTO_PAYLOAD_TYPE, [signer])
    env["payload"] = base64.urlsafe_b64encode(payload).decode()
    env["signatures"][0]["sig"] = base64.urlsafe_b64encode(
        base64.b64decode(env["signatures"][0]["sig"])).decode()
    result = dsse_verify(env, [load_public_key(ec_keys.public)])
    assert result.ok
    assert result.payload == payload


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
def test_malformed_envelopes_raise_invalid_bundle_naming_the_field(
        ec_keys: KeyFiles, envelope: Any, field: str) -> None:
    with pytest.raises(InvalidBundle, match=re.escape(f"attestation.dsse.json: field {field}")):
        dsse_verify(envelope, [load_public_key(ec_keys.public)],
                    source="attestation.dsse.json")


def test_threshold_and_signer_argument_errors(ec_keys: KeyFiles) -> None:
    signer: Signer = load_signer(ec_keys.private)
    env = dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [signer])
    with pytest.raises(InputError, match="threshold must be at least 1"):
        dsse_verify(env, [], threshold=0)
    with pytest.raises(InputError, match="no signing key"):
        dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [])
    with pytest.raises(InputError, match="more than once"):
        dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [signer, load_signer(ec_keys.private)])


def test_statement_round_trip_and_in_toto_attestation_validates_it() -> None:
    statement = _statement()
    assert statement["_type"] == STATEMENT_TYPE
    assert statement["subject"][0] == {"name": "models/model.pkl", "digest": {"sha256": SHA_A}}
    parsed = parse_statement(canonical_bytes(statement))
    assert parsed == statement
    pb = json_format.ParseDict(statement, statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()  # raises ValueError if invalid


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda s: s.update(_type="https://in-toto.io/Statement/v0.1"), "'_type'"),
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
def test_parse_statement_names_the_bad_field(mutate: Any, field: str) -> None:
    statement = _statement()
    mutate(statement)
    with pytest.raises(InvalidBundle, match=f"field {field}"):
        parse_statement(canonical_bytes(statement))


@pytest.mark.parametrize("payload", [b"\xff", b"[1]", b"{", b"[" * 100000])
def test_parse_statement_rejects_non_statements(payload: bytes) -> None:
    with pytest.raises(InvalidBundle, match="field '\\$'"):
        parse_statement(payload)
