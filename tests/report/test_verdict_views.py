"""Views that agree with themselves: one verdict, three answers, the same in every rendering.

``verify`` (text and JSON), ``inspect`` (text and JSON) and ``report`` (HTML and JSON) run the
same checks and print the same three answers — integrity and signature, record completeness,
policy — with the same counts; "untrusted" and "not verified" are said of integrity only.
"""

from __future__ import annotations

import html as html_mod
import json
import re
from pathlib import Path

import pytest

from aitrace.cli import main
from tests.helpers.bundle import flip, read_members, write_members
from tests.helpers.pipeline import Pipeline


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(argv)
    return rc, capsys.readouterr().out


def _answers_lines(text: str) -> list[str]:
    return [line for line in text.splitlines()
            if line.startswith(("Integrity and signature:", "Record completeness:", "Policy: "))]


def _keys(p: Pipeline) -> list[str]:
    return ["--key", str(p.release_pub), "--approver-key", str(p.reviewer_pub)]


def test_verify_inspect_and_report_agree(pipeline: Pipeline, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bundle = str(pipeline.bundle_b)  # its release is the dist/model.pkl on disk now
    art = ["--artifact", str(pipeline.root / "dist" / "model.pkl")]
    rc_v, verify_text = _run(capsys, ["verify", bundle, *_keys(pipeline), *art])
    rc_i, inspect_text = _run(capsys, ["inspect", bundle, *_keys(pipeline), *art])
    out = tmp_path / "r.html"
    rc_r, report_text = _run(capsys, ["report", bundle, *_keys(pipeline), *art, "-o", str(out)])
    assert rc_v == rc_i == rc_r == 1  # the test record is not complete: the policy fails
    lines = _answers_lines(verify_text)
    assert len(lines) == 3
    assert _answers_lines(inspect_text) == lines == _answers_lines(report_text)
    page = html_mod.unescape(out.read_text())
    for line in lines:
        assert line.split(":", 1)[1].strip() in page
    # the same checks, counted the same way everywhere
    count = re.search(r"\((\d+ checks: \d+ passed, \d+ failed, \d+ skipped)\)",
                      verify_text.splitlines()[-1])
    assert count is not None
    assert count.group(1) in inspect_text and count.group(1) in report_text
    assert count.group(1) in page
    _, v = _run(capsys, ["verify", bundle, *_keys(pipeline), *art, "--json"])
    _, i = _run(capsys, ["inspect", bundle, *_keys(pipeline), *art, "--json"])
    _, r = _run(capsys, ["report", bundle, *_keys(pipeline), *art, "-o", str(out), "--json"])
    answers = json.loads(v)["answers"]
    assert json.loads(i)["verification"]["answers"] == answers == json.loads(r)["answers"]
    assert answers["checks"]["total"] == len(json.loads(v)["checks"])


def test_a_failed_policy_says_nothing_about_trust(pipeline: Pipeline, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    bundle = str(pipeline.bundle_a)
    rc, text = _run(capsys, ["inspect", bundle, *_keys(pipeline)])
    assert rc == 1
    assert text.splitlines()[1].startswith("TRUSTED, BUT THE POLICY FAILED")
    assert "Integrity and signature: TRUSTED" in text and "Policy:                  FAILED" in text
    assert "not verified" not in text and "untrusted" not in text.lower()
    assert "Signers: release.pub (" in text and "signature verified" in text
    out = tmp_path / "r.html"
    _, doc = _run(capsys, ["report", bundle, *_keys(pipeline), "-o", str(out), "--json"])
    report = json.loads(doc)
    assert report["verified"] is True and report["ok"] is False
    assert report["answers"]["integrity"]["state"] == "trusted"
    assert report["answers"]["policy"]["state"] == "failed"
    page = out.read_text()
    banner = page[page.index('id="verification"'):page.index('<nav class="toc">')]
    assert "untrusted" not in banner.lower() and "investigation only" not in banner
    assert "exactly what the signer attested" in banner
    assert ">untrusted<" not in page and ">trusted<" in page
    assert "release.pub (" in page


def test_no_policy_is_named_for_what_it_is(pipeline: Pipeline,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    rc, text = _run(capsys, ["verify", str(pipeline.bundle_a), *_keys(pipeline), "--no-policy"])
    assert rc == 0
    assert "no policy was given" not in text
    assert "not evaluated: --no-policy checks integrity and signature only" in text
    assert "Policy:                  not evaluated — --no-policy" in text
    assert text.splitlines()[-1].startswith("VERIFIED: trusted (integrity and signature only")


@pytest.fixture
def tampered(pipeline: Pipeline, tmp_path: Path) -> Path:
    """The bundle with one byte of its collection step's stage id flipped."""
    members = read_members(pipeline.bundle_a)
    name = next(n for n, d in members.items()
                if n.startswith("steps/") and b'"stage":"collection"' in d)
    data = members[name]
    members[name] = flip(data, data.index(b'"collection"') + 3)
    (tmp_path / ".tampered").touch()
    return write_members(tmp_path / "tampered.aitrace", members)


def test_a_tampered_step_is_shown_where_it_was(pipeline: Pipeline, tampered: Path,
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    rc, text = _run(capsys, ["inspect", str(tampered), *_keys(pipeline), "--json"])
    assert rc == 1
    doc = json.loads(text)
    stages = {s["id"]: s for s in doc["stages"]}
    (bad,) = stages["collection"]["unreadable"]
    assert bad["member"].startswith("steps/") and bad["placed"] == "nearest"
    assert stages["collection"]["status"] == "failed"
    # No step is silently dropped: every member is a step or an unreadable step.
    n_members = sum(1 for n in read_members(tampered) if n.startswith("steps/"))
    shown = sum(len(s["steps"]) + len(s["unreadable"]) for s in doc["stages"])
    assert shown == n_members
    # The red mark is on the damaged step's stage, not on its intact neighbour.
    assert {st["trust"] for st in stages["cleaning"]["steps"]} == {"unverified"}
    answers = doc["verification"]["answers"]
    assert answers["integrity"]["state"] == "untrusted"
    assert answers["policy"]["state"] == "not judged"
    policy = [c for c in doc["verification"]["checks"] if c["id"].startswith("policy")]
    assert policy and {c["status"] for c in policy} == {"skipped"}
    assert all(c["message"].startswith("not judged") for c in policy)
    _, text = _run(capsys, ["inspect", str(tampered), *_keys(pipeline)])
    assert "probably collection) cannot be read [FAILED]" in text
    out = tmp_path / "t.html"
    main(["report", str(tampered), *_keys(pipeline), "-o", str(out)])
    page = html_mod.unescape(out.read_text())
    assert "is in the bundle but could not be read" in page and "1 unreadable" in page
    # chain.head names the step that differs instead of "lists 9 steps but holds 9"
    head = next(c for c in doc["verification"]["checks"] if c["id"] == "chain.head")
    assert "is not the step the signed predicate lists there" in head["message"]
    assert not re.search(r"lists (\d+) steps but the bundle holds \1\b", head["message"])
