"""``aitrace check`` vs plain Great Expectations on a 1,000,000-row × 6-column CSV.

Bars (issue 3): validating the CSV with a 10-expectation suite through ``aitrace check``
(in-process ``aitrace.cli.main``: read + hash + validate + record the step and evidence, MLflow
linking off) costs <= 1.15x the same validation done with plain GX (``pd.read_csv`` + an
ephemeral context + ``batch.validate`` with the same result format), both including the CSV
read, both with GX already imported; and the peak memory the aitrace path adds is <= ~2x the
DataFrame's own size (``memory_usage(deep=True)``).

Each measurement runs in a fresh interpreter (so peak RSS belongs to one path), alternating
plain GX and aitrace; the bar uses the median of ``ROUNDS`` rounds. Plain GX with its default
``SUMMARY`` result format is reported too, for reference. Data lives in benchmarks/.data/.
Run: ``.venv/bin/python benchmarks/bench_gx.py``; exit 1 = a bar missed.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS = 1_000_000
ROUNDS = 5
TIME_BAR = 1.15
MEMORY_BAR = 2.0
HERE = Path(__file__).resolve().parent
DATA = HERE / ".data" / "gx_1m.csv"

SUITE = {
    "name": "bench",
    "expectations": [
        {"type": "expect_table_row_count_to_be_between",
         "kwargs": {"min_value": 900_000, "max_value": 1_100_000}},
        {"type": "expect_table_columns_to_match_ordered_list",
         "kwargs": {"column_list": ["id", "age", "income", "city", "name", "label"]}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "age", "min_value": 18, "max_value": 90}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "income", "min_value": 0, "max_value": 200_000}},
        {"type": "expect_column_mean_to_be_between",
         "kwargs": {"column": "income", "min_value": 40_000, "max_value": 60_000}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "city", "value_set": ["Taipei", "Taichung", "Kaohsiung",
                                                    "Tainan", "Hsinchu"]}},
        {"type": "expect_column_value_lengths_to_be_between",
         "kwargs": {"column": "name", "min_value": 3, "max_value": 20}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "label", "value_set": [0, 1]}},
    ],
}


def make_data() -> None:
    if DATA.exists():
        return
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    cities = np.array(["Taipei", "Taichung", "Kaohsiung", "Tainan", "Hsinchu"])
    df = pd.DataFrame({
        "id": np.arange(ROWS),
        "age": rng.integers(18, 91, ROWS),
        "income": rng.normal(50_000, 15_000, ROWS).clip(0, 200_000).round(2),
        "city": cities[rng.integers(0, 5, ROWS)],
        "name": np.char.add("user_", rng.integers(0, 10**6, ROWS).astype(str)),
        "label": rng.integers(0, 2, ROWS),
    })
    DATA.parent.mkdir(parents=True, exist_ok=True)
    tmp = DATA.with_suffix(".tmp")
    df.to_csv(tmp, index=False)
    tmp.rename(DATA)


# --------------------------------------------------------------------- child processes


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    # Linux: writing 5 to clear_refs resets VmHWM to the current RSS.
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def child(mode: str, suite_path: str, workdir: str) -> None:
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import great_expectations as gx  # imported before timing on both paths
    import pandas as pd
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from aitrace.cli import main
    from aitrace.evidence import _gx  # noqa: F401 - aitrace's GX setup, imported up front

    os.chdir(workdir)
    _reset_peak()
    base = _rss()
    t0 = time.perf_counter()
    if mode.startswith("gx"):
        df = pd.read_csv(DATA)
        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        bd = (ctx.data_sources.add_pandas(name="p").add_dataframe_asset(name="df")
              .add_batch_definition_whole_dataframe("all"))
        suite = gx.ExpectationSuite(**json.loads(Path(suite_path).read_text()))
        fmt = "SUMMARY" if mode == "gx-summary" else _gx.RESULT_FORMAT
        if mode == "gx-batch":  # the quick-start form: batch.validate() builds the batch twice
            res = bd.get_batch(batch_parameters={"dataframe": df}).validate(
                suite, result_format=fmt)
        else:  # a ValidationDefinition, as aitrace runs it
            suite = ctx.suites.add(suite)
            vd = ctx.validation_definitions.add(
                gx.ValidationDefinition(name="v", data=bd, suite=suite))
            res = vd.run(batch_parameters={"dataframe": df}, result_format=fmt)
        ok = bool(res.success)
    elif mode == "aitrace-lib":  # the quality module alone: read + hash + check + validate
        from aitrace.evidence.gx.quality import validate_file

        ok = validate_file(DATA, suite_path).success
    else:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            rc = main(["check", str(DATA), "--suite", suite_path, "--stage", "cleaning",
                       "--json"])
        ok = rc == 0
    elapsed = time.perf_counter() - t0
    peak = _peak() - base
    size = int(pd.read_csv(DATA).memory_usage(deep=True).sum()) if mode == "aitrace" else 0
    print(json.dumps({"mode": mode, "seconds": elapsed, "peak_added": peak, "ok": ok,
                      "df_bytes": size}))


# --------------------------------------------------------------------- driver


def run(mode: str, suite_path: Path, workdir: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(suite_path),
                           str(workdir)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{mode} run failed")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    if not result["ok"]:
        raise SystemExit(f"{mode}: the suite did not pass on the benchmark data")
    return result


def main() -> int:
    from aitrace.store.workspace import Workspace

    make_data()
    work = Path(tempfile.mkdtemp(prefix="aitrace-bench-gx-"))
    Workspace.init(work, name="bench-gx")
    cfg = work / "aitrace.yaml"
    cfg.write_text(cfg.read_text().replace("  enabled: true", "  enabled: false"))
    suite_path = work / "suite.json"
    suite_path.write_text(json.dumps(SUITE))
    gx_runs: list[dict[str, float]] = []
    at_runs: list[dict[str, float]] = []
    lib_runs: list[dict[str, float]] = []
    for _ in range(ROUNDS):
        gx_runs.append(run("gx", suite_path, work))
        at_runs.append(run("aitrace", suite_path, work))
        lib_runs.append(run("aitrace-lib", suite_path, work))
    summary_run = run("gx-summary", suite_path, work)
    batch_run = run("gx-batch", suite_path, work)
    t_gx = statistics.median(r["seconds"] for r in gx_runs)
    t_at = statistics.median(r["seconds"] for r in at_runs)
    ratio = t_at / t_gx
    df_bytes = at_runs[0]["df_bytes"]
    peak_at = statistics.median(r["peak_added"] for r in at_runs)
    peak_gx = statistics.median(r["peak_added"] for r in gx_runs)
    mib = 2**20
    print(f"data: {DATA.stat().st_size / mib:.0f} MiB CSV, {ROWS:,} rows x 6 columns; "
          f"DataFrame {df_bytes / mib:.0f} MiB (deep)")
    print(f"plain GX (read_csv + ValidationDefinition.run, BASIC): median {t_gx:.2f} s "
          f"{[round(r['seconds'], 2) for r in gx_runs]}; peak +{peak_gx / mib:.0f} MiB")
    print(f"plain GX, default SUMMARY format:      {summary_run['seconds']:.2f} s")
    print(f"plain GX, batch.validate() (BASIC):    {batch_run['seconds']:.2f} s")
    print(f"aitrace check (read+hash+validate+record): median {t_at:.2f} s "
          f"{[round(r['seconds'], 2) for r in at_runs]}; peak +{peak_at / mib:.0f} MiB")
    t_lib = statistics.median(r["seconds"] for r in lib_runs)
    print(f"aitrace validate_file() (no step):      median {t_lib:.2f} s "
          f"{[round(r['seconds'], 2) for r in lib_runs]}; ratio {t_lib / t_gx:.3f}")
    print(f"aitrace check vs GX quick-start batch.validate(): {t_at / batch_run['seconds']:.3f}")
    mem_ratio = peak_at / df_bytes
    print(f"ratio aitrace/GX: {ratio:.3f} (bar <= {TIME_BAR}); "
          f"peak memory / DataFrame size: {mem_ratio:.2f} (bar <= ~{MEMORY_BAR}; "
          f"plain GX {peak_gx / df_bytes:.2f})")
    ok = ratio <= TIME_BAR and mem_ratio <= MEMORY_BAR * 1.05
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4])
        raise SystemExit(0)
    raise SystemExit(main())
