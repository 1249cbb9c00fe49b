"""The tamper matrix: every kind of change to a real bundle fails verification, naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aitrace.bundle._zip.reader import SafeArchive
from aitrace.bundle.format import ATTESTATION_MEMBER, MANIFEST_MEMBER
from aitrace.bundle.write import build_bundle
from aitrace.signing.keys import load_public_key, load_signer
from aitrace.store.workspace import Workspace
from aitrace.verify.bundle import verify_bundle
from aitrace.verify.checks import VerifyReport
from tests.helpers.bundle import Keys, flip, read_members, resign, write_members


def _verify(path: Path, keys: Keys, **kw: Any) -> VerifyReport:
    return verify_bundle(path, [load_public_key(keys.pub)], **kw)


def _members(bundle_path: Path) -> list[str]:
    return sorted(read_members(bundle_path))


def test_untampered_bundle_verifies(bundle_path: Path, keys: Keys) -> None:
    report = _verify(bundle_path, keys)
    assert report.ok, [c.message for c in report.failed]
    ids = {c.id for c in report.checks if c.status == "passed"}
    assert {"archive.safe", "members.digests", "signature.trusted", "steps.schema",
            "chain.hash", "chain.head", "chain.custody", "evidence.objects",
            "evidence.gx-bound", "evidence.sbom-schema"} <= ids


def test_flip_one_byte_of_each_member_repacked(bundle_path: Path, keys: Keys,
                                               tmp_path: Path) -> None:
    """An attacker rewrites a member (and the ZIP) without the signing key."""
    original = read_members(bundle_path)
    for name in sorted(original):
        members = dict(original)
        members[name] = flip(members[name])
        out = write_members(tmp_path / "t.aitrace", members)
        report = _verify(out, keys)
        assert not report.ok, name
        assert name in report.failed_members, (name, [c.message for c in report.failed])


def test_flip_one_raw_byte_of_each_member_in_place(bundle_path: Path, keys: Keys,
                                                   tmp_path: Path) -> None:
    """A byte flipped in the archive file itself (CRC or digest catches it)."""
    raw = bundle_path.read_bytes()
    with SafeArchive.open(bundle_path) as ar:
        infos = [ar.info(n) for n in ar.names()]
    for info in infos:
        at = info.data_offset + info.compressed_size // 2
        out = tmp_path / "raw.aitrace"
        out.write_bytes(flip(raw, at))
        report = _verify(out, keys)
        assert not report.ok, info.name
        assert info.name in report.failed_members, (info.name, [c.message for c in
                                                                report.failed])


@pytest.mark.parametrize("victim", ["steps/000002.json", "record.json", "sbom.cdx.json",
                                    "signatures/dist/model.bin.sig"])
def test_remove_a_member(bundle_path: Path, keys: Keys, tmp_path: Path, victim: str) -> None:
    members = read_members(bundle_path)
    del members[victim]
    report = _verify(write_members(tmp_path / "t.aitrace", members), keys)
    assert any(c.id == "members.missing" and c.member == victim for c in report.failed)


def test_remove_an_evidence_object(bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    members = read_members(bundle_path)
    victim = next(n for n in members if n.startswith("objects/"))
    del members[victim]
    report = _verify(write_members(tmp_path / "t.aitrace", members), keys)
    assert any(c.id == "members.missing" and c.member == victim for c in report.failed)
    assert any(c.id == "evidence.objects" for c in report.failed)


def test_add_a_member(bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    import hashlib

    members = read_members(bundle_path)
    data = b'{"note": "added later"}'
    name = f"objects/sha256/{hashlib.sha256(data).hexdigest()}"
    members[name] = data
    members["notes.txt"] = b"hello"
    report = _verify(write_members(tmp_path / "t.aitrace", members), keys)
    failed = {(c.id, c.member) for c in report.failed}
    assert ("members.unlisted", name) in failed
    assert ("members.unlisted", "notes.txt") in failed
    assert ("members.kinds", "notes.txt") in failed


def test_rename_a_member(bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    members = read_members(bundle_path)
    members["steps/000009.json"] = members.pop("steps/000004.json")
    report = _verify(write_members(tmp_path / "t.aitrace", members), keys)
    failed = {(c.id, c.member) for c in report.failed}
    assert ("members.missing", "steps/000004.json") in failed
    assert ("members.unlisted", "steps/000009.json") in failed
    assert ("chain.hash", "steps/000009.json") in failed


def test_reorder_steps_even_when_resigned(bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    """An insider with the release key swaps two steps: the hash chain still breaks."""
    members = read_members(bundle_path)
    members["steps/000002.json"], members["steps/000003.json"] = (
        members["steps/000003.json"], members["steps/000002.json"])
    resigned = resign(members, load_signer(keys.key))
    report = _verify(write_members(tmp_path / "t.aitrace", resigned), keys)
    assert report.failed and {c.id for c in report.failed} >= {"chain.hash", "chain.head"}
    assert any(c.id == "chain.hash" and c.member == "steps/000002.json" for c in report.failed)
    assert all(c.id != "signature.trusted" for c in report.failed)


def test_drop_last_step_resigned(bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    members = read_members(bundle_path)
    del members["steps/000006.json"]
    resigned = resign(members, load_signer(keys.key))
    report = _verify(write_members(tmp_path / "t.aitrace", resigned), keys)
    assert any(c.id == "chain.head" and "after signing" in c.message for c in report.failed)


def test_drop_middle_step_resigned(bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    members = read_members(bundle_path)
    for i in range(3, 6):
        members[f"steps/{i:06d}.json"] = members[f"steps/{i + 1:06d}.json"]
    del members["steps/000006.json"]
    report = _verify(write_members(tmp_path / "t.aitrace",
                                   resign(members, load_signer(keys.key))), keys)
    assert any(c.id == "chain.hash" and c.member == "steps/000003.json" for c in report.failed)


def test_swap_signature_from_another_bundle(bundle_path: Path, project: Path, keys: Keys,
                                            tmp_path: Path) -> None:
    from tests.helpers.bundle import new_workspace, record_pipeline

    ws = new_workspace(tmp_path / "other")
    record_pipeline(ws, accuracy=0.5)
    other = tmp_path / "other.aitrace"
    build_bundle(ws, [load_signer(keys.key)], other)
    members = read_members(bundle_path)
    members[ATTESTATION_MEMBER] = read_members(other)[ATTESTATION_MEMBER]
    report = _verify(write_members(tmp_path / "t.aitrace", members), keys)
    failed = {(c.id, c.member) for c in report.failed}
    assert ("statement.manifest-subject", MANIFEST_MEMBER) in failed
    assert any(i == "chain.head" for i, _ in failed)


def test_untrusted_key(bundle_path: Path, keys: Keys) -> None:
    report = verify_bundle(bundle_path, [load_public_key(keys.other_pub)])
    assert [(c.id, c.member) for c in report.failed] == [("signature.trusted",
                                                          ATTESTATION_MEMBER)]
    assert "not by a trusted key" in report.failed[0].message


def test_resigned_by_untrusted_key(bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    members = read_members(bundle_path)
    report = _verify(write_members(tmp_path / "t.aitrace",
                                   resign(members, load_signer(keys.other_key))), keys)
    assert [c.id for c in report.failed] == ["signature.trusted"]


def test_no_key_given(bundle_path: Path) -> None:
    report = verify_bundle(bundle_path, [])
    assert any(c.id == "signature.trusted" and "no trusted release key" in c.message
               for c in report.failed)


def test_changed_payload_type(bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    members = read_members(bundle_path)
    env = json.loads(members[ATTESTATION_MEMBER])
    env["payloadType"] = "application/json"
    members[ATTESTATION_MEMBER] = json.dumps(env).encode()
    report = _verify(write_members(tmp_path / "a.aitrace", members), keys)
    assert {c.id for c in report.failed} >= {"signature.trusted", "statement.payload-type"}
    # even re-signed by the trusted key, the payload type is wrong
    resigned = resign(read_members(bundle_path), load_signer(keys.key),
                      payload_type="application/json")
    report = _verify(write_members(tmp_path / "b.aitrace", resigned), keys)
    assert [c.id for c in report.failed] == ["statement.payload-type"]


def test_replaced_subject(bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    def edit(st: dict[str, Any]) -> None:
        for s in st["subject"]:
            if s["name"] == "dist/model.bin":
                s["digest"]["sha256"] = "ab" * 32

    resigned = resign(read_members(bundle_path), load_signer(keys.key), edit_statement=edit)
    report = _verify(write_members(tmp_path / "t.aitrace", resigned), keys)
    assert {c.id for c in report.failed} == {"statement.released-subjects"}
    assert "dist/model.bin" in report.failed[0].message


def test_artifact_check(bundle_path: Path, project: Path, keys: Keys, tmp_path: Path) -> None:
    good = _verify(bundle_path, keys, artifacts=[project / "dist/model.bin"])
    assert any(c.id == "artifact.matches" and c.status == "passed" for c in good.checks)
    other = tmp_path / "model.bin"
    other.write_bytes(b"not the model")
    bad = _verify(bundle_path, keys, artifacts=[other])
    assert [c.id for c in bad.failed] == ["artifact.matches"]
    assert "matches no released artifact" in bad.failed[0].message


def test_unsafe_archive_is_reported_not_raised(tmp_path: Path, keys: Keys) -> None:
    bad = tmp_path / "bad.aitrace"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    report = _verify(bad, keys)
    assert not report.ok and report.failed[0].id == "archive.safe"


def test_record_from_another_workspace_step(bundle_path: Path, keys: Keys,
                                            tmp_path: Path) -> None:
    """A step edited (re-serialised with a changed metric) and everything re-signed."""
    members = read_members(bundle_path)
    step = json.loads(members["steps/000005.json"])
    step["metrics"]["accuracy"] = 0.99
    members["steps/000005.json"] = json.dumps(step, indent=2).encode()
    report = _verify(write_members(tmp_path / "t.aitrace",
                                   resign(members, load_signer(keys.key))), keys)
    assert any(c.id == "chain.hash" and c.member == "steps/000006.json" for c in report.failed)
    assert any(c.id == "chain.head" and c.member == "steps/000005.json" for c in report.failed)


def test_workspace_unchanged(project: Path) -> None:
    assert Workspace(project).chain().intact


# ----------------------------------------------------------------------------- ZIP differentials


@pytest.mark.parametrize("shape", ["smuggled-local-header", "prepended-polyglot",
                                   "end-record-comment", "decoy-directory", "local-header-lies"])
def test_zip_differential(bundle_path: Path, keys: Keys, tmp_path: Path, shape: str) -> None:
    """Bytes other ZIP readers accept but read differently: the archive check fails first."""
    from tests.helpers.zip_forge import differentials

    genuine = bundle_path.read_bytes()
    step = json.loads(read_members(bundle_path)["steps/000005.json"])
    step["metrics"]["accuracy"] = 0.999
    forged = differentials(genuine, "steps/000005.json", json.dumps(step).encode())[shape]
    path = tmp_path / f"{shape}.aitrace"
    path.write_bytes(forged)
    report = _verify(path, keys)
    assert not report.ok
    assert report.failed[0].id == "archive.safe", [c.message for c in report.failed]


# ----------------------------------------------------------------------------- role confusion


def _reviewer_forgery(project: Path, keys: Keys, tmp_path: Path) -> Path:
    """A reviewer edits the evaluation's accuracy, re-links the chain, re-approves the new
    deployment step and signs the whole release with the reviewer key."""
    from aitrace.signing.approvals import create_approval
    from tests.helpers.bundle import copy_project, rewrite_history

    def edit(docs: list[dict[str, Any]]) -> None:
        docs[4]["metrics"]["accuracy"] = 0.999

    ws = rewrite_history(copy_project(project, tmp_path / "forged"), edit)
    reviewer = load_signer(keys.other_key)
    create_approval(ws, "deployment", reviewer, "Rae Viewer", "looks good")
    out = tmp_path / "forged.aitrace"
    build_bundle(ws, [reviewer], out)
    return out


def test_a_reviewer_key_cannot_sign_a_release(project: Path, keys: Keys,
                                              tmp_path: Path) -> None:
    from aitrace.verify.policy import parse_policy

    forged = _reviewer_forgery(project, keys, tmp_path)
    reviewer = load_public_key(keys.other_pub)
    policy = parse_policy({"approvals": [{"stage": "deployment", "keyids": [reviewer.keyid]}]},
                          "gate.yaml")
    report = verify_bundle(forged, [load_public_key(keys.pub)], approver_keys=[reviewer],
                           policy=policy)
    assert not report.ok
    [sig] = [c for c in report.failed if c.id == "signature.trusted"]
    assert "given as an approver key (--approver-key)" in sig.message
    assert "never the release" in sig.message


def test_a_reviewer_key_given_as_release_key_breaks_the_policy_roles(
        project: Path, keys: Keys, tmp_path: Path) -> None:
    """The old habit (`--key release.pub --key reviewer.pub`): the policy's roles still hold."""
    from aitrace.verify.policy import parse_policy

    forged = _reviewer_forgery(project, keys, tmp_path)
    release, reviewer = load_public_key(keys.pub), load_public_key(keys.other_pub)
    for doc in ({"approvals": [{"stage": "deployment", "keyids": [reviewer.keyid]}]},
                {"keys": {"release": [release.keyid]}},
                {"keys": {"approvers": [reviewer.keyid]}}):
        report = verify_bundle(forged, [release, reviewer], approver_keys=[reviewer],
                               policy=parse_policy(doc, "gate.yaml"))
        assert [c.id for c in report.failed] == ["policy.key-roles"], doc
        assert f"signed by key {reviewer.keyid[:16]}…" in report.failed[0].message


def test_approvals_count_only_from_approver_keys(project: Path, keys: Keys,
                                                 bundle_path: Path) -> None:
    """The release key cannot approve; a reviewer's approval needs --approver-key."""
    from aitrace.verify.policy import parse_policy

    release, reviewer = load_public_key(keys.pub), load_public_key(keys.other_pub)
    policy = parse_policy({"approvals": [{"stage": "deployment"}]}, "gate.yaml")
    good = verify_bundle(bundle_path, [release], approver_keys=[reviewer], policy=policy)
    assert good.ok, [c.message for c in good.failed]
    # the reviewer's key given in the release role only: its approval is not trusted
    as_release = verify_bundle(bundle_path, [release, reviewer], policy=policy)
    [fail] = as_release.failed
    assert fail.id == "policy.approvals" and "--approver-key" in fail.message
    # a policy naming the roles: the release key may not count as an approver
    pinned = parse_policy({"keys": {"release": [release.keyid]},
                           "approvals": [{"stage": "deployment"}]}, "gate.yaml")
    assert verify_bundle(bundle_path, [release], approver_keys=[release, reviewer],
                         policy=pinned).ok


def test_a_release_key_cannot_approve(project: Path, keys: Keys, tmp_path: Path) -> None:
    """A release manager approving their own release, and passing their key as an approver."""
    import shutil

    from aitrace.signing.approvals import create_approval
    from aitrace.verify.policy import parse_policy
    from tests.helpers.bundle import copy_project

    root = copy_project(project, tmp_path / "self-approved")
    shutil.rmtree(root / ".aitrace" / "approvals")
    ws = Workspace(root)
    create_approval(ws, "deployment", load_signer(keys.key), "Rel Manager", "ship it")
    out = tmp_path / "self.aitrace"
    build_bundle(ws, [load_signer(keys.key)], out)
    release = load_public_key(keys.pub)
    policy = parse_policy({"keys": {"release": [release.keyid]},
                           "approvals": [{"stage": "deployment"}]}, "gate.yaml")
    report = verify_bundle(out, [release], approver_keys=[release], policy=policy)
    assert [c.id for c in report.failed] == ["policy.approvals"]
    assert "0 of 1 approvals" in report.failed[0].message


# ----------------------------------------------------------------------------- duplicate keys


def _dup(text: bytes, key: bytes, decoy: bytes) -> bytes:
    """``text`` with ``"key":decoy,`` inserted before the first ``"key":`` (the genuine one
    stays last, so a last-value-wins parser sees exactly the genuine document)."""
    at = text.index(b'"' + key + b'":')
    return text[:at] + b'"' + key + b'":' + decoy + b"," + text[at:]


@pytest.mark.parametrize(("key", "decoy"), [
    (b"subject", b'[{"name":"dist/model.bin","digest":{"sha256":"' + b"ab" * 32 + b'"}}]'),
    (b"chain_head", b'"' + b"cd" * 32 + b'"'),
    (b"record", b'{"id":"another-record","name":"x"}'),
])
def test_duplicate_keys_in_the_signed_statement(bundle_path: Path, keys: Keys, tmp_path: Path,
                                                key: bytes, decoy: bytes) -> None:
    """Signed by the genuine key, valid to a last-value-wins parser: refused all the same."""
    import base64

    from aitrace.record.jsonio import canonical_bytes, pretty_bytes
    from aitrace.signing.dsse import dsse_sign
    from tests.helpers.bundle import statement_of

    members = read_members(bundle_path)
    payload = _dup(canonical_bytes(statement_of(members)), key, decoy)
    assert json.loads(payload) == statement_of(members)  # what a lax verifier would see
    env = dsse_sign(payload, "application/vnd.in-toto+json", [load_signer(keys.key)])
    assert base64.b64decode(env["payload"]) == payload
    members[ATTESTATION_MEMBER] = pretty_bytes(env)
    report = _verify(write_members(tmp_path / "dup.aitrace", members), keys)
    failed = {c.id: c.message for c in report.failed}
    assert "statement.valid" in failed
    assert f"repeats the key '{key.decode()}'" in failed["statement.valid"]


def test_duplicate_key_in_a_bundled_step(bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    members = read_members(bundle_path)
    members["steps/000005.json"] = _dup(members["steps/000005.json"], b"metrics",
                                        b'{"accuracy": 0.999}')
    report = _verify(write_members(tmp_path / "dup.aitrace",
                                   resign(members, load_signer(keys.key))), keys)
    assert any(c.id == "steps.schema" and c.member == "steps/000005.json"
               and "repeats the key 'metrics'" in c.message for c in report.failed)


# ----------------------------------------------------------------------------- time and order


def _shift(docs: list[dict[str, Any]], years: int) -> None:
    for doc in docs:
        for key in ("started_at", "ended_at"):
            doc[key] = f"{int(doc[key][:4]) + years:04d}{doc[key][4:]}"


def test_post_dated_record_fails_max_age_and_time(project: Path, keys: Keys,
                                                  tmp_path: Path) -> None:
    """Genuinely signed, every step dated ~75 years ahead: never 'fresh'."""
    from aitrace.verify.policy import parse_policy
    from tests.helpers.bundle import copy_project, rewrite_history

    ws = rewrite_history(copy_project(project, tmp_path / "future"),
                         lambda docs: _shift(docs, 2099 - int(docs[0]["started_at"][:4])))
    out = tmp_path / "future.aitrace"
    build_bundle(ws, [load_signer(keys.key)], out)
    report = _verify(out, keys, policy=parse_policy({"max_age_days": 30}, "fresh.yaml"))
    failed = {c.id: c.message for c in report.failed}
    assert set(failed) == {"chain.time", "policy.max-age"}, failed
    assert "days in the future" in failed["policy.max-age"]
    assert "post-dated" in failed["chain.time"] and "2099-" in failed["chain.time"]


def test_verifier_clock_before_creation(bundle_path: Path, keys: Keys, project: Path) -> None:
    from datetime import timedelta

    from aitrace.record.times import parse_utc
    from aitrace.verify.policy import parse_policy

    created = parse_utc(Workspace(project).steps()[-1].ended_at)
    assert created is not None
    policy = parse_policy({"max_age_days": 30}, "fresh.yaml")
    early = _verify(bundle_path, keys, policy=policy, now=created - timedelta(days=3))
    assert {c.id for c in early.failed} == {"chain.time", "policy.max-age"}
    # within the clock tolerance (a few minutes of skew between machines) it passes
    skewed = _verify(bundle_path, keys, policy=policy, now=created - timedelta(minutes=2))
    assert skewed.ok, [c.message for c in skewed.failed]


def test_problem_step_moved_after_deployment(project: Path, keys: Keys, tmp_path: Path) -> None:
    """An insider moves the success criteria after the evaluation, re-chains and re-signs."""
    from aitrace.verify.policy import parse_policy
    from tests.helpers.bundle import copy_project, rewrite_history

    def move(docs: list[dict[str, Any]]) -> None:
        # the genuine pipeline took a working day: one hour per stage
        for i, doc in enumerate(docs):
            doc["started_at"] = f"2026-03-02T{8 + i:02d}:00:00.000000Z"
            doc["ended_at"] = f"2026-03-02T{8 + i:02d}:40:00.000000Z"
        docs.append(docs.pop(0))

    ws = rewrite_history(copy_project(project, tmp_path / "moved"), move)
    out = tmp_path / "moved.aitrace"
    build_bundle(ws, [load_signer(keys.key)], out)
    report = _verify(out, keys, policy=parse_policy({"meets_success_criteria": True}, "p.yaml"))
    failed = {(c.id, c.member): c.message for c in report.failed}
    assert set(failed) == {("chain.time", "steps/000006.json"),
                           ("chain.preregistration", "steps/000006.json"),
                           ("policy.success-criteria", None)}, failed
    assert failed[("chain.time", "steps/000006.json")] == (
        "step 6 (problem) ended at 2026-03-02T08:40:00.000000Z, 5.0 h before step 5 (deployment) "
        "that precedes it in the chain ended (2026-03-02T13:40:00.000000Z): time runs backwards "
        "(steps were reordered, or a clock was wrong)")
    assert ("step 6 (problem)" in failed[("chain.preregistration", "steps/000006.json")]
            and "only after evaluation step 4" in failed[("chain.preregistration",
                                                           "steps/000006.json")])
    assert "not pre-registered" in failed[("policy.success-criteria", None)]


def test_success_criteria_changed_after_the_evaluation(tmp_path: Path, keys: Keys) -> None:
    """A genuine, forward-running record: the target is lowered after a weak evaluation."""
    import aitrace
    from aitrace.verify.policy import parse_policy
    from tests.helpers.bundle import new_workspace, record_pipeline

    ws = new_workspace(tmp_path / "moved-goalposts")
    record_pipeline(ws, accuracy=0.5)
    with aitrace.stage("problem", workspace=ws, sbom=False) as s:
        s.log_params({"success.accuracy": ">= 0.5"})
    out = tmp_path / "g.aitrace"
    build_bundle(ws, [load_signer(keys.key)], out)
    report = _verify(out, keys, policy=parse_policy({"meets_success_criteria": True}, "p.yaml"))
    failed = {c.id: c.message for c in report.failed}
    assert set(failed) == {"chain.preregistration", "policy.success-criteria"}, failed
    assert ("step 7 (problem)" in failed["chain.preregistration"] and
            "changes success criterion success.accuracy from '>= 0.9' to '>= 0.5' after "
            "evaluation step 5" in failed["chain.preregistration"])
    assert failed["policy.success-criteria"] == (
        "success criterion accuracy >= 0.9: evaluation step 5 has 0.5")
