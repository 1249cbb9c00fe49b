"""The HTML report rendered in a real headless Chromium: it paints, shows every key section and
logs no console error or CSP violation (it has no script and fetches nothing)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from aitrace.cli import main
from tests.helpers.pipeline import Pipeline

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--disable-extensions", "--mute-audio"]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("chromium is not installed but CI=true: the report must be checked in a "
                    "real browser (apt-get install -y chromium)")
    pytest.skip("chromium is not installed (apt-get install -y chromium)")


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "profile"
    return subprocess.run(
        [_chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "HOME": str(tmp)})


@pytest.fixture(scope="module")
def report(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    rc = main(["report", str(pipeline.bundle_a), "--key", str(pipeline.release_pub),
               "--key", str(pipeline.reviewer_pub), "--no-policy", "-o", str(out)])
    assert rc == 0
    return out


def test_screenshot_is_painted_without_console_errors(report: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    proc = _run(tmp_path, "--enable-logging=stderr", "--v=0", f"--screenshot={png}",
                "--window-size=1280,2000", report.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert png.is_file() and png.stat().st_size > 20_000
    from PIL import Image

    with Image.open(png) as im:
        assert im.size == (1280, 2000)
        gray = im.convert("L")
        lo, hi = gray.getextrema()
        assert hi - lo > 100, "the screenshot is blank"
        # plenty of ink: text, tables and the graph, not a near-empty page
        dark = sum(gray.histogram()[:160])
        assert dark > 0.01 * 1280 * 2000
    problems = [line for line in proc.stderr.splitlines()
                if re.search(r"Uncaught|Refused to|Content Security Policy|"
                             r"CONSOLE\(\d+\).*(error|Error)|net::ERR_", line)]
    assert not problems, problems


def test_dom_has_every_key_section(report: Path, tmp_path: Path) -> None:
    proc = _run(tmp_path, "--dump-dom", report.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert 'id="verification"' in dom and "VERIFIED: trusted" in dom
    assert re.search(r'<svg[^>]*class="lineage-graph"', dom)
    for stage in ("problem", "collection", "cleaning", "labeling", "selection", "design",
                  "training", "evaluation", "optimization", "deployment"):
        assert f'id="stage-{stage}"' in dom
    assert 'id="annex-iv"' in dom and "Not a compliance statement" in dom
    assert 'id="completeness"' in dom and "Risk register" in dom and "Self-check table" in dom
    assert "<script" not in dom.lower()
