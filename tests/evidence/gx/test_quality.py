"""The quality library with real GX: loading, suite checks, scrubbing, binding to steps."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import aitrace
from aitrace.errors import InputError
from aitrace.evidence.gx import data as gx_data
from aitrace.evidence.gx import quality
from aitrace.evidence.gx import source as gx_source
from aitrace.record.stages import EVIDENCE_GX
from aitrace.store.workspace import Workspace
from tests.helpers.gx import SUITE, failing_suite, objects

pytestmark = pytest.mark.usefixtures("gx_loaded")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_passing_suite_summary_and_gx_json(data_dir: Path) -> None:
    r = quality.validate_file(data_dir / "clean.csv", data_dir / "suites" / "clean.json")
    s = r.summary
    assert r.success and s["success"] is True
    assert (s["evaluated"], s["successful"], s["failed"]) == (4, 4, 0)
    assert s["failed_expectations"] == [] and s["rows"] == 60 and s["columns"] == 4
    assert s["suite_name"] == "clean" and s["gx_version"].startswith("1.")
    assert s["suite_sha256"] == _sha(data_dir / "suites" / "clean.json")
    assert s["data_sha256"] == _sha(data_dir / "clean.csv")
    # GX's own result JSON, as GX wrote it (keys of ExpectationSuiteValidationResult).
    assert {"results", "statistics", "success", "suite_name", "meta"} <= set(r.result)
    assert len(r.result["results"]) == 4


def test_failing_expectation_is_a_result_not_an_error(data_dir: Path) -> None:
    r = quality.validate_file(data_dir / "clean.csv", failing_suite())
    assert not r.success and r.summary["failed"] == 1
    (f,) = r.summary["failed_expectations"]
    assert f == {"type": "expect_column_max_to_be_between", "column": "age",
                 "observed_value": 69}


def test_row_level_values_are_never_stored(data_dir: Path) -> None:
    suite = {"name": "rows", "expectations": [
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "city", "value_set": ["Taipei"]}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "age", "min_value": 0, "max_value": 30}}]}
    r = quality.validate_file(data_dir / "clean.csv", suite)
    text = json.dumps(r.result)
    for key in quality.ROW_LEVEL_KEYS:
        assert f'"{key}"' not in text
    assert "Tainan" not in text.replace('"value_set"', "")  # only in no stored sample
    counts = [x["result"]["unexpected_count"] for x in r.result["results"]]
    assert sorted(counts) == [39, 40]


def test_scrub_drops_lists_tracebacks_and_redacts() -> None:
    doc = {"results": [{"success": False, "result": {
        "element_count": 3, "unexpected_count": 1, "observed_value": "secret",
        "partial_unexpected_list": ["x@y.z"], "unexpected_index_list": [2],
        "details": {"partial_unexpected_counts": [{"value": "x@y.z", "count": 1}], "k": 1}},
        "exception_info": {"m1": {"raised_exception": True, "exception_traceback": "tb",
                                  "exception_message": "bad value 'x@y.z'"}}}],
        "meta": {"v": float("nan")}}
    plain = quality.scrub_result(doc, redact=False)
    res = plain["results"][0]
    assert "partial_unexpected_list" not in res["result"] and res["result"]["details"] == {"k": 1}
    assert res["result"]["observed_value"] == "secret"
    assert res["exception_info"]["m1"]["exception_traceback"] is None
    assert plain["meta"]["v"] == "NaN"
    redacted = quality.scrub_result(doc, redact=True)
    assert redacted["results"][0]["result"] == {"element_count": 3, "unexpected_count": 1}
    assert "x@y.z" not in json.dumps(redacted)


@pytest.mark.parametrize(("name", "writer"), [
    ("d.parquet", lambda df, p: df.to_parquet(p)),
    ("d.jsonl", lambda df, p: df.to_json(p, orient="records", lines=True)),
    ("d.tsv", lambda df, p: df.to_csv(p, sep="\t", index=False)),
    ("d.csv.gz", lambda df, p: p.write_bytes(gzip.compress(df.to_csv(index=False).encode()))),
])
def test_formats(data_dir: Path, name: str, writer: Any) -> None:
    import pandas as pd

    path = data_dir / name
    writer(pd.read_csv(data_dir / "clean.csv"), path)
    r = quality.validate_file(path, SUITE)
    assert r.success and r.summary["rows"] == 60 and r.summary["data_sha256"] == _sha(path)


@pytest.mark.parametrize(("suite", "message"), [
    ({"name": "s", "expectations": [{"type": "expect_column_values_to_not_be_null",
                                     "kwargs": {"column": "agee"}}]},
     "<suite>: expectations[0].kwargs.column 'agee' is not a column of "),
    ({"name": "s", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "age"}},
        {"type": "expect_column_values_to_be_nice", "kwargs": {"column": "age"}}]},
     "<suite>: expectations[1].type 'expect_column_values_to_be_nice' is not a Great "
     "Expectations expectation type"),
    ({"name": "s", "expectations": [{"type": "expect_column_values_to_be_between",
                                     "kwargs": {"column": "age", "min_value": "low"}}]},
     "<suite>: expectations[0].kwargs.min_value:"),
    ({"name": "s", "expectations": [{"type": "expect_column_pair_values_to_be_equal",
                                     "kwargs": {"column_A": "age", "column_B": "nope"}}]},
     "expectations[0].kwargs.column_B 'nope' is not a column"),
    ({"expectation_suite_name": "old", "expectations": []}, "this is a GX 0.x suite"),
    ({"name": "", "expectations": []}, "<suite>: name is missing"),
    ({"name": "s", "expectations": {}}, "<suite>: expectations must be a list"),
    ({"name": "s", "expectations": [{"kwargs": {}}]}, "expectations[0].type is missing"),
])
def test_bad_suites_name_the_field(data_dir: Path, suite: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as exc:
        quality.validate_file(data_dir / "clean.csv", suite)
    assert message in exc.value.message


def test_a_10000_deep_suite_is_bad_input(data_dir: Path) -> None:
    deep = data_dir / "deep.json"
    deep.write_text('{"name": "x", "expectations": ' + "[" * 10_000 + "]" * 10_000 + "}")
    with pytest.raises(InputError, match=r"deep.json nests JSON deeper than 64 levels"):
        quality.validate_file(data_dir / "clean.csv", deep)


def test_bad_files(data_dir: Path) -> None:
    (data_dir / "broken.json").write_text('{"name": "x", "expectations": [}')
    with pytest.raises(InputError, match=r"broken.json is not valid JSON at line 1, column 32: "):
        quality.validate_file(data_dir / "clean.csv", data_dir / "broken.json")
    with pytest.raises(InputError, match=r"missing.csv: cannot read the data file"):
        quality.validate_file(data_dir / "missing.csv", SUITE)
    with pytest.raises(InputError, match=r"data.xlsx: unsupported data format"):
        quality.validate_file(data_dir / "data.xlsx", SUITE)
    (data_dir / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match=r"bad.parquet: not readable as PARQUET"):
        quality.validate_file(data_dir / "bad.parquet", SUITE)
    with pytest.raises(InputError, match="unknown check option"):
        quality.validate_file(data_dir / "clean.csv", SUITE, colour="red")
    with pytest.raises(InputError, match="either a suite or a pack"):
        quality.validate_file(data_dir / "clean.csv", SUITE, pack="labels")


def test_frame_digest_is_the_csv_it_would_write(data_dir: Path) -> None:
    import pandas as pd

    df = pd.read_csv(data_dir / "clean.csv")
    df.to_csv(data_dir / "copy.csv", index=False)
    assert gx_data.frame_digest(df) == _sha(data_dir / "copy.csv")
    r = quality.validate_dataframe(df, SUITE)
    assert r.success and r.summary["data_sha256"] == _sha(data_dir / "copy.csv")


def _gx_refs(step: Any) -> list[Any]:
    return [e for e in step.evidence if e.kind == EVIDENCE_GX]


def test_step_binding_file_dataframe_and_unbound(data_dir: Path) -> None:
    import pandas as pd

    with aitrace.stage("cleaning", inputs=["clean.csv"]) as rec:
        df = pd.read_csv("clean.csv")
        df["age"] = df["age"] + 1
        df.to_csv("out.csv", index=False)
        rec.output("out.csv")
        in_file = rec.check("clean.csv", suite="suites/clean.json")
        written = rec.check(df, suite={**SUITE, "name": "written"}, path="out.csv")
        memory = rec.check(df.head(5), suite={**SUITE, "name": "in-memory"})
        Path("other.csv").write_text(Path("clean.csv").read_text().replace("20", "21"))
        other = rec.check("other.csv", suite={**SUITE, "name": "elsewhere"})
    ws = Workspace.find()
    step = ws.steps()[-1]
    refs = {e.name: e for e in _gx_refs(step)}
    assert refs["gx:clean"].bound is True
    assert refs["gx:clean"].subject.path == "clean.csv"  # type: ignore[union-attr]
    assert refs["gx:written"].bound is True
    assert refs["gx:written"].subject.sha256 == _sha(Path("out.csv"))  # type: ignore[union-attr]
    assert refs["gx:in-memory"].bound is False
    assert refs["gx:in-memory"].subject.path == "memory://dataframe"  # type: ignore[union-attr]
    assert refs["gx:elsewhere"].bound is False
    assert all(r.success for r in (in_file, written, memory, other))
    assert step.metrics["gx.checks"] == 4 and step.metrics["gx.success"] == 1
    assert step.params["gx.clean.data_sha256"] == _sha(Path("clean.csv"))
    stored = json.loads(ws.read_object(refs["gx:clean"].sha256))
    assert stored["suite_name"] == "clean" and stored["statistics"]["evaluated_expectations"] == 4
    assert refs["gx:clean"].media_type == gx_source.MEDIA_TYPE


def test_bad_input_inside_a_stage_stores_no_gx_evidence(data_dir: Path) -> None:
    ws = Workspace.find()
    before = objects(ws.root)
    bad = {"name": "bad", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "agee"}}]}

    def clean_with_a_bad_suite() -> None:
        with aitrace.stage("cleaning", inputs=["clean.csv"]) as rec:
            rec.check("clean.csv", suite=bad)

    with pytest.raises(InputError, match="'agee' is not a column"):
        clean_with_a_bad_suite()
    step = ws.steps()[-1]
    assert step.status == "failed" and not _gx_refs(step)
    new = objects(ws.root) - before
    assert all(b"great_expectations_version" not in ws.read_object(sha) for sha in new)
