"""The one attestation path: ``Envelope.from_bytes`` at the edge, then ``verify_attestation``.

Hostile but genuinely signed input — duplicate keys, non-base64, repeated signatures, a second
payload — is refused as a value, never raised, and never lets a reader see other bytes than
those whose signature was checked.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

import aitrace
from aitrace.errors import InvalidBundle
from aitrace.record._model import from_json
from aitrace.record.jsonio import canonical_bytes
from aitrace.signing.approvals import APPROVAL_PREDICATE, create_approval, verify_approvals
from aitrace.signing.dsse import (
    IN_TOTO_PAYLOAD_TYPE,
    Envelope,
    Signature,
    Statement,
    dsse_sign,
    make_statement,
    pae,
    verify_attestation,
)
from aitrace.signing.keys import Signer, new_signer
from aitrace.store.workspace import Workspace

PTYPE = "https://aitrace.dev/test/v1"
SHA = "c" * 64


@dataclass(frozen=True)
class _Pred:
    chain_head: str
    record: str


@pytest.fixture(scope="module")
def signer() -> Signer:
    return new_signer()


@pytest.fixture(scope="module")
def second() -> Signer:
    return new_signer("ed25519")


def _statement(chain_head: str = SHA) -> dict[str, Any]:
    return make_statement([("model.bin", SHA)], PTYPE, {"chain_head": chain_head, "record": "r1"})


def _with_leading_member(doc: dict[str, Any], key: str, value: Any) -> bytes:
    """``doc``'s canonical bytes with ``"key": value`` written once more, before the real one.

    Python's ``json`` keeps the last value (the genuine one), other parsers the first.
    """
    body = canonical_bytes(doc)
    return b"{" + json.dumps(key).encode() + b":" + canonical_bytes(value) + b"," + body[1:]


def _envelope_bytes(payload: bytes, signers: list[Signer],
                    payload_type: str = IN_TOTO_PAYLOAD_TYPE) -> bytes:
    return json.dumps(dsse_sign(payload, payload_type, signers)).encode()


def _verify(data: bytes, signers: list[Signer], threshold: int = 1) -> Any:
    envelope = Envelope.from_bytes(data, "test envelope")
    return verify_attestation(envelope, [s.public_key() for s in signers], PTYPE, _Pred,
                              threshold=threshold, source="test envelope")


# ----------------------------------------------------------------------------- the edge


def test_a_good_envelope_parses_into_frozen_models(signer: Signer) -> None:
    payload = canonical_bytes(_statement())
    env = Envelope.from_bytes(_envelope_bytes(payload, [signer]), "e")
    assert env.payload == payload and env.payload_type == IN_TOTO_PAYLOAD_TYPE
    [sig] = env.signatures
    assert sig.keyid == signer.keyid and signer.public_key().verify(sig.sig, pae(
        IN_TOTO_PAYLOAD_TYPE, payload))
    with pytest.raises(AttributeError):
        env.payload = b"{}"  # type: ignore[misc]
    statement = Statement.from_bytes(payload, "s")
    with pytest.raises(TypeError):
        statement.subjects[0].digest["sha256"] = "0" * 64  # type: ignore[index]
    assert env.to_json() == json.loads(_envelope_bytes(payload, [signer]))


@pytest.mark.parametrize("bad", [
    "!!!!",            # not the alphabet
    "e30",             # missing padding
    "e30=\n",          # trailing newline
    " e30=",           # leading space
    "e3 0=",           # inner space
    "e31=",            # non-canonical: trailing bits set ("{}" is e30=)
    "a-b+",            # both alphabets at once
    "é30=",            # not ASCII
])
@pytest.mark.parametrize("where", ["payload", "sig"])
def test_non_base64_payload_and_signature_are_refused(signer: Signer, bad: str,
                                                      where: str) -> None:
    env = dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [signer])
    if where == "payload":
        env["payload"] = bad
        field = "payload"
    else:
        env["signatures"][0]["sig"] = bad
        field = "signatures[0].sig"
    with pytest.raises(InvalidBundle, match=re.escape(f"e.json: field '{field}' is not valid "
                                                      "base64")):
        Envelope.from_bytes(json.dumps(env).encode(), "e.json")


def test_one_decoder_accepts_url_safe_base64_for_payload_and_signature(signer: Signer) -> None:
    payload = canonical_bytes(_statement()) + b" " * 2  # pad so '+'/'/' occur in the encoding
    env = dsse_sign(payload, IN_TOTO_PAYLOAD_TYPE, [signer])
    std = Envelope.from_bytes(json.dumps(env).encode(), "std")
    env["payload"] = base64.urlsafe_b64encode(payload).decode()
    env["signatures"][0]["sig"] = base64.urlsafe_b64encode(std.signatures[0].sig).decode()
    url = Envelope.from_bytes(json.dumps(env).encode(), "url")
    assert url == std


@pytest.mark.parametrize("payload_type", ["\\ud800", "application/x\\u001b[2J"])
def test_payload_type_with_a_lone_surrogate_or_control_is_refused(signer: Signer,
                                                                  payload_type: str) -> None:
    """A lone surrogate cannot be UTF-8 encoded for PAE; an ESC would reach the terminal."""
    env = dict(dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [signer]), payloadType="PT")
    data = json.dumps(env).replace('"PT"', f'"{payload_type}"').encode()
    with pytest.raises(InvalidBundle, match="field 'payloadType' must be printable Unicode"):
        Envelope.from_bytes(data, "e.json")


def test_keyid_with_a_control_character_is_refused(signer: Signer) -> None:
    env = dsse_sign(b"{}", IN_TOTO_PAYLOAD_TYPE, [signer])
    env["signatures"][0]["keyid"] = "\x1b[2J" + signer.keyid
    with pytest.raises(InvalidBundle, match=re.escape("field 'signatures[0].keyid' must be a "
                                                      "printable string")):
        Envelope.from_bytes(json.dumps(env).encode(), "e.json")


@pytest.mark.parametrize("key", ["payload", "payloadType", "signatures"])
def test_envelope_with_a_key_written_twice_is_refused(signer: Signer, key: str) -> None:
    """A second, differently encoded payload cannot change what is verified: it is refused."""
    genuine = dsse_sign(canonical_bytes(_statement()), IN_TOTO_PAYLOAD_TYPE, [signer])
    decoy = {"payload": base64.urlsafe_b64encode(canonical_bytes(_statement("d" * 64))).decode(),
             "payloadType": "application/json", "signatures": []}[key]
    data = _with_leading_member(genuine, key, decoy)
    assert json.loads(data) == genuine  # what a last-wins parser would have verified
    with pytest.raises(InvalidBundle, match=f"repeats the key '{key}'"):
        Envelope.from_bytes(data, "e.json")


# ----------------------------------------------------------------------------- the stages


def test_good_attestation_returns_the_typed_statement_and_predicate(signer: Signer) -> None:
    payload = canonical_bytes(_statement())
    result = _verify(_envelope_bytes(payload, [signer]), [signer])
    assert result.ok and result.signed and result.problems == ()
    assert result.verified_keyids == (signer.keyid,)
    assert result.statement == Statement.from_bytes(payload, "s")
    assert result.predicate == _Pred(chain_head=SHA, record="r1")
    assert result.statement.subjects[0].sha256 == SHA


@pytest.mark.parametrize(("key", "decoy"), [
    ("predicate", {"chain_head": "d" * 64, "record": "r1"}),
    ("subject", [{"name": "model.bin", "digest": {"sha256": "d" * 64}}]),
    ("predicateType", "https://aitrace.dev/other/v1"),
])
def test_signed_statement_with_a_key_written_twice_is_refused(signer: Signer, key: str,
                                                              decoy: Any) -> None:
    payload = _with_leading_member(_statement(), key, decoy)
    result = _verify(_envelope_bytes(payload, [signer]), [signer])
    assert result.signed  # genuinely signed by the trusted key ...
    assert not result.ok  # ... and still refused
    assert result.statement is None and result.predicate is None
    assert [p.stage for p in result.problems] == ["statement"]
    assert f"repeats the key '{key}'" in result.problems[0].message
    assert "test envelope" in result.problems[0].message


def test_duplicate_key_nested_in_the_predicate_is_refused(signer: Signer) -> None:
    statement = _statement()
    statement["predicate"] = {"chain_head": SHA, "record": "r1"}
    body = canonical_bytes(statement)
    payload = body.replace(b'"record":"r1"', b'"record":"evil","record":"r1"')
    assert payload != body
    result = _verify(_envelope_bytes(payload, [signer]), [signer])
    assert result.signed and not result.ok
    assert "repeats the key 'record'" in (result.first_problem() or "")


def test_stages_run_in_order_and_report_every_problem(signer: Signer) -> None:
    statement = dict(_statement(), predicateType="https://x/y")
    data = _envelope_bytes(canonical_bytes(statement), [signer], payload_type="text/plain")
    result = _verify(data, [new_signer()])
    assert [p.stage for p in result.problems] == ["signature", "signature", "payload-type",
                                                  "predicate-type"]
    assert "is not by a trusted key" in (result.first_problem() or "")
    assert result.messages("payload-type") == (
        f"payloadType is 'text/plain', not {IN_TOTO_PAYLOAD_TYPE!r}",)
    assert result.statement is not None and result.predicate is None


def test_predicate_that_does_not_fit_the_model_is_a_problem(signer: Signer) -> None:
    statement = make_statement([("m", SHA)], PTYPE, {"chain_head": SHA})
    result = _verify(_envelope_bytes(canonical_bytes(statement), [signer]), [signer])
    assert [p.stage for p in result.problems] == ["predicate"]
    assert "field 'record' is missing" in result.problems[0].message


@pytest.mark.parametrize("payload", [
    b"", b"null", b"[]", b"\xff\xfe", b"[" * 5000, b"1" * 5000, b'{"a": NaN}',
    b'{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "x", "digest": '
    b'{"sha256": "00"}}], "predicateType": "p"}',
])
def test_hostile_signed_payloads_are_values_not_exceptions(signer: Signer,
                                                           payload: bytes) -> None:
    result = _verify(_envelope_bytes(payload, [signer]), [signer])
    assert result.signed and not result.ok
    assert result.problems[0].stage == "statement"


# ----------------------------------------------------------------------------- threshold


def test_threshold_counts_distinct_keys(signer: Signer, second: Signer) -> None:
    payload = canonical_bytes(_statement())
    env = dsse_sign(payload, IN_TOTO_PAYLOAD_TYPE, [signer])
    sig = env["signatures"][0]
    # The same key's signature three times: once by id, once without an id, once again.
    env["signatures"] = [sig, {"sig": sig["sig"]}, dict(sig)]
    data = json.dumps(env).encode()
    once = _verify(data, [signer, second], threshold=2)
    assert not once.signed and once.verified_keyids == (signer.keyid,)
    assert "1 of the required 2 trusted keys signed" in once.messages("signature")[-1]
    # The same trusted key given twice does not count twice either.
    envelope = Envelope.from_bytes(data, "e")
    twice = verify_attestation(envelope, [signer.public_key(), signer.public_key()], PTYPE,
                               _Pred, threshold=2)
    assert not twice.signed
    both = _verify(_envelope_bytes(payload, [signer, second]), [signer, second], threshold=2)
    assert both.ok and both.verified_keyids == tuple(sorted([signer.keyid, second.keyid]))


def test_extra_untrusted_signature_does_not_void_a_met_threshold(signer: Signer) -> None:
    stranger = new_signer()
    payload = canonical_bytes(_statement())
    result = _verify(_envelope_bytes(payload, [signer, stranger]), [signer])
    assert result.ok and result.verified_keyids == (signer.keyid,)


def test_statement_is_parsed_from_the_verified_bytes(signer: Signer) -> None:
    """A signature over other bytes fails, and the statement shown is the payload's, not theirs."""
    genuine = canonical_bytes(_statement())
    other = canonical_bytes(_statement("d" * 64))
    forged = Envelope(payload_type=IN_TOTO_PAYLOAD_TYPE, payload=other, signatures=(
        Signature(signer.keyid, signer.sign(pae(IN_TOTO_PAYLOAD_TYPE, genuine))),))
    result = verify_attestation(forged, [signer.public_key()], PTYPE, _Pred)
    assert not result.signed
    assert result.predicate == from_json(_Pred, json.loads(other)["predicate"])


# ----------------------------------------------------------------------------- approvals


def _approved(workspace: Workspace, reviewer: Signer) -> tuple[bytes, dict[str, Any]]:
    (workspace.root / "p.md").write_text("p")
    with aitrace.stage("problem", workspace=workspace) as rec:
        rec.output(workspace.root / "p.md")
    path = create_approval(workspace, "problem", reviewer, "R", "ok")
    env = json.loads(path.read_bytes())
    return path.read_bytes(), json.loads(base64.b64decode(env["payload"]))


@pytest.mark.parametrize(("key", "decoy"), [
    ("predicate", None),
    ("subject", [{"name": "step:x", "digest": {"sha256": "d" * 64}}]),
])
def test_approval_with_a_key_written_twice_is_refused(workspace: Workspace, key: str,
                                                      decoy: Any) -> None:
    reviewer = new_signer()
    data, statement = _approved(workspace, reviewer)
    [good] = verify_approvals({"a": data}, workspace.steps(), [reviewer.public_key()])
    assert good.ok, good.problem
    if decoy is None:
        decoy = dict(statement["predicate"], decision="rejected", comment="not ok")
    payload = _with_leading_member(statement, key, decoy)
    forged = _envelope_bytes(payload, [reviewer])
    [check] = verify_approvals({"a": forged}, workspace.steps(), [reviewer.public_key()])
    assert not check.ok
    assert f"repeats the key '{key}'" in (check.problem or "")
    assert check.decision is None  # nothing of the refused statement is shown as if it held


@pytest.mark.parametrize("where", ["payload", "sig"])
def test_approval_with_non_base64_is_refused(workspace: Workspace, where: str) -> None:
    reviewer = new_signer()
    data, _ = _approved(workspace, reviewer)
    env = json.loads(data)
    if where == "payload":
        env["payload"] = env["payload"].rstrip("=") + "\n"
    else:
        env["signatures"][0]["sig"] = "%" + env["signatures"][0]["sig"][1:]
    [check] = verify_approvals({"a": json.dumps(env).encode()}, workspace.steps(),
                               [reviewer.public_key()])
    assert not check.ok
    assert "is not valid base64" in (check.problem or "")


def test_approval_predicate_type_is_checked_by_the_shared_path(workspace: Workspace) -> None:
    reviewer = new_signer()
    _, statement = _approved(workspace, reviewer)
    statement["predicateType"] = PTYPE
    [check] = verify_approvals({"a": _envelope_bytes(canonical_bytes(statement), [reviewer])},
                               workspace.steps(), [reviewer.public_key()])
    assert not check.ok
    assert check.problem == (f"approval a: predicateType is {PTYPE!r}, "
                             f"not {APPROVAL_PREDICATE!r}")
