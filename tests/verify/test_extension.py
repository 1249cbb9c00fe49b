"""``verify NEW --previous OLD``: a release that extends a release, and what does not."""

from __future__ import annotations

import shutil
from pathlib import Path

import aitrace
from aitrace.bundle.write import build_bundle
from aitrace.signing.keys import load_public_key, load_signer
from aitrace.store.workspace import Workspace
from aitrace.verify.checks import VerifyReport
from aitrace.verify.extension import verify_extension
from tests.helpers.bundle import read_members, write_members
from tests.helpers.monitoring import Monitored


def _checks(report: VerifyReport) -> dict[str, tuple[str, str]]:
    return {c.id: (c.status, c.message) for c in report.checks if c.id.startswith("previous.")}


def _keys(m: Monitored) -> list[object]:
    return [load_public_key(m.released.release_pub)]


def test_the_monitored_bundle_extends_the_release(monitored: Monitored) -> None:
    report = verify_extension(monitored.v2, monitored.v1, _keys(monitored))  # type: ignore[arg-type]
    checks = _checks(report)
    assert report.ok, checks
    assert set(checks) == {"previous.verified", "previous.same-record", "previous.extends",
                           "previous.approvals"}
    assert "is an ancestor; 5 step(s) added (steps 3–7: monitoring ×5)" in \
        checks["previous.extends"][1]


def test_another_records_bundle_is_refused(monitored: Monitored) -> None:
    report = verify_extension(monitored.v2, monitored.other, _keys(monitored))  # type: ignore[arg-type]
    checks = _checks(report)
    assert not report.ok
    assert checks["previous.verified"][0] == "passed"  # a genuine bundle, just not ours
    status, message = checks["previous.same-record"]
    assert status == "failed" and "not an earlier release of this model" in message
    assert checks["previous.extends"][0] == "failed"


def test_an_older_bundle_does_not_extend_a_newer_one(monitored: Monitored) -> None:
    report = verify_extension(monitored.v1, monitored.v2, _keys(monitored))  # type: ignore[arg-type]
    status, message = _checks(report)["previous.extends"]
    assert status == "failed" and "fewer than the 7" in message


def test_a_diverged_history_fails_at_the_first_different_step(monitored: Monitored,
                                                              tmp_path: Path) -> None:
    # A copy of the workspace as it was at release, continued differently: same record id.
    copy = tmp_path / "fork"
    shutil.copytree(monitored.released.ws.root, copy)
    ws = Workspace(copy)
    steps = ws.steps()
    for f in sorted((copy / ".aitrace" / "steps").iterdir())[2:]:
        f.unlink()
    assert len(ws.steps()) == 2 < len(steps)
    with aitrace.stage("monitoring", workspace=ws) as step:
        step.log_metrics({"something_else": 1.0})
    forked = tmp_path / "fork.aitrace"
    build_bundle(ws, [load_signer(monitored.released.release_key)], forked)
    report = verify_extension(forked, monitored.v2, _keys(monitored))  # type: ignore[arg-type]
    status, message = _checks(report)["previous.extends"]
    assert status == "failed" and message.startswith("this bundle has 3 steps, fewer")
    report = verify_extension(monitored.v2, forked, _keys(monitored))  # type: ignore[arg-type]
    status, message = _checks(report)["previous.extends"]
    assert status == "failed" and message.startswith("the histories diverge at step 3")
    assert _checks(report)["previous.same-record"][0] == "passed"


def test_a_previous_bundle_that_does_not_verify_is_reported(monitored: Monitored,
                                                            tmp_path: Path) -> None:
    members = read_members(monitored.v1)
    name = "steps/000001.json"
    members[name] = members[name].replace(b'"actor"', b'"actor" ', 1)  # edited after signing
    broken = write_members(tmp_path / "broken.aitrace", members)
    report = verify_extension(monitored.v2, broken, _keys(monitored))  # type: ignore[arg-type]
    status, message = _checks(report)["previous.verified"]
    assert status == "failed" and "does not verify" in message
