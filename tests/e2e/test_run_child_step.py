"""`aitrace.current_step()` inside the command of `aitrace run` reports to the parent's step."""

from __future__ import annotations

import hashlib
import sys
import textwrap
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.store.workspace import Workspace

PY = sys.executable

SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path

    import aitrace

    step = aitrace.current_step()
    assert step is not None and step.stage == "training", step
    Path("model.bin").write_bytes(b"weights")
    step.log_params({"depth": 3, "api_token_url": "https://u:pw-planted@host/x"})
    step.log_metrics({"accuracy": 0.91})
    step.output("model.bin", role="model")
    step.attach("note", {"text": "trained on a laptop"}, media_type="application/json",
                name="note", subject="model.bin")
    step.describe("fit a tiny model")
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
""")


def test_child_reports_land_in_the_step(workspace: Workspace) -> None:
    Path("train.py").write_text(SCRIPT)
    assert main(["run", "--stage", "training", "--", PY, "train.py"]) == 0
    (step,) = workspace.steps()
    assert step.status == "succeeded"
    assert step.params["depth"] == "3"
    assert "pw-planted" not in step.params["api_token_url"]
    assert step.metrics == {"accuracy": 0.91}
    assert step.description == "fit a tiny model"
    (product,) = step.products
    assert product.path == "model.bin" and product.role == "model"
    assert product.sha256 == hashlib.sha256(b"weights").hexdigest()
    note = next(e for e in step.evidence if e.kind == "note")
    assert note.bound is True and note.subject is not None
    assert workspace.read_object(note.sha256)
    assert not list((workspace.dir / "pending").iterdir())


def test_child_reports_are_kept_when_the_command_fails(workspace: Workspace) -> None:
    Path("train.py").write_text(SCRIPT)
    assert main(["run", "--stage", "training", "--", PY, "train.py", "4"]) == 4
    (step,) = workspace.steps()
    assert step.status == "failed" and step.metrics == {"accuracy": 0.91}


def test_a_damaged_report_line_is_skipped_with_a_warning(
        workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    script = ("import aitrace, os\n"
              "s = aitrace.current_step()\n"
              "s.log_metrics({'rows': 5})\n"
              "open(os.path.join(os.environ['AITRACE_WORKSPACE'], '.aitrace', 'pending',\n"
              "     s.id + '.child.jsonl'), 'a').write('{\"op\": \"metr')\n")
    assert main(["run", "--stage", "cleaning", "--", PY, "-c", script]) == 0
    (step,) = workspace.steps()
    assert step.metrics == {"rows": 5.0}
    assert "line 2 from the command was not recorded" in capsys.readouterr().err


def test_no_child_step_outside_aitrace_run(workspace: Workspace) -> None:
    import aitrace

    assert aitrace.current_step() is None
