"""The shared PostgreSQL record store (issue 15): append latency, throughput, memory, scale.

1. Appends: 8 writer processes append ``--appends`` steps each to one record, once with
   ``pg_advisory_xact_lock`` and once with ``SELECT … FOR UPDATE`` on the record's row; each
   process reports every append's latency and its peak RSS. Prints p50/p95/max and throughput.
2. Scale: a record of ``--steps`` (100,000) steps, bulk-inserted (COPY) as the exact bytes the
   store writes, then ``aitrace log --limit 50``, ``aitrace log`` (all, to /dev/null),
   ``aitrace status`` and ``aitrace bundle`` are timed in fresh processes with their peak RSS.

The server is a throwaway cluster (``tests.helpers.postgres``; fsync off unless ``--durable``).
Run: ``.venv/bin/python benchmarks/bench_pgstore.py [--appends 100] [--steps 100000]``.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.helpers.postgres import start_server  # noqa: E402

WRITER = r"""
import json, resource, sys, time
from aitrace.record.models import STEP_FORMAT, Actor, Step
from aitrace.record.times import utc_now
from aitrace.store.postgres.store import PostgresStore
from aitrace.store.workspace import new_id
url, name, lock, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = PostgresStore(url, name, lock=lock)
rid = store.record.id
def build(seq, prev):
    now = utc_now()
    return Step(format=STEP_FORMAT, id=new_id(), record_id=rid, seq=seq, stage="training",
                status="succeeded", started_at=now, ended_at=now,
                actor=Actor(user="bench", host="h"), prev=prev)
lat = []
for _ in range(n):
    t = time.perf_counter(); store.append(build); lat.append(time.perf_counter() - t)
print(json.dumps({"lat": lat, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

TIMED = r"""
import resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
dt = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{dt:.3f} {rss:.0f} {p.returncode} {p.stderr[-300:]!r}")
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            "MLFLOW_DISABLE_TELEMETRY": "true"}


def _new_record(url: str, name: str) -> str:
    from aitrace.record.models import RECORD_FORMAT, Record
    from aitrace.record.times import utc_now
    from aitrace.store.postgres.store import PostgresStore
    from aitrace.store.workspace import new_id

    store = PostgresStore(url, name)
    record, _ = store.create_or_join(Record(format=RECORD_FORMAT, id=new_id(), name=name,
                                            created_at=utc_now()))
    store.close()
    return record.id


def bench_appends(url: str, appends: int, writers: int) -> None:
    for lock in ("advisory", "row"):
        name = f"bench-{lock}"
        _new_record(url, name)
        t0 = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, name, lock, str(appends)],
                                  stdout=subprocess.PIPE, text=True, env=_env())
                 for _ in range(writers)]
        outs = [json.loads(p.communicate()[0]) for p in procs]
        wall = time.perf_counter() - t0
        lat = sorted(x for o in outs for x in o["lat"])
        q = statistics.quantiles(lat, n=100)
        total = len(lat)
        # throughput over the time all writers were appending (process start-up excluded)
        busy = max(sum(o["lat"]) for o in outs)
        print(f"{lock:<9} {writers} writers x {appends}: p50 {q[49] * 1e3:.1f} ms  "
              f"p95 {q[94] * 1e3:.1f} ms  max {lat[-1] * 1e3:.1f} ms  "
              f"throughput {total / busy:.0f} appends/s (wall incl. start-up {wall:.1f} s)  "
              f"writer peak RSS {max(o['rss_mb'] for o in outs):.0f} MB")


def bench_scale(url: str, steps: int) -> None:
    import hashlib

    import psycopg

    from aitrace.record.models import STEP_FORMAT, Actor, Step
    from aitrace.store.workspace import new_id

    name = "bench-scale"
    rid = _new_record(url, name)
    t0 = time.perf_counter()
    prev = None
    stages = ("problem", "collection", "cleaning", "training", "evaluation")
    rows = []
    for seq in range(1, steps + 1):
        ts = "2025-01-01T00:00:00Z"
        step = Step(format=STEP_FORMAT, id=new_id(), record_id=rid, seq=seq,
                    stage=stages[seq % len(stages)], status="succeeded",  # type: ignore[arg-type]
                    started_at=ts, ended_at=ts, actor=Actor(user="bench", host="h"),
                    prev=prev, params={"i": str(seq)})
        data = step.file_bytes
        digest = hashlib.sha256(data).hexdigest()
        rows.append((rid, seq, step.id, digest, prev, step.stage, "succeeded", data))
        prev = digest
    copy_sql = ("COPY aitrace_steps (record_id, seq, step_id, digest, prev, stage, status, body) "
                "FROM STDIN")
    with psycopg.connect(url) as conn, conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for r in rows:
            copy.write_row(r)
    print(f"scale: {steps} steps generated and COPYed in {time.perf_counter() - t0:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        run = [sys.executable, "-m", "aitrace"]
        subprocess.run([*run, "init", "--store", url, "--name", name], cwd=ws, env=_env(),
                       check=True, capture_output=True)
        subprocess.run([*run, "keygen", "-o", str(Path(tmp) / "k")], cwd=ws, env=_env(),
                       check=True, capture_output=True)
        for label, args in (("log --limit 50", ["log", "--limit", "50"]),
                            ("log (all)", ["log"]), ("status", ["status"]),
                            ("bundle", ["bundle", "-k", str(Path(tmp) / "k.key"), "-o",
                                        str(Path(tmp) / "r.aitrace")])):
            out = subprocess.run([sys.executable, "-c", TIMED, *run, *args], cwd=ws, env=_env(),
                                 capture_output=True, text=True, check=True).stdout.split(" ", 3)
            print(f"scale {steps}: aitrace {label:<15} {float(out[0]):6.2f} s  peak RSS "
                  f"{out[1]} MB  exit {out[2]}" + (f"  {out[3].strip()}" if out[2] != "0" else ""))
        size = (Path(tmp) / "r.aitrace").stat().st_size if (Path(tmp) / "r.aitrace").exists() else 0
        print(f"scale {steps}: bundle size {size / 1e6:.1f} MB")


def main() -> None:
    """Run both parts and print the numbers."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--appends", type=int, default=100, help="appends per writer")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--steps", type=int, default=100_000, help="steps of the scale record")
    ap.add_argument("--durable", action="store_true", help="fsync on")
    args = ap.parse_args()
    server = start_server(durable=args.durable)
    try:
        url = server.url()
        print(f"PostgreSQL at {url} (fsync {'on' if args.durable else 'off'}), "
              f"{os.cpu_count()} CPUs")
        bench_appends(url, args.appends, args.writers)
        if args.steps:
            bench_scale(url, args.steps)
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
