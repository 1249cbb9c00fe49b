"""Peak memory of bundling and verifying a record with 2 GiB of artifacts (issue 5: < 150 MB).

A record (training -> deployment) whose released model is a generated 2 GiB file; the bundle
embeds it with ``--include`` (so writing streams it) and also signs it with OpenSSF
model-signing; verification streams it again (member digests) and hashes it as ``--artifact``.
Each phase runs in a fresh child process that reports its own peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``); the baseline is a child that only imports the
same modules, so the ratio shows what the work itself costs.

Run: ``.venv/bin/python benchmarks/bench_bundle_memory.py [--size-mib N]``; exit 1 if a phase
exceeds the bar. Data lives in a temporary directory (about 2 x the size on disk).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BAR_MB = 150.0
MiB = 1024 * 1024

CHILD = r"""
import json, os, resource, sys, time
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
from pathlib import Path
phase, root = sys.argv[1], Path(sys.argv[2])
MiB = 1024 * 1024
import aitrace.bundle.write
import aitrace.verify.bundle
t0 = time.perf_counter()
detail = ""
if phase == "bundle":
    from aitrace.store.workspace import Workspace
    from aitrace.signing.keys import load_signer
    ws = Workspace(root / "project")
    info = aitrace.bundle.write.build_bundle(
        ws, [load_signer(root / "key.key")], root / "big.aitrace",
        include=[root / "project/dist/model.bin"], model_signing_key=root / "key.key")
    detail = f"{info.size / MiB:,.0f} MiB archive, {info.members} members"
elif phase == "verify":
    from aitrace.signing.keys import load_public_key
    report = aitrace.verify.bundle.verify_bundle(
        root / "big.aitrace", [load_public_key(root / "key.pub")],
        artifacts=[root / "project/dist/model.bin"])
    assert report.ok, [c.message for c in report.failed]
    detail = report.verdict
elif phase == "baseline":
    import cyclonedx.validation.json  # what verify imports for the SBOM check
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"phase": phase, "peak_bytes": peak, "seconds": seconds, "detail": detail}))
"""


def _make_file(path: Path, size: int) -> None:
    """A generated file: 1 MiB of varied bytes per MiB (not sparse, not compressible)."""
    block = bytearray(os.urandom(MiB))
    with path.open("wb") as fh:
        for i in range(size // MiB):
            block[:8] = i.to_bytes(8, "little")
            fh.write(block)


def _record(root: Path, size: int) -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import aitrace
    from aitrace.signing.keys import generate_keypair
    from aitrace.store.workspace import Workspace

    project = root / "project"
    project.mkdir()
    ws, _ = Workspace.init(project, name="big-model")
    cfg = project / "aitrace.yaml"
    cfg.write_text(cfg.read_text().replace("  enabled: true", "  enabled: false"))
    ws = Workspace(project)
    (project / "dist").mkdir()
    with aitrace.stage("training", workspace=ws, sbom=False) as s:
        _make_file(project / "dist/model.bin", size)
        s.output(project / "dist/model.bin", role="model")
    with aitrace.stage("deployment", workspace=ws, inputs=[project / "dist/model.bin"],
                       sbom=False) as s:
        s.output(project / "dist/model.bin", role="model")
    generate_keypair(root / "key")


def _child(phase: str, root: Path) -> dict[str, object]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    out = subprocess.run([sys.executable, "-c", CHILD, phase, str(root)], check=False,
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{phase} failed:\n{out.stderr}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    args = parser.parse_args()
    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory(prefix="aitrace-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        _record(root, size)
        print(f"recorded a {size / MiB:,.0f} MiB model in {time.perf_counter() - t0:.1f} s")
        base = _child("baseline", root)
        base_mb = int(base["peak_bytes"]) / 1e6  # type: ignore[call-overload]
        print(f"baseline (imports only): peak RSS {base_mb:.1f} MB")
        worst = 0.0
        for phase in ("bundle", "verify"):
            r = _child(phase, root)
            mb = int(r["peak_bytes"]) / 1e6  # type: ignore[call-overload]
            worst = max(worst, mb)
            print(f"{phase:7s}: peak RSS {mb:.1f} MB ({mb / base_mb:.2f}x baseline, "
                  f"+{mb - base_mb:.1f} MB) in {float(r['seconds']):.1f} s"  # type: ignore[arg-type]
                  f" — {r['detail']}")
    ok = worst < BAR_MB
    print(f"peak RSS {worst:.1f} MB {'<' if ok else '>='} {BAR_MB:.0f} MB bar: "
          f"{'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
