"""inspect and report over real bundles: verdict first, trust labels, escaping, JSON shape."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aitrace.cli import main
from tests.helpers.pipeline import INJECTION, Pipeline

STAGES = ["problem", "collection", "cleaning", "labeling", "selection", "design", "training",
          "evaluation", "optimization", "deployment"]


def _inspect(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    rc = main(["inspect", *args, "--no-policy", "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_inspect_json_shape(pipeline: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc = _inspect(capsys, str(pipeline.bundle_a), "--key", str(pipeline.release_pub),
                       "--approver-key", str(pipeline.reviewer_pub))
    assert rc == 0
    assert doc["format"] == "aitrace.inspect/v1"
    assert set(doc) >= {"bundle", "verification", "record", "model", "signers", "stages",
                        "approvals", "licences", "completeness"}
    v = doc["verification"]
    assert v["ok"] is True and v["performed"] is True and v["failed"] == []
    assert [s["id"] for s in doc["stages"]] == STAGES
    by_id = {s["id"]: s for s in doc["stages"]}
    assert by_id["labeling"]["status"] == "missing" and by_id["labeling"]["steps"] == []
    assert len(by_id["problem"]["steps"]) == 3
    step = by_id["collection"]["steps"][0]
    assert step["trust"] == "verified"
    assert "GX FAIL 2/3" in step["badges"]
    assert step["inputs"][0]["license"] == "CC-BY-4.0" and len(step["inputs"][0]["short"]) == 12
    deploy = by_id["deployment"]["steps"][0]
    assert "SBOM" in deploy["badges"]
    assert any(b.startswith("Approved by Quality Reviewer") for b in deploy["badges"])
    assert doc["signers"] and doc["signers"][0]["verified"] is True
    assert isinstance(doc["completeness"]["score"], int)
    assert any(x["license"] == "CC-BY-4.0" for x in doc["licences"])
    assert doc["approvals"][0]["ok"] is True


def test_inspect_without_key_trusts_nothing(pipeline: Pipeline,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc = _inspect(capsys, str(pipeline.bundle_a))
    assert rc == 1
    assert doc["verification"]["ok"] is False
    assert doc["verification"]["headline"].startswith("NOT VERIFIED")
    trusts = {s["trust"] for st in doc["stages"] for s in st["steps"]}
    assert trusts == {"unverified"}


def test_wrong_key_marks_content_untrusted(pipeline: Pipeline, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["inspect", str(pipeline.bundle_a), "--key", str(pipeline.reviewer_pub)])
    out = capsys.readouterr().out
    assert rc == 1
    assert out.splitlines()[1].startswith("NOT TRUSTED")
    assert "[untrusted]" in out and "Failed checks" in out
    html = tmp_path / "r.html"
    assert main(["report", str(pipeline.bundle_a), "--key", str(pipeline.reviewer_pub),
                 "-o", str(html)]) == 1
    page = html.read_text()
    assert '<div class="banner bad"' in page and "NOT TRUSTED" in page
    assert ">trusted<" not in page  # no pill claims trust


def test_report_escapes_untrusted_text(pipeline: Pipeline, tmp_path: Path) -> None:
    html = tmp_path / "r.html"
    assert main(["report", str(pipeline.bundle_a), "--key", str(pipeline.release_pub),
                 "--no-policy", "-o", str(html)]) == 0
    page = html.read_text()
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert page.count("onerror") == page.count("&lt;img src=x onerror=alert(1)&gt;") > 0
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page
    assert INJECTION not in page
    assert re.search(r'<meta http-equiv="Content-Security-Policy" content="default-src '
                     r"&#x27;none&#x27;; style-src &#x27;unsafe-inline&#x27;; img-src data:\">",
                     page)
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    # GX: expectations and observed values, never raw rows
    assert "expect_column_values_to_not_match_regex" in page and "178" in page
    assert "ROW-SECRET" not in page


def test_inspect_text_neutralises_terminal_escapes() -> None:
    from aitrace.report.text import clean

    assert clean("a\x1b[2Jb\u202ec\nd") == "a\\x1b[2Jb\\u202ec\\nd"


def test_a_failed_policy_is_not_tampering(pipeline: Pipeline,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """By default the views apply the 'complete record' policy, as `aitrace verify` does.

    The test pipeline is not a complete record: the verdict fails (exit 1), but the content is
    still shown as what the signer attested, not as untrusted.
    """
    rc = main(["inspect", str(pipeline.bundle_a), "--key", str(pipeline.release_pub),
               "--approver-key", str(pipeline.reviewer_pub), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1
    v = doc["verification"]
    assert v["ok"] is False
    assert v["headline"].startswith("TRUSTED, BUT THE POLICY FAILED")
    failed = [c for c in v["checks"] if c["status"] == "failed"]
    assert failed and all(c["id"].startswith("policy.") for c in failed)
    trusts = {st["trust"] for s in doc["stages"] for st in s["steps"]}
    assert trusts == {"verified"}
