"""Checked-in schemas match the code, and every step the spine writes validates against them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import aitrace
from aitrace.errors import AitraceError, StepFailed
from aitrace.record.jsonio import pretty_bytes
from aitrace.record.models import Actor, Command
from aitrace.record.times import utc_now
from aitrace.schemas import REGISTRY, generate, generate_all, main, repo_schema_dir
from aitrace.store.workspace import Workspace, new_id

SCHEMAS = repo_schema_dir()


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_checked_in_schema_matches_the_code(name: str) -> None:
    path = SCHEMAS / name
    assert path.is_file(), f"{path} missing: run `python -m aitrace.schemas`"
    assert path.read_bytes() == pretty_bytes(generate(name)), \
        f"{path} drifted from {REGISTRY[name]}: run `python -m aitrace.schemas` and commit"
    jsonschema.Draft202012Validator.check_schema(json.loads(path.read_bytes()))


def test_every_checked_in_schema_is_registered() -> None:
    assert {p.name for p in SCHEMAS.glob("*.json")} <= set(REGISTRY)


def test_every_registered_schema_is_checked_in() -> None:
    assert set(REGISTRY) == {p.name for p in SCHEMAS.glob("*.json")}
    assert set(generate_all()) == set(REGISTRY)


@pytest.mark.parametrize(("entry", "message"), [
    ("aitrace.record.no_such_module:step_schema",
     r"cannot import aitrace\.record\.no_such_module"),
    ("aitrace.record.models:no_such_schema",
     r"aitrace\.record\.models has no function no_such_schema"),
    ("aitrace.record.models:STEP_SCHEMA", r"has no function STEP_SCHEMA"),
    ("aitrace.record.models", r"is not \"module:function\""),
])
def test_a_broken_registry_entry_is_an_error_not_a_skip(
        entry: str, message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(REGISTRY, "renamed.schema.json", entry)
    with pytest.raises(AitraceError, match=message) as err:
        generate("renamed.schema.json")
    assert "renamed.schema.json" in str(err.value) and err.value.hint
    assert "REGISTRY" in err.value.hint
    with pytest.raises(AitraceError, match=message):
        generate_all()
    with pytest.raises(AitraceError, match=message):
        main([str(tmp_path / "out")])
    assert list((tmp_path / "out").iterdir()) == []  # nothing written, not a partial set


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_every_step_written_validates(workspace: Workspace,
                                      assert_valid_step: Callable[[dict[str, Any]], None]
                                      ) -> None:
    Path("raw.csv").write_text("a,b\n1,2\n")
    Path("other.csv").write_text("x\n")
    # 1. succeeded, with a URI input, a directory output, bound and unbound evidence
    with aitrace.stage("cleaning", inputs=["raw.csv"], description="clean it") as rec:
        rec.input("https://user:pw@example.org/data.csv", origin="https://example.org",
                  license="CC0-1.0", role="dataset")
        out = Path("clean")
        (out / "sub").mkdir(parents=True)
        (out / "sub" / "part.csv").write_text("a\n1\n")
        (out / "link").symlink_to("sub/part.csv")  # a link inside: hashed as that file
        rec.output(out, role="dataset")
        rec.log_params({"drop": True, "n": 3})
        rec.log_metrics({"rows": 1})
        rec.attach("note", {"text": "ok"}, media_type="application/json", subject="raw.csv",
                   summary={"ok": True})
        rec.attach("note", b"unrelated", media_type="text/plain", subject="other.csv")
    # 2. failed by an exception
    with pytest.raises(RuntimeError), aitrace.stage("labeling", inputs=["raw.csv"]):
        raise RuntimeError("labeller crashed")
    # 3. interrupted by Ctrl-C
    with pytest.raises(KeyboardInterrupt), aitrace.stage("selection"):
        raise KeyboardInterrupt
    # 4. a declared output never produced, with a command
    with pytest.raises(StepFailed), aitrace.stage(
            "design", outputs=["missing.yaml"],
            command=Command(argv=("python", "design.py", "--password", "[REDACTED]"))):
        pass
    # 5. a start marker left by a dead process becomes an interrupted step
    sid = new_id()
    marker = workspace.begin(sid, "training", utc_now(), Actor(user="u", host="vm"),
                             ("python", "train.py"), ())
    doc = json.loads(marker.read_bytes())
    doc.update(pid=_dead_pid(), pid_start="0", host=__import__("socket").gethostname())
    marker.write_bytes(pretty_bytes(doc))
    with aitrace.stage("evaluation"):
        pass

    steps = workspace.steps()
    assert [s.status for s in steps] == ["succeeded", "failed", "interrupted", "failed",
                                         "interrupted", "succeeded"]
    assert steps[4].id == sid and steps[4].command is not None
    files = sorted((workspace.dir / "steps").glob("*.json"))
    assert len(files) == 6
    for f in files:
        assert_valid_step(json.loads(f.read_bytes()))
    first = steps[0]
    assert {a.type for a in first.materials} == {"file", "uri"}
    assert first.products[0].type == "directory"
    assert [e.bound for e in first.evidence if e.kind == "note"] == [True, False]
