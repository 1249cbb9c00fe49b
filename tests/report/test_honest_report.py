"""What the views call things: added checks are not re-runs, a config file is not a dataset,
in-process steps show their script, GX expectations fold away, long digests wrap."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import aitrace
from aitrace.record.stages import EVIDENCE_GX
from tests.helpers.bundle import new_workspace

GX = {"success": True, "results": [], "suite_name": "s",
      "statistics": {"evaluated_expectations": 2, "successful_expectations": 2}}


def _bundle(ws: object, key: Path, out: Path) -> Path:
    from aitrace.bundle.write import build_bundle
    from aitrace.signing.keys import load_signer

    build_bundle(ws, [load_signer(key)], out)  # type: ignore[arg-type]
    return out


def test_added_checks_are_not_reruns(tmp_path: Path) -> None:
    from aitrace.report.annex import annex_iv_map
    from aitrace.report.audit import open_unverified
    from aitrace.report.diff import diff_text, diff_views
    from aitrace.signing.keys import generate_keypair

    key, _ = generate_keypair(tmp_path / "keys" / "k")
    ws = new_workspace(tmp_path / "p")
    data = ws.root / "clean.csv"
    with aitrace.stage("cleaning", workspace=ws, outputs=[data]):
        data.write_text("a\n1\n")
    a = _bundle(ws, key, tmp_path / "a.aitrace")
    with aitrace.stage("cleaning", workspace=ws, inputs=[data]) as step:  # `aitrace check`
        step.attach(EVIDENCE_GX, GX, media_type="application/json", subject=data,
                    summary={"success": True, "evaluated": 2})
    b = _bundle(ws, key, tmp_path / "b.aitrace")
    d = diff_views(open_unverified(a), open_unverified(b))
    (cleaning,) = d["steps"]["stages"]
    assert cleaning["rerun"] is False and cleaning["checks_added"] == 1
    text = diff_text(d)
    assert "1 check(s) added" in text and "re-run" not in text
    with aitrace.stage("cleaning", workspace=ws, outputs=[data]):  # the stage run again
        data.write_text("a\n2\n")
    c = _bundle(ws, key, tmp_path / "c.aitrace")
    d = diff_views(open_unverified(b), open_unverified(c))
    assert d["steps"]["stages"][0]["rerun"] is True
    rows = annex_iv_map(open_unverified(c))
    history = next(x for r in rows for x in r["evidence"] if x.startswith("hash-chained"))
    assert history == ("hash-chained history of 3 step(s): 1 re-run(s), 1 check or assessment "
                       "step(s) added")


def test_configs_are_not_datasets_in_the_licence_table(tmp_path: Path) -> None:
    from aitrace.evidence.sbom.view import sbom_facts
    from aitrace.record.models import Artifact
    from aitrace.report.view import _artifact_what

    doc = {"specVersion": "1.6", "components": [
        {"type": "data", "name": "config/model.json", "data": [{"type": "configuration"}]},
        {"type": "data", "name": "data/train.csv", "data": [{"type": "dataset"}]}]}
    facts = sbom_facts(doc)
    assert [d["name"] for d in facts["datasets"]] == ["data/train.csv"]
    assert [d["name"] for d in facts["configurations"]] == ["config/model.json"]
    conf = Artifact(path="config/model.json", type="file", license="MIT")
    report = Artifact(path="dist/release.json", type="file", license="MIT")
    raw = Artifact(path="https://example.org/x", type="uri", origin="example")
    assert _artifact_what(conf, "design") == "configuration"
    assert _artifact_what(report, "deployment") == "configuration"
    assert _artifact_what(raw, "collection") == "dataset"


def test_in_process_steps_record_their_script(workspace: object) -> None:
    with aitrace.stage("training", workspace=workspace):
        pass
    (step,) = workspace.steps()  # type: ignore[attr-defined]
    assert step.command is not None
    assert step.command.argv[1:] == tuple(sys.argv)
    main_file = Path(sys.modules["__main__"].__file__ or "")
    assert step.command.script is not None
    assert step.command.script.sha256 == hashlib.sha256(main_file.read_bytes()).hexdigest()


def test_gx_expectations_fold_per_result() -> None:
    from aitrace.evidence.gx.source import GxSource
    from aitrace.report.html.evidence import _gx as gx_html

    doc = {"success": False, "suite_name": "s",
           "statistics": {"evaluated_expectations": 40, "successful_expectations": 39},
           "results": [{"success": i != 7, "expectation_config": {
               "type": "expect_column_values_to_not_be_null", "kwargs": {"column": f"c{i}"}},
               "result": {}} for i in range(40)]}
    html = gx_html(GxSource().facts(doc) or {})
    assert "<details class='gx'><summary>All 40 expectations (1 failed)</summary>" in html
    before = html.split("<details")[0]
    assert "c7" in before and "c8" not in before  # the failure stays in view
    assert "<script" not in html
