"""The "After deployment" section: timeline, rates, feedback, drift, freshness; Annex IV row 8."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from aitrace.report.annex import annex_iv_map
from aitrace.report.audit import audit_bundle
from aitrace.report.render import render_report
from aitrace.report.view import view_json
from tests.helpers.monitoring import Monitored
from tests.helpers.pipeline import Pipeline

POLICY = "monitoring: {max_age_days: 30, require: [traces, review], min_review_correct: 0.9}\n"


def _policy(tmp_path: Path) -> Path:
    path = tmp_path / "fresh.yaml"
    path.write_text(POLICY)
    return path


def test_the_view_holds_the_monitoring_timeline(monitored: Monitored, tmp_path: Path) -> None:
    m = monitored.released
    view = audit_bundle(monitored.v2, key_paths=[m.release_pub],
                        approver_key_paths=[m.reviewer_pub],
                        policy_path=_policy(tmp_path))
    mon = view.monitoring
    assert mon is not None and mon["release"]["step"] == 2 and mon["steps"] == 5
    assert [e["kind"] for e in mon["events"]] == ["traces", "review", "feedback", "feedback",
                                                  "drift"]
    (traces,) = mon["traces"]
    assert traces["traces"] == 10 and traces["sampled"] == 8 and traces["kept_text"]
    (review,) = mon["reviews"]
    assert review["signature_ok"] and review["correct_rate"] == 1.0
    assert mon["feedback"]["entries"] == 2 and mon["feedback"]["open_high"] == 0
    assert mon["drift"][0]["success"] is True
    assert {c["status"] for c in mon["freshness"]} == {"passed"}
    assert [st.id for st in view.stages][-1] == "deployment"
    assert [st.id for st in view.post_deployment] == ["monitoring"]
    doc = view_json(view)
    assert doc["post_deployment"][0]["status"] == "recorded" and doc["monitoring"] == mon
    assert "prompt" not in str(mon) and "jane" not in str(doc)


def test_without_the_reviewer_key_the_review_is_shown_unverified(monitored: Monitored) -> None:
    view = audit_bundle(monitored.v2, key_paths=[monitored.released.release_pub])
    assert view.monitoring is not None
    (review,) = view.monitoring["reviews"]
    assert not review["signature_ok"] and "no key given" in review["signature"]


def test_stale_freshness_shows_in_the_page(monitored: Monitored, tmp_path: Path) -> None:
    m = monitored.released
    view = audit_bundle(monitored.v2, key_paths=[m.release_pub],
                        approver_key_paths=[m.reviewer_pub],
                        policy_path=_policy(tmp_path), now=monitored.done_at + timedelta(40))
    page = render_report(view, generated_at="now")
    section = page[page.index('id="monitoring"'):page.index('id="governance"')]
    assert "Freshness against the policy" in section and 'pill bad">failed' in section
    assert "40.0 days before" in section


def test_annex_iv_post_market_monitoring_is_fed_by_the_record(monitored: Monitored,
                                                              pipeline: Pipeline) -> None:
    view = audit_bundle(monitored.v2, key_paths=[monitored.released.release_pub],
                        approver_key_paths=[monitored.released.reviewer_pub])
    row = annex_iv_map(view)[7]
    assert row["heading"] == "Post-market monitoring" and row["status"] == "partial"
    assert any("trace sample" in e for e in row["evidence"])
    assert any("human review" in e for e in row["evidence"])
    assert any("user feedback" in e for e in row["evidence"])
    assert any("drift" in e for e in row["evidence"])
    assert row["missing"] == ["a post-market monitoring plan (attach a 'document' evidence "
                              "named 'post-market monitoring plan')"]
    before = audit_bundle(pipeline.bundle_a, key_paths=[pipeline.release_pub])
    assert before.monitoring is None
    assert annex_iv_map(before)[7]["status"] == "missing"
    assert "Nothing is recorded after deployment" in render_report(before, generated_at="x")
