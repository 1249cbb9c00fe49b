"""Policies: parsing (with precise errors), each rule, the default policy, via verify."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aitrace.errors import InputError
from aitrace.signing.keys import load_public_key
from aitrace.store.workspace import Workspace
from aitrace.verify.bundle import verify_bundle
from aitrace.verify.checks import Check
from aitrace.verify.policy import default_policy, load_policy, parse_policy
from aitrace.verify.rules import AllOf, AnyOf, MinCompleteness, PolicyContext, RequiredStages
from tests.helpers.bundle import Keys, new_workspace, record_pipeline


def _ctx(project: Path, keys: Keys, **kw: Any) -> PolicyContext:
    from aitrace.signing.approvals import list_approvals

    ws = Workspace(project)
    steps = ws.steps()
    return PolicyContext(steps=steps, created_at=steps[-1].ended_at,
                         approver_keys=[load_public_key(keys.other_pub)],
                         approvals=dict(list_approvals(ws)), object_bytes=ws.read_object, **kw)


def _eval(doc: dict[str, Any], ctx: PolicyContext) -> list[Check]:
    return parse_policy(doc, "test.yaml").evaluate(ctx)


def _failed(checks: list[Check]) -> list[str]:
    return [c.message for c in checks if c.status == "failed"]


def test_thresholds(project: Path, keys: Keys) -> None:
    ctx = _ctx(project, keys)
    assert not _failed(_eval({"metrics": {"accuracy": ">= 0.9"}}, ctx))
    fails = _failed(_eval({"metrics": {"accuracy": "> 0.99"}}, ctx))
    assert fails == ["evaluation accuracy > 0.99: step 5 has accuracy = 0.95"]
    long = {"thresholds": [{"stage": "training", "metric": "train_accuracy", "op": "<",
                            "value": 0.5}, {"metric": "f1", "op": ">=", "value": 0.1}]}
    assert _failed(_eval(long, ctx)) == [
        "training train_accuracy < 0.5: step 4 has train_accuracy = 0.99",
        "evaluation f1 >= 0.1: no succeeded evaluation step logged f1"]


def test_success_criteria(project: Path, keys: Keys, tmp_path: Path) -> None:
    checks = _eval({"meets_success_criteria": True}, _ctx(project, keys))
    assert [c.status for c in checks] == ["passed"]
    assert "accuracy >= 0.9" in checks[0].message
    ws = new_workspace(tmp_path / "low")
    record_pipeline(ws, accuracy=0.5)
    fails = _failed(_eval({"meets_success_criteria": True}, _ctx(ws.root, keys)))
    assert fails == ["success criterion accuracy >= 0.9: evaluation step 5 has 0.5"]


def test_licences(tmp_path: Path, keys: Keys, project: Path) -> None:
    ok = _eval({"licenses": {"deny": ["CC-BY-NC-*"]}}, _ctx(project, keys))
    assert not _failed(ok)
    ws = new_workspace(tmp_path / "nc")
    record_pipeline(ws, data_license="CC-BY-NC-4.0")
    fails = _failed(_eval({"licenses": {"deny": ["cc-by-nc-*"]}}, _ctx(ws.root, keys)))
    assert "collection input https://example.org/data.csv is licensed CC-BY-NC-4.0: " \
           "'CC-BY-NC-4.0' is denied by 'cc-by-nc-*'" in fails
    assert any(f.startswith("deployment SBOM dataset raw") for f in fails)
    allow = _failed(_eval({"licenses": {"allow": ["MIT"]}}, _ctx(project, keys)))
    assert allow and all("is not in the allowed list" in f for f in allow)


def test_approvals(project: Path, keys: Keys) -> None:
    ctx = _ctx(project, keys)
    reviewer = load_public_key(keys.other_pub).keyid
    assert not _failed(_eval({"approvals": [{"stage": "deployment"}]}, ctx))
    assert not _failed(_eval({"approvals": [{"stage": "deployment", "keyids": [reviewer]}]},
                             ctx))
    two = _failed(_eval({"approvals": [{"stage": "deployment", "count": 2}]}, ctx))
    assert two == ["step 6 (deployment) has 1 of 2 approvals"]
    other = load_public_key(keys.pub).keyid
    named = _failed(_eval({"approvals": [{"stage": "deployment", "keyids": [other]}]}, ctx))
    assert named == ["step 6 (deployment) has 0 of 1 approvals from the named reviewer keys"]
    assert _failed(_eval({"approvals": [{"stage": "training"}]}, ctx))
    # the reviewer's key is not trusted: the approval does not count
    untrusted = _ctx(project, keys)
    untrusted.approver_keys = [load_public_key(keys.pub)]
    msg = _failed(_eval({"approvals": [{"stage": "deployment"}]}, untrusted))[0]
    assert "0 of 1" in msg and "not counted" in msg


def test_max_age_and_completeness(project: Path, keys: Keys) -> None:
    created = Workspace(project).steps()[-1].ended_at
    base = datetime.fromisoformat(created.replace("Z", "+00:00"))
    young = _ctx(project, keys, now=base + timedelta(days=3))
    old = _ctx(project, keys, now=base + timedelta(days=40))
    assert not _failed(_eval({"max_age_days": 30}, young))
    assert "days ago" in _failed(_eval({"max_age_days": 30}, old))[0]
    assert not _failed(_eval({"min_completeness": 10}, young))
    msg = _failed(_eval({"min_completeness": 100}, young))[0]
    assert msg.startswith("completeness ") and "labeling: no succeeded step" in msg


def test_combinators(project: Path, keys: Keys) -> None:
    ctx = _ctx(project, keys)
    either = AnyOf((RequiredStages(("labeling",)), MinCompleteness(10)))
    assert [c.status for c in either.evaluate(ctx)] == ["passed"]
    both = AllOf((RequiredStages(("labeling",)), MinCompleteness(10)))
    assert [c.status for c in both.evaluate(ctx)] == ["failed", "passed"]


def test_gx_must_pass(tmp_path: Path, keys: Keys) -> None:
    ws = new_workspace(tmp_path / "gx")
    record_pipeline(ws, gx_success=False)
    fails = _failed(_eval({"gx_must_pass": True}, _ctx(ws.root, keys)))
    assert fails == ["step 2 (collection) GX result for data/raw.csv did not pass",
                     "step 3 (cleaning) GX result for data/clean.csv did not pass"]


@pytest.mark.parametrize(("text", "needle"), [
    ("required_stages: [problem, nope]\n", "field 'required_stages[1]'"),
    ("metrics:\n  accuracy: about 0.9\n", "field 'metrics.accuracy'"),
    ("colour: blue\n", "field 'colour' is not a known field"),
    ("approvals:\n  - {stage: deployment, count: 0}\n", "field 'approvals[0].count'"),
    ("required_evidence:\n  trainingg: [gx-validation]\n", "field 'required_evidence.trainingg'"),
    ("min_completeness: 120\n", "field 'min_completeness'"),
    ("licenses: {deny: CC-BY-NC-4.0}\n", "field 'licenses.deny'"),
    ("a: [1\n", "invalid YAML at line"),
    ("- just a list\n", "field '$'"),
])
def test_malformed_policy_names_file_and_field(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_policy(path)
    assert str(path) in err.value.message and needle in err.value.message


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_policy(tmp_path / "nope.yaml")


def test_default_policy_and_verify(bundle_path: Path, keys: Keys, tmp_path: Path) -> None:
    pol = default_policy()
    assert pol.name == "complete-record" and len(pol.required_stages) == 10
    report = verify_bundle(bundle_path, [load_public_key(keys.pub)], policy=pol)
    failed = {c.id for c in report.failed}
    assert failed == {"policy.required-stages", "policy.required-evidence"}
    assert all(c.member is None for c in report.checks if c.id.startswith("policy."))
    path = tmp_path / "p.yaml"
    path.write_text("name: gate\nrequired_stages: [training, deployment]\n"
                    "metrics: {accuracy: '>= 0.9'}\nmeets_success_criteria: true\n"
                    "licenses: {deny: ['CC-BY-NC-*']}\nmax_age_days: 3650\n")
    now = datetime.now(UTC)
    report = verify_bundle(bundle_path, [load_public_key(keys.pub)], policy=load_policy(path),
                           now=now)
    assert report.ok, [c.message for c in report.failed]
    assert report.policy == "gate"


def test_policy_schema_file_matches(tmp_path: Path) -> None:
    import json

    from aitrace.schemas import repo_schema_dir
    from aitrace.verify.policy import policy_schema

    assert json.loads((repo_schema_dir() / "policy.schema.json").read_text()) == policy_schema()
