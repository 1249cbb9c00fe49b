"""Nothing bad enters the record: digests are normalised or refused where they are given, and
what verify would refuse later is refused or warned about while recording."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import aitrace
from aitrace.cli import main
from aitrace.errors import InputError
from aitrace.store.workspace import Workspace

HEX = "c0ffee" + "0" * 58
PY = sys.executable


@pytest.mark.parametrize("given", [f"sha256:{HEX}", HEX.upper()])
def test_cli_source_digest_is_normalised(workspace: Workspace, given: str) -> None:
    rc = main(["run", "--stage", "collection", "--source",
               f"https://example.org/raw.csv,sha256={given}", "--", "true"])
    assert rc == 0
    (step,) = workspace.steps()  # the chain still reads
    assert step.materials[0].sha256 == HEX
    assert main(["status"]) == 0


@pytest.mark.parametrize("given", ["ab" * 8, "xyz", HEX + "00"])
def test_cli_source_bad_digest_exits_2_and_writes_nothing(
        workspace: Workspace, given: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["run", "--stage", "collection", "--source",
               f"https://example.org/raw.csv,sha256={given}", "--", "true"])
    assert rc == 2
    assert "is not a SHA-256 digest" in capsys.readouterr().err
    assert workspace.chain().steps == () and workspace.pending() == []
    assert main(["status"]) == 0


def test_python_input_digest_is_normalised_or_refused(workspace: Workspace) -> None:
    with aitrace.stage("collection", workspace=workspace) as step:
        step.input("https://example.org/a.csv", origin="example", sha256=f"SHA256:{HEX}")
    assert workspace.steps()[0].materials[0].sha256 == HEX
    with pytest.raises(InputError, match="not a SHA-256"), \
            aitrace.stage("collection", workspace=workspace) as step:
        step.input("https://example.org/b.csv", origin="example", sha256="xyz")
    # The refusal is the step's failure; the chain is intact and the next append works.
    steps = workspace.steps()
    assert [s.status for s in steps] == ["succeeded", "failed"]
    assert steps[1].materials == ()


def test_child_input_digest_is_normalised_or_refused(workspace: Workspace,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    code = textwrap.dedent(f"""
        import aitrace
        step = aitrace.current_step()
        step.input("https://example.org/a.csv", origin="example", sha256="sha256:{HEX.upper()}")
        try:
            step.input("https://example.org/b.csv", origin="example", sha256="12ab")
        except aitrace.errors.InputError as exc:
            print("refused:", exc.message)
        """)
    assert main(["run", "--stage", "collection", "--", PY, "-c", code]) == 0
    assert "refused: input(sha256=...): '12ab' is not a SHA-256" in capfd.readouterr().out
    (step,) = workspace.steps()
    assert [(m.path, m.sha256) for m in step.materials] == [("https://example.org/a.csv", HEX)]


def test_source_outside_the_source_stages_is_refused(workspace: Workspace,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    Path("base.bin").write_bytes(b"x")
    assert main(["run", "--stage", "training", "--source", "base.bin", "--", "true"]) == 2
    err = capsys.readouterr().err
    assert "--source at stage 'training'" in err and "collection" in err
    assert workspace.chain().steps == ()
    assert main(["run", "--stage", "selection", "--source", "base.bin", "--", "true"]) == 0


def test_python_origin_outside_the_source_stages_warns(workspace: Workspace,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with aitrace.stage("training", workspace=workspace) as step:
        step.input("https://example.org/extra.csv", origin="example")
        step.input("https://example.org/train.py", origin="git", role="code")
    err = capsys.readouterr().err
    assert "extra.csv: an external source (origin) declared at stage 'training'" in err
    assert "train.py" not in err


def test_check_on_a_file_that_is_not_an_input_warns(workspace: Workspace,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    Path("other.csv").write_text("a\n1\n")
    with aitrace.stage("cleaning", workspace=workspace) as step:
        step.attach("gx-validation", {"success": True, "results": []},
                    media_type="application/json", subject="other.csv")
    err = capsys.readouterr().err
    assert "gx-validation evidence about other.csv" in err and "is not bound" in err
    with aitrace.stage("cleaning", workspace=workspace, inputs=["other.csv"]) as step:
        step.attach("gx-validation", {"success": True, "results": []},
                    media_type="application/json", subject="other.csv")
    assert "is not bound" not in capsys.readouterr().err


def test_untouched_declared_output_is_flagged(workspace: Workspace,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    Path("data").mkdir()
    Path("data/raw.csv").write_text("a\n1\n")
    assert main(["run", "--stage", "collection", "-o", "data/raw.csv", "--", "true"]) == 0
    err = capsys.readouterr().err
    assert "not written by this step" in err and "data/raw.csv" in err
    code = "open('data/raw.csv', 'w').write('a\\n2\\n')"
    assert main(["run", "--stage", "collection", "-o", "data/raw.csv", "--", PY, "-c", code]) == 0
    assert "not written by this step" not in capsys.readouterr().err
    # A directory whose files are untouched is flagged too; one that gained a file is not.
    Path("out").mkdir()
    Path("out/a.txt").write_text("a")
    assert main(["run", "--stage", "cleaning", "-o", "out", "--", "true"]) == 0
    assert "not written by this step" in capsys.readouterr().err
    code = "open('out/b.txt', 'w').write('b')"
    assert main(["run", "--stage", "cleaning", "-o", "out", "--", PY, "-c", code]) == 0
    assert "not written by this step" not in capsys.readouterr().err


def _traceback_of(script: str, cwd: Path) -> str:
    env = {"PYTHONPATH": ":".join(sys.path), "PATH": "/usr/bin:/bin",
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.run([PY, "-c", script], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 1
    return proc.stderr


@pytest.mark.parametrize(("script", "message"), [
    ("import aitrace\nwith aitrace.stage('training', inputs=['missing.csv']):\n    pass\n",
     "InputError: input not found: missing.csv"),
    ("import aitrace\nwith aitrace.stage('training') as s:\n"
     "    s.input('https://x.org/a', origin='x', sha256='nothex')\n",
     "InputError: https://x.org/a: sha256: 'nothex' is not a SHA-256 digest"),
    ("import aitrace\naitrace.stage('trainig')\n", "InputError: unknown stage 'trainig'"),
])
def test_hook_errors_come_from_the_users_frame_with_the_hint(
        workspace: Workspace, script: str, message: str) -> None:
    err = _traceback_of(script, workspace.root)
    frames = [line for line in err.splitlines() if line.startswith("  File ")]
    assert len(frames) <= 2, err
    assert frames[0].startswith('  File "<string>"'), err
    assert message in err and "  hint: " in err


def test_no_workspace_error_from_the_users_frame(tmp_path: Path) -> None:
    err = _traceback_of("import aitrace\nwith aitrace.stage('training'):\n    pass\n", tmp_path)
    assert "WorkspaceError: no aitrace workspace" in err and "aitrace init" in err
    assert len([x for x in err.splitlines() if x.startswith("  File ")]) <= 2, err
