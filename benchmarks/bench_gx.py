"""``aitrace check`` vs plain Great Expectations: in-process on 1M rows, and whole processes.

**In process** (issue 3): validating a 1,000,000-row × 6-column CSV with a 10-expectation suite
through ``aitrace check`` (in-process ``aitrace.cli.main``: read + hash + validate + record the
step and evidence, MLflow linking off) costs <= 1.15x the same validation done with plain GX
(``pd.read_csv`` + an ephemeral context + a ``ValidationDefinition`` with the same result
format), both including the CSV read, both with GX already imported; and the peak memory the
aitrace path adds is <= ~2x the DataFrame's own size (``memory_usage(deep=True)``). Each
measurement runs in a fresh interpreter, alternating plain GX and aitrace; the bar uses the
median of ``ROUNDS`` rounds.

**Whole processes** (issue 13): ``python plain_gx.py DATA SUITE`` (the same validation as a
user's script: imports, read, context, run) against ``python -m aitrace check DATA --suite
SUITE --stage cleaning --no-mlflow`` — both including every import — interleaved round by round:
on a 200,000-row CSV aitrace is <= 1.10x plain GX, and on a 250 KB CSV <= plain GX + 0.3 s.
``aitrace check`` with MLflow linking on (the default) is shown beside them, without a bar: the
MLflow step overhead is its own work item.

``--pieces`` profiles one ``aitrace check`` of each CSV (cProfile, cumulative seconds of GX's
import, the read + hash, suite preparation, validation, step start, step end and the append)
to show where the time goes. Data lives in benchmarks/.data/.
Run: ``.venv/bin/python benchmarks/bench_gx.py [--part in-process|processes] [--pieces]``;
exit 1 = a bar missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import REPO, child_env, interleaved, python  # noqa: E402

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


def make_data(path: Path = DATA, rows: int = ROWS) -> None:
    if path.exists():
        return
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    cities = np.array(["Taipei", "Taichung", "Kaohsiung", "Tainan", "Hsinchu"])
    df = pd.DataFrame({
        "id": np.arange(rows),
        "age": rng.integers(18, 91, rows),
        "income": rng.normal(50_000, 15_000, rows).clip(0, 200_000).round(2),
        "city": cities[rng.integers(0, 5, rows)],
        "name": np.char.add("user_", rng.integers(0, 10**6, rows).astype(str)),
        "label": rng.integers(0, 2, rows),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    df.to_csv(tmp, index=False)
    tmp.rename(path)


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
    from aitrace.evidence.gx import _context as _gx  # aitrace's GX setup, imported up front

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


def main_in_process() -> bool:
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
    return ok


# --------------------------------------------------------------------- whole processes

PROCESS_ROUNDS = 5
PROCESS_RATIO_BAR = 1.10
SMALL_DIFF_BAR = 0.3
DATA_200K = HERE / ".data" / "gx_200k.csv"
DATA_250KB = HERE / ".data" / "gx_250kb.csv"  # 6,400 rows, about 250 KB

PLAIN_GX = """\
import json, sys

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig

df = pd.read_csv(sys.argv[1])
ctx = gx.get_context(mode="ephemeral")
ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
batch = (ctx.data_sources.add_pandas(name="p").add_dataframe_asset(name="df")
         .add_batch_definition_whole_dataframe("all"))
with open(sys.argv[2]) as fh:
    suite = ctx.suites.add(gx.ExpectationSuite(**json.load(fh)))
vd = ctx.validation_definitions.add(gx.ValidationDefinition(name="v", data=batch, suite=suite))
result = vd.run(batch_parameters={"dataframe": df},
                result_format={"result_format": "BASIC", "partial_unexpected_count": 0})
print("success" if result.success else "failed")
"""


def _suite_for(rows: int) -> dict[str, Any]:
    suite = json.loads(json.dumps(SUITE))
    for e in suite["expectations"]:
        if e["type"] == "expect_table_row_count_to_be_between":
            e["kwargs"] = {"min_value": rows // 2, "max_value": rows * 2}
    return suite


def _process_workspace() -> Path:
    from aitrace.store.workspace import Workspace

    work = Path(tempfile.mkdtemp(prefix="aitrace-bench-gx-proc-"))
    Workspace.init(work, name="bench-gx")  # MLflow linking on, as by default
    (work / "plain_gx.py").write_text(PLAIN_GX)
    for name, rows in (("200k", 200_000), ("250kb", 6_400)):
        (work / f"suite_{name}.json").write_text(json.dumps(_suite_for(rows)))
    return work


def main_processes(rounds: int) -> bool:
    make_data(DATA_200K, 200_000)
    make_data(DATA_250KB, 6_400)
    work = _process_workspace()
    env = child_env([REPO / "src", REPO / "plugins/aitrace-sklearn/src"])
    ok = True
    for name, data in (("200k", DATA_200K), ("250kb", DATA_250KB)):
        suite = str(work / f"suite_{name}.json")
        check = [python(), "-m", "aitrace", "check", str(data), "--suite", suite,
                 "--stage", "cleaning"]
        cmds: dict[str, Any] = {
            f"plain GX script, {name}": ([python(), str(work / "plain_gx.py"), str(data),
                                          suite], env, work),
            f"aitrace check --no-mlflow, {name}": ([*check, "--no-mlflow"], env, work),
            f"aitrace check (MLflow on), {name}": (check, env, work),
        }
        res = interleaved(cmds, rounds)
        plain, ours, linked = res.values()
        print(f"{data.name}: {data.stat().st_size / 1024:,.0f} KiB")
        for s in res.values():
            print("  " + s.line(plain))
        if name == "200k":
            good = ours.median / plain.median <= PROCESS_RATIO_BAR
            print(f"  aitrace/plain {ours.median / plain.median:.3f} (bar <= "
                  f"{PROCESS_RATIO_BAR}): {'PASS' if good else 'FAIL'}")
        else:
            good = ours.median - plain.median <= SMALL_DIFF_BAR
            print(f"  aitrace - plain {ours.median - plain.median:+.3f} s (bar <= "
                  f"+{SMALL_DIFF_BAR} s): {'PASS' if good else 'FAIL'}")
        print(f"  (MLflow on: {linked.median / plain.median:.3f}x, "
              f"{linked.median - plain.median:+.3f} s; no bar here)")
        ok &= good
    return ok


# --------------------------------------------------------------------- pieces

PIECES = (
    ("import great_expectations", "great_expectations/__init__.py", "<module>"),
    ("aitrace GX setup (_context import)", "aitrace/evidence/gx/_context.py", "<module>"),
    ("read + hash the data", "aitrace/evidence/gx/data.py", "read_data"),
    ("prepare suites", "aitrace/evidence/gx/suites.py", "prepare_checks"),
    ("validate (GX)", "aitrace/evidence/gx/quality.py", "run_check"),
    ("  ephemeral context", "aitrace/evidence/gx/_context.py", "ephemeral_context"),
    ("attach the result", "aitrace/evidence/gx/quality.py", "attach_check"),
    ("step start (hash inputs, code version, marker, begin)", "aitrace/hooks/tracker.py",
     "__enter__"),
    ("step end (contributors, bind, append)", "aitrace/hooks/tracker.py", "_finish"),
    ("  contributors (environment, SBOM, GX totals, MLflow)", "aitrace/hooks/tracker.py",
     "_contribute"),
    ("  append (chain re-read, fsynced write)", "aitrace/store/workspace.py", "append"),
    ("  put_object (fsynced)", "aitrace/store/workspace.py", "put_object"),
)


def pieces() -> None:
    import pstats

    make_data(DATA_200K, 200_000)
    make_data(DATA_250KB, 6_400)
    work = _process_workspace()
    env = child_env([REPO / "src", REPO / "plugins/aitrace-sklearn/src"])
    for name, data in (("250kb", DATA_250KB), ("200k", DATA_200K)):
        for mlflow in ("--no-mlflow", "--mlflow"):
            prof = work / f"check-{name}{mlflow}.prof"
            cmd = [python(), "-m", "cProfile", "-o", str(prof), "-m", "aitrace", "check",
                   str(data), "--suite", str(work / f"suite_{name}.json"), "--stage",
                   "cleaning", mlflow]
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=work, env=env, check=True, capture_output=True)
            wall = time.perf_counter() - t0
            stats: Any = pstats.Stats(str(prof)).stats
            print(f"aitrace check {data.name} {mlflow}: {wall:.2f} s wall under cProfile")
            for label, file_end, func in PIECES:
                total = sum(v[3] for (f, _line, fn), v in stats.items()
                            if f.endswith(file_end) and fn == func)
                print(f"  {total:7.3f} s  {label}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "in-process", "processes"), default="all")
    parser.add_argument("--rounds", type=int, default=PROCESS_ROUNDS,
                        help="rounds of the whole-process comparison")
    parser.add_argument("--pieces", action="store_true",
                        help="only profile where an aitrace check spends its time")
    args = parser.parse_args()
    if args.pieces:
        pieces()
        return 0
    ok = True
    if args.part in ("all", "processes"):
        ok &= main_processes(args.rounds)
    if args.part in ("all", "in-process"):
        ok &= main_in_process()
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4])
        raise SystemExit(0)
    raise SystemExit(main())
