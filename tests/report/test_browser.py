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
               "--approver-key", str(pipeline.reviewer_pub), "--no-policy", "-o", str(out)])
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


# --------------------------------------------------------------------------- honest pages

# The report's banner backgrounds (report/html/css.py: --ok-soft, --warn-soft, --bad-soft).
BANNER = {"ok": (0xE3, 0xF4, 0xEA), "warn": (0xFF, 0xF4, 0xDC), "bad": (0xFD, 0xEC, 0xEA)}
PAGE_BG = (0xF5, 0xF7, 0xFA)


def _screenshot(tmp: Path, page: Path, width: int, height: int) -> Path:
    png = tmp / f"{page.stem}-{width}.png"
    proc = _run(tmp, f"--screenshot={png}", f"--window-size={width},{height}", page.as_uri())
    assert proc.returncode == 0 and png.is_file(), proc.stderr[-2000:]
    return png


def _banner_tone(png: Path) -> str | None:
    from PIL import Image

    with Image.open(png) as im:
        rgb = im.convert("RGB")
        seen = {rgb.getpixel((1100, y)) for y in range(80, 400, 2)}
    tones = [tone for tone, colour in BANNER.items() if colour in seen]
    return tones[0] if len(tones) == 1 else None


@pytest.fixture(scope="module")
def long_values(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report whose parameters hold 64-hex digests and long URIs (they used to overflow)."""
    import aitrace
    from aitrace.bundle.write import build_bundle
    from aitrace.signing.keys import generate_keypair, load_signer
    from tests.helpers.bundle import new_workspace

    tmp = tmp_path_factory.mktemp("long")
    ws = new_workspace(tmp / "p")
    key, pub = generate_keypair(tmp / "keys" / "k")
    with aitrace.stage("training", workspace=ws, sbom=False) as step:
        step.log_params({"gx.wine_raw.data_sha256": "ab" * 32, "gx.wine_raw.suite_sha256":
                         "cd" * 32, "source": "https://example.org/" + "very-long-path/" * 12})
        step.log_metrics({"gx.wine_raw.failed_expectations_after_the_cleaning_pass": 0.0})
    build_bundle(ws, [load_signer(key)], tmp / "b.aitrace")
    out = tmp / "long.html"
    assert main(["report", str(tmp / "b.aitrace"), "--key", str(pub), "--no-policy",
                 "-o", str(out)]) == 0
    return out


def test_long_values_stay_inside_the_page(long_values: Path, tmp_path: Path) -> None:
    """At 1600 px the page's column is as wide as at 1280 px (max-width), so anything that
    overflows it paints into the margin: the margin must stay page background."""
    from PIL import Image

    png = _screenshot(tmp_path, long_values, 1600, 5000)
    with Image.open(png) as im:
        rgb = im.convert("RGB")
        right = (1600 + 1160) // 2 + 4  # main is 1160 px wide and centred
        stray = {rgb.getpixel((x, y)) for x in range(right, 1600, 7) for y in range(0, 5000, 11)}
    assert stray == {PAGE_BG}, f"content overflows the page: {sorted(stray)[:5]}"


@pytest.fixture(scope="module")
def three_reports(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory,
                  ) -> dict[str, Path]:
    """The pipeline's report as trusted (no policy), policy-failed and tampered."""
    from tests.helpers.bundle import flip, read_members, write_members

    tmp = tmp_path_factory.mktemp("three")
    keys = ["--key", str(pipeline.release_pub), "--approver-key", str(pipeline.reviewer_pub)]
    members = read_members(pipeline.bundle_a)
    name = next(n for n, d in members.items() if b'"stage":"collection"' in d
                and n.startswith("steps/"))
    members[name] = flip(members[name], members[name].index(b'"collection"') + 3)
    tampered = write_members(tmp / "tampered.aitrace", members)
    out = {"trusted": tmp / "trusted.html", "policy-failed": tmp / "policy-failed.html",
           "tampered": tmp / "tampered.html"}
    assert main(["report", str(pipeline.bundle_a), *keys, "--no-policy",
                 "-o", str(out["trusted"])]) == 0
    assert main(["report", str(pipeline.bundle_a), *keys, "-o", str(out["policy-failed"])]) == 1
    assert main(["report", str(tampered), *keys, "-o", str(out["tampered"])]) == 1
    return out


@pytest.mark.parametrize(("which", "tone"), [("trusted", "ok"), ("policy-failed", "warn"),
                                             ("tampered", "bad")])
def test_the_banner_reads_right_at_1280(three_reports: dict[str, Path], tmp_path: Path,
                                        which: str, tone: str) -> None:
    png = _screenshot(tmp_path, three_reports[which], 1280, 1400)
    assert _banner_tone(png) == tone
    dom = _run(tmp_path, "--dump-dom", three_reports[which].as_uri()).stdout
    if which == "tampered":
        assert "could not be read" in dom and "NOT TRUSTED" in dom
    if which == "policy-failed":
        assert "TRUSTED, BUT THE POLICY FAILED" in dom and ">untrusted<" not in dom
    assert "<script" not in dom.lower()
