"""The Python hooks: aitrace.stage() as a context manager and decorator."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import aitrace
from aitrace.errors import InputError, StepFailed
from aitrace.record.stages import EVIDENCE_ENVIRONMENT
from aitrace.store.workspace import Workspace

Check = Callable[[dict[str, Any]], None]


def _files(ws: Workspace) -> list[Path]:
    return sorted(p for p in ws.dir.rglob("*") if p.is_file() and "cache" not in p.parts)


def test_context_manager_records_a_succeeded_step(workspace: Workspace,
                                                  assert_valid_step: Check) -> None:
    Path("raw.csv").write_text("a\n1\n")
    with aitrace.stage("cleaning", inputs=["raw.csv"], description="drop nulls") as rec:
        assert aitrace.current_step() is rec
        assert [p.step_id for p in workspace.pending()] == [rec.id]
        Path("clean.csv").write_text("a\n1\n")
        rec.output("clean.csv", role="dataset")
        rec.log_params({"threshold": 0.5, "drop": True})
        rec.log_metric("rows", 1)
    assert aitrace.current_step() is None
    (step,) = workspace.steps()
    assert step.status == "succeeded" and step.stage == "cleaning" and step.seq == 1
    assert step.description == "drop nulls" and step.error is None
    assert step.materials[0].path == "raw.csv"
    assert step.materials[0].sha256 == hashlib.sha256(b"a\n1\n").hexdigest()
    assert step.products[0].path == "clean.csv" and step.products[0].role == "dataset"
    assert step.params == {"threshold": "0.5", "drop": "True"} and step.metrics == {"rows": 1.0}
    assert step.started_at <= step.ended_at and step.ended_at.endswith("Z")
    env_ref = next(e for e in step.evidence if e.kind == EVIDENCE_ENVIRONMENT)
    assert step.environment is not None
    assert step.environment.distributions_sha256 == env_ref.sha256
    env_doc = json.loads(workspace.read_object(env_ref.sha256))
    assert env_doc["format"] == "aitrace.environment/v1" and env_doc["distributions"]
    assert workspace.pending() == []
    assert_valid_step(step.to_dict())


def test_decorator_records_each_call(workspace: Workspace) -> None:
    Path("test.csv").write_text("x\n")

    @aitrace.stage("evaluation", inputs=["test.csv"])
    def evaluate(k: int) -> int:
        step = aitrace.current_step()
        assert step is not None
        step.log_metrics({"score": k / 10})
        return k * 2

    assert evaluate.__name__ == "evaluate"
    assert evaluate(3) == 6
    assert evaluate(4) == 8
    steps = workspace.steps()
    assert [(s.stage, s.metrics["score"]) for s in steps] == [("evaluation", 0.3),
                                                              ("evaluation", 0.4)]
    assert steps[0].id != steps[1].id and steps[1].prev == steps[0].digest


def test_exception_leaves_failed_step_and_is_reraised_unchanged(workspace: Workspace) -> None:
    boom = ValueError("bad data in column 'age'")
    with pytest.raises(ValueError, match="bad data") as info, aitrace.stage("cleaning"):
        raise boom
    assert info.value is boom
    (step,) = workspace.steps()
    assert step.status == "failed"
    assert step.error == "ValueError: bad data in column 'age'"


def test_keyboard_interrupt_leaves_interrupted_step(workspace: Workspace) -> None:
    with pytest.raises(KeyboardInterrupt), aitrace.stage("training", sbom=False):
        raise KeyboardInterrupt
    (step,) = workspace.steps()
    assert step.status == "interrupted" and "KeyboardInterrupt" in (step.error or "")


@pytest.mark.parametrize(("code", "status"), [(0, "succeeded"), (None, "succeeded"),
                                              (3, "failed")])
def test_system_exit(workspace: Workspace, code: int | None, status: str) -> None:
    with pytest.raises(SystemExit), aitrace.stage("labeling"):
        raise SystemExit(code)
    assert workspace.steps()[0].status == status


def test_declared_missing_output_fails_the_step(workspace: Workspace) -> None:
    Path("made.csv").write_text("x")
    with pytest.raises(StepFailed) as info, aitrace.stage("cleaning",
                                                           outputs=["made.csv", "never.csv"]):
        pass
    assert "never.csv" in info.value.message
    assert info.value.hint and "step 1" in info.value.hint
    assert info.value.exit_code == 1
    (step,) = workspace.steps()
    assert step.status == "failed"
    assert step.error == "declared output(s) not produced: never.csv"
    assert [p.path for p in step.products] == ["made.csv"]


def test_missing_output_does_not_mask_the_users_exception(workspace: Workspace) -> None:
    with pytest.raises(RuntimeError, match="original"), aitrace.stage(
            "cleaning", outputs=["never.csv"]):
        raise RuntimeError("original")
    assert workspace.steps()[0].status == "failed"


def test_missing_input_fails_before_anything_is_written(workspace: Workspace) -> None:
    before = _files(workspace)
    with pytest.raises(InputError) as info, aitrace.stage("training", inputs=["data/nope.csv"]):
        raise AssertionError("the body must not run")
    assert "data/nope.csv" in info.value.message and info.value.hint
    assert info.value.exit_code == 2
    assert workspace.steps() == () and workspace.pending() == []
    assert _files(workspace) == before
    assert aitrace.current_step() is None


def test_nested_stage_refused(workspace: Workspace) -> None:
    with aitrace.stage("training", sbom=False):
        with pytest.raises(InputError, match="started inside stage 'training'") as info, \
                aitrace.stage("evaluation"):
            pass
        assert info.value.hint and "do not nest" in info.value.hint
    assert [s.stage for s in workspace.steps()] == ["training"]


def test_unknown_stage_refused(workspace: Workspace) -> None:
    with pytest.raises(InputError, match="unknown stage 'trainig'"):
        aitrace.stage("trainig")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "high", None])
def test_log_metrics_refuses_non_finite_and_non_numbers(workspace: Workspace, bad: Any) -> None:
    with aitrace.stage("evaluation") as rec:
        with pytest.raises(InputError, match="metric 'acc'"):
            rec.log_metrics({"acc": bad})
        rec.log_metrics({"ok": 1})
    assert workspace.steps()[0].metrics == {"ok": 1.0}


def test_evidence_subject_binding(workspace: Workspace) -> None:
    Path("in.csv").write_text("a\n")
    Path("unrelated.csv").write_text("b\n")
    with aitrace.stage("cleaning", inputs=["in.csv"]) as rec:
        Path("out.csv").write_text("c\n")
        rec.output("out.csv")
        on_input = rec.attach("gx-validation", {"success": True}, media_type="application/json",
                              subject="in.csv", summary={"success": True})
        rec.attach("gx-validation", {"success": True}, media_type="application/json",
                   subject="out.csv")  # written before the attach: its bytes now
        rec.attach("gx-validation", {"success": False}, media_type="application/json",
                   subject="unrelated.csv")
        rec.attach("note", b"plain", media_type="text/plain")
    assert on_input.subject is not None and on_input.subject.path == "in.csv"
    step = workspace.steps()[0]
    bound = [(e.subject.path if e.subject else None, e.bound) for e in step.evidence
             if e.kind != EVIDENCE_ENVIRONMENT]
    assert bound == [("in.csv", True), ("out.csv", True), ("unrelated.csv", False), (None, None)]
    assert workspace.read_object(step.evidence[3].sha256) == b"plain"


def test_evidence_about_data_changed_after_the_check_is_unbound(workspace: Workspace) -> None:
    Path("out.csv").write_text("v1\n")
    with aitrace.stage("cleaning", outputs=["out.csv"]) as rec:
        rec.attach("gx-validation", {"success": True}, media_type="application/json",
                   subject="out.csv")
        Path("out.csv").write_text("v2 written after the check\n")
    (ev,) = [e for e in workspace.steps()[0].evidence if e.kind == "gx-validation"]
    assert ev.bound is False


def test_expected_input_digest_checked(workspace: Workspace) -> None:
    Path("d.csv").write_text("x")
    with pytest.raises(InputError, match="expected sha256"), aitrace.stage("collection") as rec:
        rec.input("d.csv", sha256="0" * 64)
    ok = hashlib.sha256(b"x").hexdigest()
    with aitrace.stage("collection") as rec:
        (art,) = rec.input("d.csv", sha256=ok, origin="https://example.org/d.csv",
                           license="CC-BY-4.0")
    assert art.origin == "https://example.org/d.csv" and art.license == "CC-BY-4.0"


def test_params_and_uri_inputs_are_scrubbed(workspace: Workspace,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_planted_value")
    with aitrace.stage("selection") as rec:
        rec.input("https://user:pw-planted@hub.example.org/base-model", origin="hub")
        rec.log_params({"endpoint": "https://k:pw-planted@api.example/x",
                        "note": "token hf_planted_value"})
    step = workspace.steps()[0]
    text = json.dumps(step.to_dict())
    assert "pw-planted" not in text and "hf_planted_value" not in text
    assert step.materials[0].path == "https://hub.example.org/base-model"
    assert step.materials[0].type == "uri"


def test_directory_output(workspace: Workspace) -> None:
    with aitrace.stage("labeling") as rec:
        Path("labels/part").mkdir(parents=True)
        Path("labels/part/a.csv").write_text("1")
        Path("labels/b.csv").write_text("22")
        rec.output("labels")
    (prod,) = workspace.steps()[0].products
    assert prod.type == "directory" and prod.size == 3
    # Format v2: named by its in-toto dirHash; the listing is stored under that digest.
    listing = (f"{hashlib.sha256(b'22').hexdigest()}  b.csv\n"
               f"{hashlib.sha256(b'1').hexdigest()}  part/a.csv\n").encode()
    assert prod.sha256 is None and prod.dirHash == hashlib.sha256(listing).hexdigest()
    assert workspace.read_object(prod.dirHash) == listing


def test_a_directory_output_with_a_link_out_of_it_is_refused(workspace: Workspace) -> None:
    Path("outside.txt").write_text("x")
    Path("labels").mkdir()
    Path("labels/escape").symlink_to(Path("outside.txt").resolve())
    with pytest.raises(InputError, match="leaves the directory"), \
            aitrace.stage("labeling", outputs=["labels"]):
        pass


# ------------------------------------------------------------------ RFC 8785 at record time


def test_a_summary_rfc8785_cannot_write_is_refused_when_attached(workspace: Workspace) -> None:
    with aitrace.stage("cleaning") as rec:
        before = _files(workspace)
        with pytest.raises(InputError, match=r"field 'counts\.rows' holds the integer "
                                             r"1152921504606846976"):
            rec.attach("note", {"x": 1}, media_type="application/json",
                       summary={"counts": {"rows": 2**60}})
        assert _files(workspace) == before  # nothing stored for it
    (step,) = workspace.steps()
    assert [e.kind for e in step.evidence if e.kind == "note"] == []


def test_a_command_line_that_is_not_unicode_is_refused_by_field(workspace: Workspace) -> None:
    from aitrace.record.models import Command

    with pytest.raises(InputError, match=r"cleaning step: field 'argv\[1\]' holds a lone surr"), \
            aitrace.stage("cleaning", command=Command(argv=("python", "bad-\udcff.py"))):
        pass
    assert workspace.steps() == () and workspace.pending() == []  # refused before it starts


def test_a_big_float_metric_round_trips(workspace: Workspace) -> None:
    """JCS writes 1.5e18 as digits; reading them back as a double keeps the chain intact."""
    with aitrace.stage("training") as rec:
        rec.log_metrics({"flops": 1.5e18, "tiny": 1e-7, "one": 1.0})
    raw = (workspace.dir / "steps" / "000001.json").read_bytes()
    assert b'"metrics":{"flops":1500000000000000000,"one":1,"tiny":1e-7}' in raw
    (step,) = workspace.steps()
    assert step.metrics == {"flops": 1.5e18, "tiny": 1e-7, "one": 1.0}
    assert workspace.chain().intact and step.digest == hashlib.sha256(raw).hexdigest()


class _BigSummary:
    """A plug-in whose evidence summary holds an integer RFC 8785 cannot write."""

    kind = "plugin-evidence"

    def begin(self, step: Any) -> dict[str, str]:
        return {}

    def applies(self, step: Any) -> bool:
        return True

    def contribute(self, step: Any) -> Any:
        from aitrace.hooks.handle import Attachment, Contribution

        return Contribution(evidence=(Attachment(kind=self.kind, data=b"{}",
                                                 media_type="application/json",
                                                 summary={"total": 10**20}),))

    def warning(self, stage: str, error: str) -> str:
        return f"{self.kind} evidence was not added to {stage}: {error}"


def test_a_contribution_rfc8785_cannot_write_is_a_warning_not_a_lost_step(
        workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    with aitrace.stage("training", contributors=lambda: [_BigSummary()]):
        pass
    (step,) = workspace.steps()
    assert step.status == "succeeded" and step.evidence == ()
    err = capsys.readouterr().err
    assert "plugin-evidence evidence was not added to training" in err
    assert "field 'total' holds the integer 100000000000000000000" in err


def test_inputs_through_links_out_of_the_project_are_refused(workspace: Workspace,
                                                             tmp_path: Path) -> None:
    """A project path that a link takes outside would record another file's bytes."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0\n")
    Path("data").mkdir()
    Path("data/raw.csv").symlink_to(outside / "passwd")
    Path("linkdir").symlink_to(outside)
    Path("data/v3.csv").write_text("a\n1\n")
    Path("data/latest.csv").symlink_to("v3.csv")  # inside the project: followed
    before = _files(workspace)
    for given in ("data/raw.csv", "linkdir/passwd", "linkdir"):
        with pytest.raises(InputError) as info, aitrace.stage("training", inputs=[given]):
            raise AssertionError("the body must not run")
        assert f"a symbolic link takes it to {outside}" in info.value.message
        assert info.value.exit_code == 2
    assert workspace.steps() == () and _files(workspace) == before
    with aitrace.stage("training", inputs=["data/latest.csv"]):
        pass
    [step] = workspace.steps()
    assert step.materials[0].path == "data/latest.csv" and step.materials[0].size == 4


def test_an_output_linking_out_of_the_project_is_not_recorded(workspace: Workspace,
                                                               tmp_path: Path) -> None:
    outside = tmp_path / "passwd"
    outside.write_text("root:x:0:0\n")
    Path("made.csv").write_text("x")
    with pytest.raises(StepFailed) as info, aitrace.stage("cleaning",
                                                           outputs=["made.csv", "out.csv"]):
        Path("out.csv").symlink_to(outside)
    assert f"out.csv → {outside}" in info.value.message
    (step,) = workspace.steps()
    assert step.status == "failed"
    assert step.error == ("declared output(s) not recorded, a symbolic link takes them out of "
                          f"the project: out.csv → {outside}")
    assert [p.path for p in step.products] == ["made.csv"]
