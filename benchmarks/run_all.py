"""Run every ``benchmarks/bench_*.py`` in turn (``make bench``); exit 1 if any missed its bar."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    failed: list[str] = []
    for script in sorted(here.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run([sys.executable, str(script)], check=False).returncode
        print(f"== {script.name}: exit {rc} in {time.perf_counter() - t0:.1f} s\n", flush=True)
        if rc != 0:
            failed.append(script.name)
    if failed:
        print("missed a bar: " + ", ".join(failed))
        return 1
    print("all benchmarks met their bars")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
