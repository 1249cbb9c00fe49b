"""Reviewer approvals: signed statements about one step, checked against the record and keys."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

import aitrace
from aitrace.errors import InputError
from aitrace.record.jsonio import canonical_bytes
from aitrace.record.models import Step
from aitrace.schemas import validator
from aitrace.signing.approvals import (
    APPROVAL_PREDICATE,
    ApprovalPredicate,
    approval_predicate_schema,
    create_approval,
    list_approvals,
    verify_approvals,
)
from aitrace.signing.dsse import IN_TOTO_PAYLOAD_TYPE, dsse_sign, make_statement
from aitrace.signing.keys import Signer, new_signer
from aitrace.store.workspace import Workspace


def _record(ws: Workspace, stage: str, name: str, fail: bool = False) -> None:
    path = ws.root / name
    path.write_text(name)
    if fail:
        with pytest.raises(RuntimeError), aitrace.stage(stage, workspace=ws) as rec:
            raise RuntimeError("boom")
        return
    with aitrace.stage(stage, workspace=ws) as rec:
        rec.output(path)


@pytest.fixture
def reviewed(workspace: Workspace) -> Workspace:
    _record(workspace, "problem", "problem.md")
    _record(workspace, "cleaning", "clean-v1.csv")
    _record(workspace, "cleaning", "clean-v2.csv")
    _record(workspace, "cleaning", "x.csv", fail=True)
    return workspace


@pytest.fixture(scope="module")
def reviewer() -> Signer:
    return new_signer()


def _payload(path: Path) -> dict[str, Any]:
    env = json.loads(path.read_bytes())
    return json.loads(base64.b64decode(env["payload"]))  # type: ignore[no-any-return]


def test_approves_latest_succeeded_step_and_verifies(reviewed: Workspace,
                                                     reviewer: Signer) -> None:
    path = create_approval(reviewed, "cleaning", reviewer, "Ana Lee <ana@example.com>",
                           "checked the null handling")
    steps = reviewed.steps()
    target = steps[2]  # the second cleaning step; the failed one after it is skipped
    assert path.parent == reviewed.dir / "approvals"
    assert path.name.endswith(".dsse.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    statement = _payload(path)
    assert statement["subject"] == [{"name": f"step:{target.id}",
                                     "digest": {"sha256": target.digest}}]
    assert statement["predicateType"] == APPROVAL_PREDICATE
    pred = statement["predicate"]
    assert pred["step_seq"] == 3
    assert pred["reviewer"] == {"name": "Ana Lee <ana@example.com>", "keyid": reviewer.keyid}
    assert pred["decision"] == "approved"
    validator("approval.schema.json").validate(pred)

    stored = list_approvals(reviewed)
    assert [n for n, _ in stored] == [path.name]
    [check] = verify_approvals(dict(stored), steps, [reviewer.public_key()])
    assert check.ok, check.problem
    assert (check.stage, check.step_id, check.reviewer, check.keyid, check.decision) == (
        "cleaning", target.id, "Ana Lee <ana@example.com>", reviewer.keyid, "approved")
    assert check.comment == "checked the null handling"
    assert check.time and check.time.endswith("Z")


def test_securesystemslib_verifies_an_approval(reviewed: Workspace, reviewer: Signer) -> None:
    path = create_approval(reviewed, "problem", reviewer, "R", "")
    env = Envelope.from_dict(json.loads(path.read_bytes()))
    key = SSlibKey.from_crypto(reviewer.public_key().crypto_key, keyid=reviewer.keyid)
    assert list(env.verify([key], 1)) == [reviewer.keyid]


def test_explicit_step_and_rejection(reviewed: Workspace, reviewer: Signer) -> None:
    first_cleaning = reviewed.steps()[1]
    path = create_approval(reviewed, "cleaning", reviewer, "R", "wrong join",
                           decision="rejected", step_ref="2")
    assert _payload(path)["predicate"]["step_id"] == first_cleaning.id
    [check] = verify_approvals(dict(list_approvals(reviewed)), reviewed.steps(),
                               [reviewer.public_key()])
    assert check.ok
    assert check.decision == "rejected"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stage": "training"}, "stage 'training' has no recorded step"),
        ({"stage": "nonsense"}, "unknown stage 'nonsense'"),
        ({"stage": "cleaning", "step_ref": "1"}, "belongs to stage 'problem', not 'cleaning'"),
        ({"stage": "cleaning", "decision": "maybe"}, "decision must be"),
        ({"stage": "cleaning", "reviewer_name": "  "}, "reviewer name is empty"),
    ],
)
def test_create_errors(reviewed: Workspace, reviewer: Signer, kwargs: dict[str, Any],
                       message: str) -> None:
    args: dict[str, Any] = {"reviewer_name": "R", "comment": "", **kwargs}
    with pytest.raises(InputError, match=message):
        create_approval(reviewed, signer=reviewer, **args)
    assert list_approvals(reviewed) == []


def test_stage_with_only_failed_steps(workspace: Workspace, reviewer: Signer) -> None:
    _record(workspace, "training", "m.pkl", fail=True)
    with pytest.raises(InputError, match="no succeeded step") as err:
        create_approval(workspace, "training", reviewer, "R", "")
    assert "--step" in (err.value.hint or "")


def _checks(reviewed: Workspace, envelopes: dict[str, bytes], keys: list[Any],
            steps: tuple[Step, ...] | None = None) -> Any:
    return verify_approvals(envelopes, steps if steps is not None else reviewed.steps(), keys)


def test_untrusted_reviewer_key_fails(reviewed: Workspace, reviewer: Signer) -> None:
    create_approval(reviewed, "cleaning", reviewer, "R", "")
    [check] = _checks(reviewed, dict(list_approvals(reviewed)), [new_signer().public_key()])
    assert not check.ok
    assert check.reviewer == "R"
    assert "not by a trusted key" in (check.problem or "")


def test_edited_step_invalidates_its_approval(reviewed: Workspace, reviewer: Signer) -> None:
    create_approval(reviewed, "cleaning", reviewer, "R", "")
    steps = list(reviewed.steps())
    steps[2] = steps[2].with_(description="edited after review")
    [check] = _checks(reviewed, dict(list_approvals(reviewed)), [reviewer.public_key()],
                      tuple(steps))
    assert not check.ok
    assert "the step changed after it was approved" in (check.problem or "")


def test_approval_of_a_step_from_another_record(reviewed: Workspace, reviewer: Signer) -> None:
    create_approval(reviewed, "cleaning", reviewer, "R", "")
    [check] = _checks(reviewed, dict(list_approvals(reviewed)), [reviewer.public_key()],
                      reviewed.steps()[:2])
    assert not check.ok
    assert "which is not in this record" in (check.problem or "")


def _signed(statement: dict[str, Any], signer: Signer,
            payload_type: str = IN_TOTO_PAYLOAD_TYPE) -> bytes:
    return json.dumps(dsse_sign(canonical_bytes(statement), payload_type, [signer])).encode()


def _good_statement(step: Step, signer: Signer, **changes: Any) -> dict[str, Any]:
    pred = {"record_id": step.record_id, "stage": step.stage, "step_id": step.id,
            "step_seq": step.seq, "reviewer": {"name": "R", "keyid": signer.keyid},
            "time": "2026-01-01T00:00:00Z", "comment": "", "decision": "approved"}
    pred.update(changes)
    return make_statement([(f"step:{step.id}", step.digest)], APPROVAL_PREDICATE, pred)


def test_forged_and_malformed_approvals_are_reported(reviewed: Workspace,
                                                     reviewer: Signer) -> None:
    steps = reviewed.steps()
    step = steps[1]
    other = new_signer()
    wrong_subject = _good_statement(step, reviewer)
    wrong_subject["subject"][0]["name"] = f"step:{steps[2].id}"
    wrong_seq = _good_statement(step, reviewer, step_seq=9)
    bad_pred = _good_statement(step, reviewer, decision="perhaps")
    wrong_type = dict(_good_statement(step, reviewer), predicateType="https://x/y")
    envelopes = {
        "a-ok": _signed(_good_statement(step, reviewer), reviewer),
        "b-keyid": _signed(_good_statement(step, reviewer), other),  # names reviewer's key
        "c-subject": _signed(wrong_subject, reviewer),
        "d-seq": _signed(wrong_seq, reviewer),
        "e-pred": _signed(bad_pred, reviewer),
        "f-type": _signed(wrong_type, reviewer),
        "g-payload-type": _signed(_good_statement(step, reviewer), reviewer, "text/plain"),
        "h-json": b"{not json",
        "i-struct": b'{"payload": 1}',
        "j-deep": b"[" * 1000 + b"]" * 1000,
        "k-name": b"{}",
    }
    envelopes[f"approvals/{'0' * 64}.dsse.json"] = envelopes.pop("k-name")
    keys = [reviewer.public_key(), other.public_key()]
    checks = {c.name: c for c in verify_approvals(envelopes, steps, keys)}
    assert list(checks) == sorted(envelopes)
    assert checks["a-ok"].ok
    expected = {
        "b-keyid": "names reviewer key",
        "c-subject": "its subject must be the single step",
        "d-seq": "step 9",
        "e-pred": "decision",
        "f-type": "predicateType is 'https://x/y'",
        "g-payload-type": "payloadType is 'text/plain'",
        "h-json": "not valid JSON",
        "i-struct": "field 'payload'",
        "j-deep": "deeper than",
        f"approvals/{'0' * 64}.dsse.json": "do not match the digest in its file name",
    }
    for name, fragment in expected.items():
        assert not checks[name].ok, name
        assert fragment in (checks[name].problem or ""), (name, checks[name].problem)


def test_schema_matches_the_model() -> None:
    schema = approval_predicate_schema()
    assert schema["$id"] == "https://aitrace.dev/schemas/approval/v1"
    assert set(schema["required"]) == {
        "record_id", "stage", "step_id", "step_seq", "reviewer", "time", "comment", "decision"}
    assert schema["properties"]["decision"] == {"enum": ["approved", "rejected"]}
    assert ApprovalPredicate.__dataclass_params__.frozen  # type: ignore[attr-defined]
