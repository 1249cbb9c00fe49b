"""``aitrace check`` and ``aitrace suite init`` end to end, with real GX."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from aitrace.cli import main
from aitrace.record.stages import EVIDENCE_GX
from aitrace.store.workspace import Workspace
from tests.helpers.gx import DECOYS, PLANTED, objects, tree_contains

pytestmark = pytest.mark.usefixtures("gx_loaded")


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    rc = main([*argv, "--json"])
    out = capsys.readouterr().out
    return rc, (json.loads(out) if out.strip() else {})


def test_failing_expectation_end_to_end(data_dir: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _run(capsys, ["check", "clean.csv", "--suite", "suites/strict.json",
                            "--stage", "cleaning"])
    assert rc == 1 and out["success"] is False
    (check,) = out["checks"]
    assert check["bound"] is True and check["summary"]["failed"] == 1
    assert check["summary"]["failed_expectations"][0]["type"] == \
        "expect_column_max_to_be_between"
    ws = Workspace.find()
    step = ws.steps()[-1]
    # The check ran, so the step succeeded; the evidence says the data failed.
    assert step.status == "succeeded" and step.stage == "cleaning"
    (ref,) = [e for e in step.evidence if e.kind == EVIDENCE_GX]
    assert ref.summary["success"] is False and ref.sha256 == check["evidence_sha256"]
    assert json.loads(ws.read_object(ref.sha256))["success"] is False
    assert step.metrics["gx.success"] == 0 and step.metrics["gx.failed_expectations"] == 1
    assert step.materials[0].path == "clean.csv"
    # --warn-only changes only the exit code.
    rc, out = _run(capsys, ["check", "clean.csv", "--suite", "suites/strict.json",
                            "--stage", "cleaning", "--warn-only"])
    assert rc == 0 and out["success"] is False
    rc, out = _run(capsys, ["check", "clean.csv", "--suite", "suites/clean.json",
                            "--stage", "cleaning"])
    assert rc == 0 and out["success"] is True and len(ws.steps()) == 3


def test_privacy_pack_counts_and_never_stores_values(data_dir: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _run(capsys, ["check", "privacy.csv", "--pack", "privacy",
                            "--stage", "collection"])
    assert rc == 1
    s = out["checks"][0]["summary"]
    assert s["pack"] == "privacy" and s["redacted"] is True
    assert s["columns_scanned"] == ["contact", "comment"]
    found = {(f["column"], f["detector"]): f["count"] for f in s["findings"]}
    # Every planted kind is found in the comment column, once per planted value; the decoys
    # (a card failing Luhn, an ID failing its check digit) are not counted.
    for detector, values in PLANTED.items():
        assert found[("comment", detector)] >= len(values), detector
    assert found[("comment", "card")] == len(PLANTED["card"])
    assert found[("comment", "tw_id")] == len(PLANTED["tw_id"])
    assert found[("contact", "email")] == 4
    root = Workspace.find().root
    leaked = tree_contains(root / ".aitrace", [v for vs in PLANTED.values() for v in vs]
                           + DECOYS + ["alice.wang", "4111 1111", "A12345678"])
    # (a bare "4111" would also match 1 in ~700 random hex digests in the store: too short)
    assert leaked == []
    # The text report names columns and counts, never values.
    capsys.readouterr()
    main(["check", "privacy.csv", "--pack", "privacy", "--stage", "collection"])
    text = capsys.readouterr().out
    assert "personal data:" in text and not [v for vs in PLANTED.values() for v in vs
                                             if v in text]


def test_labels_pack_balance(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["x,y"] + [f"{i},{'a' if i < 97 else 'b'}" for i in range(100)] + ["100,"]
    Path("labeled.csv").write_text("\n".join(rows) + "\n")
    rc, out = _run(capsys, ["check", "labeled.csv", "--pack", "labels", "--label-column", "y",
                            "--stage", "labeling"])
    assert rc == 1
    s = out["checks"][0]["summary"]
    assert s["label_column"] == "y" and s["min_class_share"] == 0.05
    assert s["classes"] == {"a": {"count": 97, "share": 0.97}, "b": {"count": 3, "share": 0.03}}
    failed = {(f.get("check"), f.get("class")) for f in s["failed_expectations"]}
    assert failed == {("missing_labels", None), ("class_share", "b")}
    # A looser share passes the balance check; the missing label still fails.
    rc, out = _run(capsys, ["check", "labeled.csv", "--pack", "labels", "--label-column", "y",
                            "--min-class-share", "0.02", "--stage", "labeling"])
    failed = {f.get("check") for f in out["checks"][0]["summary"]["failed_expectations"]}
    assert rc == 1 and failed == {"missing_labels"}
    # Declared classes the data lacks are caught by the value set and class share.
    rc, out = _run(capsys, ["check", "labeled.csv", "--pack", "labels", "--labels", "a,b,c",
                            "--label-column", "y", "--min-class-share", "0.02",
                            "--stage", "labeling"])
    failed = {(f.get("check"), f.get("class")) for f in
              out["checks"][0]["summary"]["failed_expectations"]}
    assert ("class_share", "c") in failed


def test_labels_pack_regression_target(data_dir: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A numeric target with many values: range, missing labels and outliers, not classes."""
    prices = [100_000 + 1_000 * i for i in range(300)]
    Path("houses.csv").write_text("sqft,price\n" + "".join(
        f"{i},{p}\n" for i, p in enumerate(prices)))
    rc, out = _run(capsys, ["check", "houses.csv", "--pack", "labels", "--label-column",
                            "price", "--stage", "labeling"])
    assert rc == 0, out
    s = out["checks"][0]["summary"]
    assert s["task"] == "regression" and s["range"] == [100_000.0, 399_000.0]
    assert "classes" not in s and s["failed"] == 0

    # A declared range the data leaves, far-out values and a missing label all fail.
    bad = [*prices[:-5], 10_000_000, 11_000_000, 12_000_000, 13_000_000, None]  # 4 far out
    Path("bad.csv").write_text("sqft,price\n" + "".join(
        f"{i},{'' if p is None else p}\n" for i, p in enumerate(bad)))
    rc, out = _run(capsys, ["check", "bad.csv", "--pack", "labels", "--label-column", "price",
                            "--task", "regression", "--label-range", "0,2000000",
                            "--stage", "labeling"])
    assert rc == 1
    failed = {f.get("check") for f in out["checks"][0]["summary"]["failed_expectations"]}
    assert failed == {"missing_labels", "range", "outliers"}

    # The default policy's labelling requirement is met by it (the failed check aside).
    from aitrace.verify.policy import default_policy
    from aitrace.verify.rules import PolicyContext

    first = [st for st in Workspace.find().steps() if st.stage == "labeling"][:1]
    checks = {c.id: c for c in default_policy().evaluate(PolicyContext(steps=first))}
    assert checks["policy.gx-passed"].status == "passed"
    assert "labeling" not in checks["policy.required-evidence"].message

    # Text labels cannot be a regression target.
    rc, _ = _run(capsys, ["check", "clean.csv", "--pack", "labels", "--label-column", "label",
                          "--task", "regression", "--stage", "labeling"])
    assert rc == 2


def test_suite_init_round_trip(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from aitrace.evidence.gx.profile import check_round_trip

    rc, out = _run(capsys, ["suite", "init", "clean.csv", "-o", "suites/gen.json"])
    assert rc == 0
    doc = json.loads(Path("suites/gen.json").read_text())
    assert out["expectations"] == len(doc["expectations"]) == check_round_trip(doc)
    types = [(e["type"], e["kwargs"].get("column")) for e in doc["expectations"]]
    assert types[0] == ("expect_table_columns_to_match_ordered_list", None)
    assert ("expect_column_values_to_be_between", "age") in types
    assert ("expect_column_values_to_be_in_set", "city") in types
    assert ("expect_column_values_to_be_in_set", "id") not in types  # 60 distinct values
    assert doc["meta"]["aitrace"]["rows"] == 60
    # The starter suite passes on the data it was made from.
    rc, out = _run(capsys, ["check", "clean.csv", "--suite", "suites/gen.json",
                            "--stage", "cleaning"])
    assert rc == 0 and out["success"] is True
    # It never quotes personal data, and refuses to overwrite without --force.
    assert main(["suite", "init", "privacy.csv", "-o", "suites/gen.json"]) == 2
    assert main(["suite", "init", "privacy.csv", "-o", "suites/gen.json", "--force"]) == 0
    assert tree_contains(Path("suites"), PLANTED["email"]) == []


@pytest.mark.parametrize(("argv", "message"), [
    (["check", "clean.csv", "--suite", "suites/bad.json"], "suites/bad.json is not valid JSON"),
    (["check", "clean.csv", "--suite", "suites/col.json"],
     "suites/col.json: expectations[1].kwargs.column 'agee' is not a column of clean.csv"),
    (["check", "clean.csv", "--suite", "suites/type.json"],
     "suites/type.json: expectations[0].type 'expect_column_to_be_lovely' is not"),
    (["check", "nowhere.csv", "--suite", "suites/clean.json"], "nowhere.csv: cannot read"),
    (["check", "folder.csv", "--suite", "suites/clean.json"], "folder.csv: cannot read"),
    (["check", "garbage.parquet", "--suite", "suites/clean.json"],
     "garbage.parquet: not readable as PARQUET"),
    (["check", "clean.csv"], "nothing to check"),
    (["check", "clean.csv", "--suite", "suites/clean.json", "--stage", "baking"],
     "unknown stage 'baking'"),
    (["check", "clean.csv", "--pack", "labels", "--label-column", "nope"],
     "label column 'nope' is not a column"),
])
def test_bad_input_exits_2_and_stores_nothing(data_dir: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              argv: list[str], message: str) -> None:
    Path("suites/bad.json").write_text('{"name": "bad", "expectations": [')
    Path("suites/col.json").write_text(json.dumps({"name": "c", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "age"}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "agee"}}]}))
    Path("suites/type.json").write_text(json.dumps({"name": "t", "expectations": [
        {"type": "expect_column_to_be_lovely", "kwargs": {"column": "age"}}]}))
    Path("folder.csv").mkdir()
    Path("garbage.parquet").write_bytes(b"PAR1 but not really")
    if "--stage" not in argv:
        argv = [*argv, "--stage", "cleaning"]
    ws = Workspace.find()
    before = objects(ws.root)
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert objects(ws.root) == before and ws.steps() == ()
    assert not list((ws.dir / "pending").glob("*")) if (ws.dir / "pending").exists() else True


def test_spark_engine_without_pyspark_is_a_missing_dependency(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    rc = main(["check", "clean.csv", "--suite", "suites/clean.json", "--stage", "cleaning",
               "--engine", "spark"])
    err = capsys.readouterr().err
    assert rc == 2 and "needs pyspark" in err and "aitrace[spark]" in err
    assert Workspace.find().steps() == ()
