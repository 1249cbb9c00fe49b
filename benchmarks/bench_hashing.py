"""Hashing benchmarks: aitrace's digests against ``openssl dgst -sha256``, measured in one run.

OpenSSL is the per-core limit on these machines (about 4x coreutils' sha256sum), so every ratio
is taken against it, on the same page-cached data, in the same run:

1. one 1 GiB file: aitrace ``Hasher`` throughput / ``openssl dgst -sha256 FILE``  (>= 0.95);
2. a directory of >= 2,000 files totalling >= 1 GiB: aitrace (all cores, fresh digest cache,
   i.e. a first recording) against the single-stream baseline ``openssl dgst -sha256 F1 F2 ...``
   (one OpenSSL process hashing every file in turn: the same work, one core, no pipe)  (>= 1.7x);
3. re-recording a step whose inputs did not change: digest time with the cache warm (a new
   ``Hasher`` and ``DigestCache``, as a new process would have) / the first hashing time
   (<= 0.05), for the directory, the big file, and both as one step's inputs.

Data is generated once under benchmarks/.data/ (gitignored) and reused.
Run: ``.venv/bin/python benchmarks/bench_hashing.py`` (or ``make bench``); exit 1 = a bar missed.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aitrace.store.digest import DigestCache, Hasher

DATA = Path(__file__).resolve().parent / ".data"
BIG = DATA / "big.bin"
TREE = DATA / "tree"
GIB = 1 << 30
TREE_FILES = 2200
RUNS = 3


def _fill_random(path: Path, size: int, rng: random.Random) -> None:
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(left, 8 << 20)
            fh.write(rng.randbytes(n))
            left -= n


def ensure_data() -> list[Path]:
    """Create (once) the 1 GiB file and the tree; return the tree's files in sorted order."""
    DATA.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261129)
    if not BIG.is_file() or BIG.stat().st_size != GIB:
        print(f"generating {BIG} (1 GiB) ...", flush=True)
        _fill_random(BIG, GIB, rng)
    done = TREE / ".complete"
    if not done.is_file():
        print(f"generating {TREE} ({TREE_FILES} files, > 1 GiB) ...", flush=True)
        shutil.rmtree(TREE, ignore_errors=True)
        total, i = 0, 0
        while i < TREE_FILES or total < GIB + (64 << 20):
            size = rng.randint(1, 1 << 20)  # 1 byte .. 1 MiB, mean 512 KiB
            d = TREE / f"d{i % 37:02d}" / f"s{i % 5}"
            d.mkdir(parents=True, exist_ok=True)
            _fill_random(d / f"f{i:05d}.bin", size, rng)
            total += size
            i += 1
        done.write_text(f"{i} files, {total} bytes\n")
    files = sorted(p for p in TREE.rglob("*.bin"))
    assert len(files) >= 2000
    assert sum(p.stat().st_size for p in files) >= GIB
    return files


def warm(paths: list[Path]) -> None:
    """Read everything once so every contender sees page-cached data."""
    buf = bytearray(8 << 20)
    for p in paths:
        with open(p, "rb", buffering=0) as fh:
            while fh.readinto(buf):  # type: ignore[attr-defined]
                pass


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_of(fn: Callable[[], object], runs: int = RUNS) -> float:
    return statistics.median(timed(fn) for _ in range(runs))


def openssl(paths: list[Path]) -> None:
    subprocess.run(["openssl", "dgst", "-sha256", *map(str, paths)], check=True,
                   stdout=subprocess.DEVNULL)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    if shutil.which("openssl") is None:
        print("openssl not found: cannot measure the baseline", file=sys.stderr)
        return 2
    files = ensure_data()
    tree_bytes = sum(p.stat().st_size for p in files)
    warm([BIG, *files])
    cpus = os.cpu_count() or 1
    ssl = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {cpus} CPU(s); python {sys.version.split()[0]}; {ssl}")
    ok = True

    # 1. one big file
    t_ssl = median_of(lambda: openssl([BIG]))
    t_ait = median_of(lambda: Hasher().digest(BIG))
    r1 = t_ssl / t_ait
    ok &= r1 >= 0.95
    print(f"[1] 1 GiB file         openssl {GIB / t_ssl / GIB:.2f} GiB/s ({t_ssl:.3f} s)   "
          f"aitrace {GIB / t_ait / GIB:.2f} GiB/s ({t_ait:.3f} s)   "
          f"throughput ratio {r1:.2f} (>= 0.95) {verdict(r1 >= 0.95)}")

    # 2. a directory of many files; aitrace as in a first recording (fresh cache)
    scratch = Path(tempfile.mkdtemp(prefix="bench-cache-", dir=DATA))
    try:
        def first_tree(n: list[int] = [0]) -> None:  # noqa: B006 - a run counter
            n[0] += 1
            Hasher(cache=DigestCache(scratch / f"tree-{n[0]}.sqlite")).digest(TREE)

        t_ssl = median_of(lambda: openssl(files))
        t_ait = median_of(first_tree)
        t_nocache = median_of(lambda: Hasher().digest(TREE))
        r2 = t_ssl / t_ait
        ok &= r2 >= 1.7
        print(f"[2] {len(files)} files, {tree_bytes / GIB:.2f} GiB   "
              f"openssl single stream ({'openssl dgst -sha256 F1 F2 ...'}) {t_ssl:.3f} s   "
              f"aitrace {cpus} threads, fresh cache {t_ait:.3f} s (no cache {t_nocache:.3f} s)   "
              f"speed-up {r2:.2f}x (>= 1.7) {verdict(r2 >= 1.7)}")

        # 3. re-recording unchanged inputs: first hashing (cold cache) vs cached
        for label, inputs in (("directory", [TREE]), ("1 GiB file", [BIG]),
                              ("both (one step)", [BIG, TREE])):
            db = scratch / f"rerecord-{label[:4]}.sqlite"
            t_first = timed(lambda inputs=inputs, db=db: Hasher(cache=DigestCache(db))
                            .digest_many(inputs))
            first = Hasher(cache=DigestCache(db)).digest_many(inputs)
            t_again = median_of(lambda inputs=inputs, db=db: Hasher(cache=DigestCache(db))
                                .digest_many(inputs), runs=5)
            assert Hasher(cache=DigestCache(db)).digest_many(inputs) == first
            r3 = t_again / t_first
            ok &= r3 <= 0.05
            print(f"[3] re-record {label:<16} first {t_first:.3f} s   "
                  f"cached {t_again * 1000:.1f} ms   "
                  f"ratio {r3:.3f} (<= 0.05) {verdict(r3 <= 0.05)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
