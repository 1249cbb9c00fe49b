"""Freshness: the policy's monitoring section, judged as of now or ``verify --at``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from aitrace.errors import InputError
from aitrace.record.times import parse_utc
from aitrace.signing.keys import load_public_key
from aitrace.verify.bundle import verify_bundle
from aitrace.verify.checks import VerifyReport
from aitrace.verify.policy import parse_policy
from tests.helpers.monitoring import Monitored

SECTION = {"max_age_days": 30, "require": ["traces", "review", "feedback", "gx-validation"],
           "min_review_correct": 0.9, "max_open_high_feedback": 0,
           "meets_success_criteria": True}


def _verify(m: Monitored, section: dict[str, Any], *, bundle: str = "v2", reviewer: bool = True,
            days: float = 0) -> VerifyReport:
    keys = [load_public_key(m.released.release_pub)]
    approvers = [load_public_key(m.released.reviewer_pub)] if reviewer else []
    policy = parse_policy({"name": "fresh", "monitoring": section}, "test")
    return verify_bundle(getattr(m, bundle), keys, policy=policy, approver_keys=approvers,
                         now=m.done_at + timedelta(days=days))


def _monitoring(report: VerifyReport) -> list[tuple[str, str, str]]:
    return [(c.id, c.status, c.message) for c in report.checks
            if c.id.startswith("policy.monitoring")]


def test_fresh_now(monitored: Monitored) -> None:
    report = _verify(monitored, SECTION)
    checks = _monitoring(report)
    assert report.ok, [c for c in checks if c[1] != "passed"]
    assert {c[0] for c in checks} == {"policy.monitoring.fresh", "policy.monitoring.review",
                                     "policy.monitoring.feedback",
                                     "policy.monitoring.success-criteria"}
    assert len([c for c in checks if c[0] == "policy.monitoring.fresh"]) == 4
    assert any("100% correct" in c[2] for c in checks)
    assert any(c[2].startswith("0 open high-severity of 2 feedback entries") for c in checks)


def test_stale_forty_days_later(monitored: Monitored) -> None:
    report = _verify(monitored, SECTION, days=40)
    assert not report.ok
    stale = [c for c in _monitoring(report) if c[1] == "failed"]
    assert {c[0] for c in stale} == {"policy.monitoring.fresh"}
    kinds = sorted(c[2].split(":")[0] for c in stale)
    assert kinds == ["gx-validation", "output-review", "trace-sample", "user-feedback"]
    assert all("40.0 days before" in c[2] and "(at most 30)" in c[2] for c in stale)


def test_as_of_an_instant_before_monitoring_nothing_counts(monitored: Monitored) -> None:
    steps = monitored.released.ws.steps()
    began = parse_utc(steps[2].started_at)  # the traces step had started, not ended
    assert began is not None
    days = (began - monitored.done_at).total_seconds() / 86400
    report = _verify(monitored, {"require": ["traces"]}, days=days)
    (fresh,) = [c for c in _monitoring(report) if c[0] == "policy.monitoring.fresh"]
    assert fresh[1] == "failed"
    assert fresh[2].startswith("no trace-sample recorded after the release (step 2, deployment)")
    before_release = _verify(monitored, {"require": ["traces"]}, days=-30)
    assert "no trace-sample recorded in the record by" in _monitoring(before_release)[0][2]


def test_a_review_counts_only_when_its_signature_is_trusted(monitored: Monitored) -> None:
    report = _verify(monitored, {"require": ["review"], "min_review_correct": 0.5},
                     reviewer=False)
    failed = dict((c[0], c[2]) for c in _monitoring(report) if c[1] == "failed")
    assert "not by a trusted key" in failed["policy.monitoring.fresh"]
    assert failed["policy.monitoring.review"].startswith("no trusted output review")


def test_review_rates_and_open_feedback_have_thresholds(monitored: Monitored) -> None:
    report = _verify(monitored, {"min_review_appropriate": 1.0, "max_open_high_feedback": 0})
    assert report.ok
    v1 = _verify(monitored, {"max_open_high_feedback": 0, "require": ["feedback"]}, bundle="v1")
    failed = [c for c in _monitoring(v1) if c[1] == "failed"]
    assert [c[0] for c in failed] == ["policy.monitoring.fresh"]  # v1: nothing after release


def test_the_default_policy_has_no_monitoring_section(monitored: Monitored) -> None:
    keys = [load_public_key(monitored.released.release_pub)]
    report = verify_bundle(monitored.v2, keys, policy=None)
    assert report.ok and not _monitoring(report)
    assert any(c.id == "evidence.monitoring" and c.status == "passed" for c in report.checks)


@pytest.mark.parametrize(("section", "field"), [
    ({"max_age_days": 0}, "monitoring.max_age_days"),
    ({"min_review_correct": 1.5}, "monitoring.min_review_correct"),
    ({"max_open_high_feedback": -1}, "monitoring.max_open_high_feedback"),
    ({"require": ["Traces!"]}, r"monitoring.require\[0\]"),
    ({"freshness": 1}, "monitoring.freshness"),
])
def test_a_bad_section_names_the_field(section: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError, match=field):
        parse_policy({"monitoring": section}, "policy.yaml")
