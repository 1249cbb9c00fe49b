"""Terminal escape injection: no value from a record or a bundle reaches the terminal raw.

A hostile step input path (``ESC[2J ESC[H`` + a green fake verdict), a hostile record name
(an OSC window-title sequence) and a hostile actor go through every command that prints them:
``verify`` (inside the custody message), ``diff`` with and without ``--key``, ``status``,
``log``, ``show``, ``inspect``, ``bundle``, errors, and ``--json``. None may print ESC, BEL, a
C1 control or a bidi override; each shows the escape visibly instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import aitrace
from aitrace.bundle.write import build_bundle
from aitrace.cli import main
from aitrace.signing.keys import load_signer
from tests.helpers.bundle import Keys, new_workspace, record_pipeline

FAKE = "\x1b[2J\x1b[H\x1b[32mVerified: all 23 checks passed\x1b[0m"
TITLE = "\x1b]0;all good\x07"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def _assert_inert(text: str) -> None:
    for ch in RAW:
        assert ch not in text, (ch, text[:400])


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> tuple[Path, Path]:
    """A project whose record name, an input path and a param hold escapes; and its bundle."""
    root = tmp_path_factory.mktemp("hostile") / "project"
    ws = new_workspace(root, name=f"model{TITLE}\u202eevil")
    record_pipeline(ws)
    planted = root / "data" / f"x{FAKE}.csv"
    planted.write_text("a\n1\n")
    with aitrace.stage("training", workspace=ws, inputs=[planted], sbom=False) as s:
        s.log_params({"note": f"lr\n{FAKE}\x9b31m"})
    out = root.parent / "hostile.aitrace"
    build_bundle(ws, [load_signer(keys.key)], out)
    return root, out


def test_the_neutraliser_escapes_visibly_and_keeps_one_line() -> None:
    from aitrace.report.terminal import json_safe, terminal_safe

    assert terminal_safe(FAKE) == ("\\x1b[2J\\x1b[H\\x1b[32mVerified: all 23 checks passed"
                                   "\\x1b[0m")
    assert terminal_safe("a\nb\tc\r\x00\x7f\x9b\u202e\u2028\ufeff\udcff") == (
        "a\\nb\\tc\\r\\x00\\x7f\\x9b\\u202e\\u2028\\ufeff\\udcff")
    assert terminal_safe("plain ünïcode 模型 ✓") == "plain ünïcode 模型 ✓"
    doc = json.dumps({"k": "a\x9bb\u202ec\x1b"}, ensure_ascii=False)
    assert json.loads(json_safe(doc)) == {"k": "a\x9bb\u202ec\x1b"}
    _assert_inert(json_safe(doc))


def test_verify_prints_the_custody_gap_inert(hostile: tuple[Path, Path], keys: Keys,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _root, bundle = hostile
    assert main(["verify", str(bundle), "--key", str(keys.pub), "--no-policy"]) == 1
    out = capsys.readouterr().out
    _assert_inert(out)
    assert "\\x1b[32mVerified: all 23 checks passed" in out
    assert out.strip().splitlines()[-1].startswith("TRUSTED, BUT THE RECORD IS INCOMPLETE")


@pytest.mark.parametrize("with_key", [False, True])
def test_diff_prints_values_inert(hostile: tuple[Path, Path], bundle_path: Path, keys: Keys,
                                  capsys: pytest.CaptureFixture[str], with_key: bool) -> None:
    _root, bundle = hostile
    args = ["diff", str(bundle_path), str(bundle)] + (["--key", str(keys.pub)]
                                                      if with_key else [])
    main(args)
    out = capsys.readouterr().out
    _assert_inert(out)
    assert "x\\x1b[2J" in out


def test_diff_json_escapes_c1_and_bidi(hostile: tuple[Path, Path], bundle_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    _root, bundle = hostile
    main(["diff", str(bundle_path), str(bundle), "--json"])
    out = capsys.readouterr().out
    _assert_inert(out)
    params = json.loads(out)["params"]
    assert any("\x9b" in str(p["new"]) for p in params)  # the data itself is unchanged


def test_status_log_show_print_values_inert(hostile: tuple[Path, Path],
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    root, _bundle = hostile
    monkeypatch.chdir(root)
    main(["status"])
    out = capsys.readouterr().out
    _assert_inert(out)
    assert "\\x1b]0;all good\\x07" in out
    main(["log"])
    _assert_inert(capsys.readouterr().out)
    main(["show", "7"])
    out = capsys.readouterr().out
    _assert_inert(out)
    assert "lr\\n\\x1b[2J" in out
    main(["show", "7", "--json"])
    _assert_inert(capsys.readouterr().out)


def test_a_hostile_actor_is_inert_in_log(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ws = new_workspace(tmp_path / "p")
    monkeypatch.chdir(ws.root)
    monkeypatch.setenv("LOGNAME", f"eve{TITLE}\x9b2J")
    with aitrace.stage("problem", workspace=ws, sbom=False):
        pass
    main(["log"])
    main(["show", "1"])
    _assert_inert(capsys.readouterr().out)


def test_inspect_and_bundle_output_are_inert(hostile: tuple[Path, Path], keys: Keys,
                                             tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    root, bundle = hostile
    main(["inspect", str(bundle), "--key", str(keys.pub)])
    _assert_inert(capsys.readouterr().out)
    monkeypatch.chdir(root)
    assert main(["bundle", "--key", str(keys.key), "-o", str(tmp_path / "b.aitrace")]) == 0
    _assert_inert(capsys.readouterr().out)


def test_error_messages_are_inert(hostile: tuple[Path, Path],
                                  capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root, _bundle = hostile
    monkeypatch.chdir(root)
    assert main(["show", f"nope{FAKE}"]) == 2
    err = capsys.readouterr().err
    _assert_inert(err)
    assert "nope\\x1b[2J" in err
