"""The bundle's attestation through the one attestation path: hostile, genuinely re-signed
statements are refused with a clear check, and what verifies is what the reader shows."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from aitrace.bundle.format import ATTESTATION_MEMBER
from aitrace.bundle.read import OpenedBundle
from aitrace.bundle.write import build_bundle
from aitrace.record.jsonio import canonical_bytes
from aitrace.signing.dsse import IN_TOTO_PAYLOAD_TYPE, dsse_sign
from aitrace.signing.keys import load_public_key, load_signer
from aitrace.store.workspace import Workspace
from aitrace.verify.bundle import verify_bundle
from aitrace.verify.checks import VerifyReport
from tests.helpers.bundle import Keys, read_members, statement_of, write_members


def _verify(path: Path, keys: Keys, **kw: Any) -> VerifyReport:
    return verify_bundle(path, [load_public_key(keys.pub)], **kw)


def _status(report: VerifyReport) -> dict[str, str]:
    return {c.id: c.status for c in report.checks if c.id.startswith(("signature.", "statement."))}


def _with_leading_member(doc: dict[str, Any], key: str, value: Any) -> bytes:
    """``doc``'s canonical bytes with ``"key": value`` written once more, before the real one."""
    body = canonical_bytes(doc)
    return b"{" + json.dumps(key).encode() + b":" + canonical_bytes(value) + b"," + body[1:]


def _resigned_payload(bundle_path: Path, keys: Keys, tmp_path: Path, payload: bytes) -> Path:
    """The bundle with its attestation replaced by ``payload`` signed with the trusted key."""
    members = read_members(bundle_path)
    env = dsse_sign(payload, IN_TOTO_PAYLOAD_TYPE, [load_signer(keys.key)])
    members[ATTESTATION_MEMBER] = canonical_bytes(env)
    return write_members(tmp_path / "t.aitrace", members)


def _decoys(statement: dict[str, Any]) -> dict[str, Any]:
    pred = statement["predicate"]
    return {
        "predicate": dict(pred, chain_head="d" * 64, record=dict(pred["record"], id="evil")),
        "subject": [{"name": "dist/model.bin", "digest": {"sha256": "d" * 64}}],
    }


@pytest.mark.parametrize("key", ["predicate", "subject"])
def test_statement_with_a_key_written_twice_fails_statement_valid(
        bundle_path: Path, keys: Keys, tmp_path: Path, key: str) -> None:
    statement = statement_of(read_members(bundle_path))
    payload = _with_leading_member(statement, key, _decoys(statement)[key])
    assert json.loads(payload) == statement  # a last-wins parser would see the genuine one
    report = _verify(_resigned_payload(bundle_path, keys, tmp_path, payload), keys)
    assert not report.ok
    assert _status(report) == {
        "signature.trusted": "passed", "statement.payload-type": "passed",
        "statement.valid": "failed", "statement.manifest-subject": "skipped",
        "statement.released-subjects": "skipped"}
    [failed] = [c for c in report.failed if c.id == "statement.valid"]
    assert failed.member == ATTESTATION_MEMBER
    assert f"in-toto statement repeats the key '{key}' in one object" in failed.message


def test_duplicate_key_deep_in_the_signed_predicate_is_refused(bundle_path: Path, keys: Keys,
                                                               tmp_path: Path) -> None:
    statement = statement_of(read_members(bundle_path))
    head = statement["predicate"]["chain_head"]
    body = canonical_bytes(statement)
    payload = body.replace(f'"chain_head":"{head}"'.encode(),
                           f'"chain_head":"{"d" * 64}","chain_head":"{head}"'.encode())
    assert payload != body and json.loads(payload) == statement
    report = _verify(_resigned_payload(bundle_path, keys, tmp_path, payload), keys)
    assert "repeats the key 'chain_head'" in next(
        c.message for c in report.failed if c.id == "statement.valid")


def test_envelope_with_a_second_payload_is_refused(bundle_path: Path, keys: Keys,
                                                   tmp_path: Path) -> None:
    """A second, differently encoded payload beside the signed one cannot be smuggled in."""
    members = read_members(bundle_path)
    env = json.loads(members[ATTESTATION_MEMBER])
    other = dict(statement_of(members), predicateType="https://aitrace.dev/other/v1")
    decoy = base64.urlsafe_b64encode(canonical_bytes(other)).decode()
    members[ATTESTATION_MEMBER] = _with_leading_member(env, "payload", decoy)
    report = _verify(write_members(tmp_path / "t.aitrace", members), keys)
    assert _status(report)["signature.trusted"] == "failed"
    [failed] = [c for c in report.failed if c.id == "signature.trusted"]
    assert "repeats the key 'payload'" in failed.message
    assert _status(report)["statement.valid"] == "skipped"
    assert _status(report)["statement.payload-type"] == "skipped"


@pytest.mark.parametrize("where", ["payload", "sig"])
def test_non_base64_attestation_fails_signature_trusted(bundle_path: Path, keys: Keys,
                                                        tmp_path: Path, where: str) -> None:
    members = read_members(bundle_path)
    env = json.loads(members[ATTESTATION_MEMBER])
    if where == "payload":
        env["payload"] = env["payload"][:-4] + "*" + env["payload"][-3:]
        field = "payload"
    else:
        env["signatures"][0]["sig"] = " " + env["signatures"][0]["sig"]
        field = "signatures[0].sig"
    members[ATTESTATION_MEMBER] = canonical_bytes(env)
    report = _verify(write_members(tmp_path / "t.aitrace", members), keys)
    [failed] = [c for c in report.failed if c.id == "signature.trusted"]
    assert f"field '{field}' is not valid base64" in failed.message


def test_url_safe_encoding_verifies_and_the_reader_shows_the_verified_predicate(
        bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    """Verifier and reader decode the payload with the same decoder: same bytes, same verdict.

    (Before one decoder served both, the reader refused a URL-safe payload that the signature
    check had accepted, so ``statement.valid`` failed on a genuinely signed bundle.)
    """
    members = read_members(bundle_path)
    # A field consumers ignore, holding '???' after 0-2 padding characters to shift the
    # alignment: one of three shifts puts '/' into the base64, so the two alphabets really
    # differ (the payload stays RFC 8785 canonical, as format v2 requires).
    payload = next(p for k in range(3)
                   if (p := canonical_bytes(dict(statement_of(members), note="a" * k + "???")))
                   and base64.urlsafe_b64encode(p) != base64.b64encode(p))
    out = _resigned_payload(bundle_path, keys, tmp_path, payload)
    members = read_members(out)
    env = json.loads(members[ATTESTATION_MEMBER])
    env["payload"] = base64.urlsafe_b64encode(payload).decode()
    for s in env["signatures"]:
        s["sig"] = base64.urlsafe_b64encode(base64.b64decode(s["sig"])).decode()
    members[ATTESTATION_MEMBER] = canonical_bytes(env)
    out = write_members(tmp_path / "url.aitrace", members)
    report = _verify(out, keys)
    assert report.ok, [c.message for c in report.failed]
    with OpenedBundle.open(out) as ob, OpenedBundle.open(bundle_path) as orig:
        assert ob.envelope.payload == payload
        assert ob.predicate == orig.predicate
        assert ob.statement.subjects == orig.statement.subjects


def test_threshold_counts_distinct_keys(project: Path, keys: Keys, tmp_path: Path) -> None:
    two = tmp_path / "two.aitrace"
    build_bundle(Workspace(project), [load_signer(keys.key), load_signer(keys.ed_key)], two)
    trusted = [load_public_key(keys.pub), load_public_key(keys.ed_pub)]
    assert verify_bundle(two, trusted, threshold=2).ok
    with OpenedBundle.open(two) as ob:
        assert sorted(ob.signer_keyids()) == sorted(k.keyid for k in trusted)

    # One key's signature repeated (with and without its key id) is still one key.
    members = read_members(two)
    env = json.loads(members[ATTESTATION_MEMBER])
    mine = next(s for s in env["signatures"] if s["keyid"] == trusted[0].keyid)
    env["signatures"] = [mine, dict(mine), {"sig": mine["sig"]}]
    members[ATTESTATION_MEMBER] = canonical_bytes(env)
    report = verify_bundle(write_members(tmp_path / "t.aitrace", members), trusted, threshold=2)
    assert [c.id for c in report.failed] == ["signature.trusted"]
    assert "1 of the required 2 trusted keys signed" in report.failed[0].message
    assert report.signers == (trusted[0].keyid,)
