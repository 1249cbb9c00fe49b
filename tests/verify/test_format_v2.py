"""Format v2 bundles: canonical members, sha256 chain, dirHash subjects, duplicate keys refused.

Each forgery here is *genuinely re-signed* with the trusted key (manifest, chain head and
predicate recomputed), so the only thing that can catch it is the check under test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import rfc8785

import aitrace
from aitrace.bundle.format import ATTESTATION_MEMBER, MANIFEST_MEMBER, RECORD_MEMBER
from aitrace.bundle.read import OpenedBundle
from aitrace.bundle.write import build_bundle
from aitrace.record.jsonio import canonical_bytes
from aitrace.signing.dsse import IN_TOTO_PAYLOAD_TYPE, dsse_sign
from aitrace.signing.keys import load_public_key, load_signer
from aitrace.store.migrate import migrate
from aitrace.store.workspace import Workspace
from aitrace.verify.bundle import verify_bundle
from aitrace.verify.checks import VerifyReport
from tests.helpers.bundle import (
    Keys,
    new_workspace,
    read_members,
    resign,
    statement_of,
    write_members,
)
from tests.helpers.v1 import v1_workspace_from_asset


def _verify(path: Path, keys: Keys, *extra: Path) -> VerifyReport:
    return verify_bundle(path, [load_public_key(p) for p in (keys.pub, *extra)])


def _failed(report: VerifyReport) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in report.failed:
        out.setdefault(c.id, []).append(c.message)
    return out


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def test_every_json_member_is_rfc8785_of_its_json(bundle_path: Path) -> None:
    members = read_members(bundle_path)
    json_members = {n: d for n, d in members.items() if _is_json(d)}
    # manifest, envelope, record, 6 steps, approval, GX results, SBOMs, env, the model .sig
    assert {MANIFEST_MEMBER, ATTESTATION_MEMBER, RECORD_MEMBER, "sbom.cdx.json"} <= set(
        json_members)
    assert any(n.startswith("signatures/") for n in json_members)
    assert any(n.startswith("approvals/") for n in json_members)
    for name, data in json_members.items():
        assert rfc8785.dumps(json.loads(data)) == data, name
    payload = base64.b64decode(json.loads(members[ATTESTATION_MEMBER])["payload"])
    assert rfc8785.dumps(json.loads(payload)) == payload


def test_the_chain_is_sha256_of_the_step_files(bundle_path: Path) -> None:
    members = read_members(bundle_path)
    steps = sorted(n for n in members if n.startswith("steps/"))
    prev = None
    for name in steps:
        assert json.loads(members[name])["prev"] == prev
        prev = hashlib.sha256(members[name]).hexdigest()
    manifest = json.loads(members[MANIFEST_MEMBER])
    predicate = statement_of(members)["predicate"]
    assert manifest["chain_head"] == predicate["chain_head"] == prev
    assert manifest["format"] == "aitrace.bundle/v2"
    assert statement_of(members)["predicateType"] == "https://aitrace.dev/production-record/v2"
    assert [s["digest"] for s in predicate["steps"]] == [
        hashlib.sha256(members[n]).hexdigest() for n in steps]


# ----------------------------------------------------------------------------- directories


@pytest.fixture(scope="module")
def dir_bundle(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> tuple[Path, Path]:
    """A record whose released model is a folder (an MLflow-style model directory)."""
    ws = new_workspace(tmp_path_factory.mktemp("dir-project") / "project")
    root = ws.root
    with aitrace.stage("collection", workspace=ws, sbom=False) as s:
        s.input("https://example.org/d.csv", origin="example.org", license="CC0-1.0")
        (root / "data").mkdir()
        (root / "data" / "d.csv").write_text("x\n1\n")
        s.output(root / "data" / "d.csv")
    model = root / "dist" / "model"
    with aitrace.stage("training", workspace=ws, inputs=[root / "data" / "d.csv"], sbom=False):
        (model / "data").mkdir(parents=True)
        (model / "MLmodel").write_text("flavors: {}\n")
        (model / "data" / "model.pkl").write_bytes(b"weights")
        (model / "requirements.txt").write_text("scikit-learn\n")
    with aitrace.stage("deployment", workspace=ws, inputs=[root / "data" / "d.csv"],
                       outputs=[model], sbom=False):
        pass
    out = tmp_path_factory.mktemp("dir-out") / "dir.aitrace"
    build_bundle(Workspace(root), [load_signer(keys.key)], out)
    return out, model


def test_a_released_directory_is_a_dirhash_subject(dir_bundle: tuple[Path, Path],
                                                   keys: Keys) -> None:
    path, model = dir_bundle
    report = _verify(path, keys)
    assert report.ok, _failed(report)
    members = read_members(path)
    subjects = {s["name"]: s["digest"] for s in statement_of(members)["subject"]}
    pipeline = subprocess.run(
        ["sh", "-c", "find . -type f | cut -c3- | LC_ALL=C sort | xargs -r sha256sum | sha256sum"],
        cwd=model, capture_output=True, text=True, check=True).stdout.split()[0]
    assert subjects["dist/model"] == {"dirHash": pipeline}
    # The listing is in the bundle under that digest: which files the folder held.
    listing = members[f"objects/sha256/{pipeline}"]
    assert hashlib.sha256(listing).hexdigest() == pipeline
    assert [line.split("  ")[1] for line in listing.decode().splitlines()] == [
        "MLmodel", "data/model.pkl", "requirements.txt"]
    assert ("dist/model", "dirHash", pipeline) in report.subjects
    checks = {c.id: c for c in report.checks}
    assert checks["evidence.dir-listings"].status == "passed"


def test_a_damaged_listing_is_named(dir_bundle: tuple[Path, Path], keys: Keys,
                                    tmp_path: Path) -> None:
    """A listing that does not match its name is caught; one that parses badly is named."""
    path, _model = dir_bundle
    members = read_members(path)
    (name,) = [n for n in members if n.startswith("objects/")
               and not _is_json(members[n])]
    members[name] = members[name].replace(b"  ", b" ", 1)
    report = _verify(write_members(tmp_path / "t.aitrace", resign(
        members, load_signer(keys.key))), keys)
    assert "evidence.objects" in _failed(report)
    assert name in report.failed_members


# ----------------------------------------------------------------------------- duplicate keys


def _relink_last_step(members: dict[str, bytes], new_last: bytes) -> tuple[
        dict[str, bytes], Callable[[dict[str, Any]], None]]:
    """Put ``new_last`` as the last step and re-derive chain head and predicate from it."""
    out = dict(members)
    last = sorted(n for n in members if n.startswith("steps/"))[-1]
    out[last] = new_last
    head = hashlib.sha256(new_last).hexdigest()
    manifest = json.loads(out[MANIFEST_MEMBER])
    manifest["chain_head"] = head
    out[MANIFEST_MEMBER] = canonical_bytes(manifest)

    def edit(statement: dict[str, Any]) -> None:
        pred = statement["predicate"]
        pred["chain_head"] = head
        pred["steps"][-1]["digest"] = head

    return out, edit


def _leading_duplicate(data: bytes, key: str, value: Any) -> bytes:
    """``data`` (a JSON object) with ``"key": value`` written once more, before the original."""
    return b"{" + json.dumps(key).encode() + b":" + canonical_bytes(value) + b"," + data[1:]


def test_a_duplicated_key_in_a_step_genuinely_resigned_is_refused(
        bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    members = read_members(bundle_path)
    last = sorted(n for n in members if n.startswith("steps/"))[-1]
    forged = _leading_duplicate(members[last], "status", "failed")
    assert json.loads(forged) == json.loads(members[last])  # last-wins sees the genuine step
    relinked, edit = _relink_last_step(members, forged)
    report = _verify(write_members(tmp_path / "t.aitrace",
                                   resign(relinked, load_signer(keys.key), edit)), keys)
    failed = _failed(report)
    assert "signature.trusted" not in failed and "statement.valid" not in failed
    assert any("repeats the key 'status'" in m for m in failed["steps.schema"])
    assert any(f"member '{last}' cannot be read" in m for m in failed["chain.hash"])
    assert last in report.failed_members


@pytest.mark.parametrize(("member", "key", "check"), [
    (RECORD_MEMBER, "id", "chain.hash"),
    (MANIFEST_MEMBER, "chain_head", "manifest.valid"),
])
def test_a_duplicated_key_in_record_or_manifest_genuinely_resigned_is_refused(
        bundle_path: Path, keys: Keys, tmp_path: Path, member: str, key: str,
        check: str) -> None:
    members = read_members(bundle_path)
    members[member] = _leading_duplicate(members[member], key, "d" * 64)
    if member == MANIFEST_MEMBER:  # re-sign over the forged manifest's bytes as they are
        statement = statement_of(members)
        for subj in statement["subject"]:
            if subj["name"] == MANIFEST_MEMBER:
                subj["digest"]["sha256"] = hashlib.sha256(members[member]).hexdigest()
        env = dsse_sign(canonical_bytes(statement), IN_TOTO_PAYLOAD_TYPE,
                        [load_signer(keys.key)])
        members[ATTESTATION_MEMBER] = canonical_bytes(env)
    else:
        members = resign(members, load_signer(keys.key))
    report = _verify(write_members(tmp_path / "t.aitrace", members), keys)
    failed = _failed(report)
    assert "signature.trusted" not in failed
    assert any(f"repeats the key '{key}'" in m for m in failed[check]), failed


def test_a_duplicated_key_in_an_approval_signed_by_its_reviewer_is_refused(
        bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    members = read_members(bundle_path)
    (name,) = [n for n in members if n.startswith("approvals/")]
    env = json.loads(members[name])
    statement = json.loads(base64.b64decode(env["payload"]))
    payload = _leading_duplicate(canonical_bytes(statement), "predicate",
                                 dict(statement["predicate"], decision="approved",
                                      comment="forged"))
    forged = canonical_bytes(dsse_sign(payload, IN_TOTO_PAYLOAD_TYPE,
                                       [load_signer(keys.other_key)]))
    del members[name]
    new_name = f"approvals/{hashlib.sha256(forged).hexdigest()}.dsse.json"
    members[new_name] = forged
    report = _verify(write_members(tmp_path / "t.aitrace",
                                   resign(members, load_signer(keys.key))), keys)
    failed = _failed(report)
    assert any("repeats the key 'predicate'" in m for m in failed["members.canonical"])
    assert new_name in report.failed_members


def test_a_re_encoded_member_is_not_canonical(bundle_path: Path, keys: Keys,
                                              tmp_path: Path) -> None:
    """Same JSON, other bytes (pretty-printed): sha256sum no longer gives the digest."""
    members = read_members(bundle_path)
    members[RECORD_MEMBER] = json.dumps(json.loads(members[RECORD_MEMBER]), indent=2).encode()
    report = _verify(write_members(tmp_path / "t.aitrace",
                                   resign(members, load_signer(keys.key))), keys)
    assert list(_failed(report)) == ["members.canonical"]
    assert report.failed_members == {RECORD_MEMBER}


# ----------------------------------------------------------------------------- migration


def test_a_migrated_v1_record_bundles_and_verifies(tmp_path: Path, keys: Keys,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from aitrace.record.models import Actor

    ws = v1_workspace_from_asset(tmp_path / "project")
    monkeypatch.chdir(ws.root)
    migrate(ws, Actor(user="u", host="h"))
    with aitrace.stage("evaluation", workspace=ws, sbom=False) as s:
        s.log_metrics({"accuracy": 0.97})
    out = tmp_path / "migrated.aitrace"
    info = build_bundle(ws, [load_signer(keys.key)], out)
    assert info.steps == 15
    report = _verify(out, keys)
    assert report.ok, _failed(report)
    members = read_members(out)
    with OpenedBundle.open(out) as ob:
        formats = [e.data["format"] for e in ob.step_entries]
    assert formats == ["aitrace.step/v1"] * 13 + ["aitrace.step/v2"] * 2
    # v1 files travel as they were; from the migration step on, sha256sum links the chain.
    assert json.loads(members["steps/000015.json"])["prev"] == hashlib.sha256(
        members["steps/000014.json"]).hexdigest()
    pins = json.loads(members["steps/000014.json"])["migration"]["steps"]
    assert [p["file_sha256"] for p in pins] == [
        hashlib.sha256(members[f"steps/{i:06d}.json"]).hexdigest() for i in range(1, 14)]


def test_the_kept_v1_bundle_still_verifies(asset: Any) -> None:
    base = asset("bundles/v1")
    report = verify_bundle(base / "wine-classifier-1.0.0.aitrace",
                           [load_public_key(base / "release.pub"),
                            load_public_key(base / "reviewer.pub")],
                           artifacts=[base / "wine-classifier.pkl"])
    assert report.ok, _failed(report)
    checks = {c.id: c.status for c in report.checks}
    assert checks["members.canonical"] == "skipped"  # v1: pretty-printed, as it was written
    assert checks["statement.valid"] == "passed"


def test_the_kept_v2_bundle_verifies_under_the_default_policy(asset: Any) -> None:
    """Old bundles keep verifying: integrity and signature hold, and today's stricter default
    policy judges the record exactly where the rules grew since it was made."""
    from aitrace.verify.policy import default_policy

    base = asset("bundles/v2")
    bundle = base / "wine-classifier-2.0.0.aitrace"
    release = [load_public_key(base / "release.pub")]
    reviewer = [load_public_key(base / "reviewer.pub")]
    plain = verify_bundle(bundle, release, approver_keys=reviewer,
                          artifacts=[base / "wine-classifier.pkl"])
    assert plain.ok, _failed(plain)
    assert plain.answers is not None and plain.answers.trusted
    report = verify_bundle(bundle, release, approver_keys=reviewer, policy=default_policy(),
                           artifacts=[base / "wine-classifier.pkl"])
    assert report.answers is not None and report.answers.trusted
    # The asset predates three rules: a GX check that evaluated nothing is no evidence (its
    # privacy pack found no text column), every strategy aspect must be assessed, and released
    # model files must be scanned (a skip, never a pass, for a record made before scanning).
    not_passed = {c.id: c.status for c in report.checks if c.status != "passed"}
    assert not_passed == {"policy.required-evidence": "failed", "policy.gx-passed": "failed",
                          "policy.assessments": "failed", "policy.model-scan": "skipped"}
    by_id = {c.id: c for c in report.checks}
    assert "0 expectations evaluated" in by_id["policy.gx-passed"].message
    assert "strategy.policy: not assessed" in by_id["policy.assessments"].message
    assert "not scanned" in by_id["policy.model-scan"].message
