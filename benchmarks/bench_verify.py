"""``aitrace verify``: the example bundle and a synthetic record of 10,000 steps and 100 SBOMs.

Bars (issue 13): verifying the example pipeline's bundle (ten stages, 13 steps, 4 SBOM
documents) takes <= 0.3 s wall — with or without ``rfc3987-syntax`` installed beside aitrace —
and a synthetic record of 10,000 steps holding 100 distinct ~150-component ML-BOMs verifies in
<= 10 s with a peak RSS < 200 MB.

Every measurement is a fresh ``python -m aitrace verify`` process (bytecode cached, as an
installed package has it), interleaved round by round with its baselines in the same run:

* ``python -c pass`` — the interpreter's own start-up;
* ``read floor`` — a plain-Python script that opens the same archive, hashes every member and
  parses every JSON member: the I/O and parsing no verifier can avoid.

Differences and ratios against those are printed, so a loaded machine moves both sides.
``--baseline-src DIR`` also runs the same verifications with another checkout's ``src`` (e.g.
``/work/main/src``) for a before/after ratio; ``--extra-path DIR`` adds a directory (e.g. one
made with ``pip install --target DIR rfc3987-syntax``) to ``PYTHONPATH`` for a second series
of the example bundle, which shows that the extra package no longer matters.

The example bundle is built once by ``examples/sklearn-pipeline/run_pipeline.py`` (about three
minutes, MLflow included) and the synthetic one by this script; both are kept under
``benchmarks/.data/`` (``--rebuild`` makes them again).
Run: ``.venv/bin/python benchmarks/bench_verify.py``; exit 1 = a bar missed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import REPO, child_env, interleaved, python  # noqa: E402

DATA = Path(__file__).resolve().parent / ".data"
EXAMPLE_DIR = DATA / "verify-example"
SYNTH_DIR = DATA / "verify-synthetic"
STEPS = 10_000
SBOMS = 100
COMPONENTS = 150
EXAMPLE_BAR = 0.3
SYNTH_TIME_BAR = 10.0
SYNTH_RSS_BAR = 200 * 2**20

READ_FLOOR = r"""
import hashlib, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as zf:
    for info in zf.infolist():
        data = zf.read(info)
        hashlib.sha256(data).hexdigest()
        if info.filename.endswith(".json"):
            json.loads(data)
"""

# ``aitrace verify`` refuses archives of more than ArchiveLimits.max_members (5,000) members, and
# a 10,000-step record has over 11,000: the synthetic bundle is verified through the API, as the
# CLI does it (same keys, default policy), with only that limit raised. It must get past every
# structural check (a verification that stops early would be fast for the wrong reason).
SYNTH_VERIFY = r"""
import json, sys
from pathlib import Path
from aitrace.bundle._zip.limits import ArchiveLimits
from aitrace.signing.keys import load_public_key
from aitrace.verify.bundle import verify_bundle
from aitrace.verify.policy import default_policy
report = verify_bundle(Path(sys.argv[1]), [load_public_key(Path(sys.argv[2]))],
                       policy=default_policy(), limits=ArchiveLimits(max_members=50_000))
print(json.dumps({"passed": sorted({c.id for c in report.checks if c.status == "passed"}),
                  "failed": sorted({c.id for c in report.failed})}))
"""
MUST_PASS = {"archive.safe", "members.digests", "signature.trusted", "steps.schema",
             "chain.hash", "chain.head", "chain.custody", "evidence.objects",
             "evidence.sbom-schema"}


# --------------------------------------------------------------------------- the example


def example_bundle(rebuild: bool) -> tuple[Path, list[str]]:
    """The example pipeline's bundle and the ``verify`` arguments its README uses."""
    work = EXAMPLE_DIR / "work"
    bundle = work / "wine-classifier-1.0.0.aitrace"
    if rebuild or not bundle.exists():
        shutil.rmtree(EXAMPLE_DIR, ignore_errors=True)
        EXAMPLE_DIR.mkdir(parents=True)
        print("building the example bundle (examples/sklearn-pipeline, ~3 min) ...", flush=True)
        subprocess.run([python(), str(REPO / "examples/sklearn-pipeline/run_pipeline.py"),
                        "--workdir", str(work)], check=True, stdout=subprocess.DEVNULL,
                       env=child_env([REPO / "src", REPO / "plugins/aitrace-sklearn/src"]))
    return bundle, [str(bundle), "--key", str(work / "keys/release.pub"),
                    "--key", str(work / "keys/reviewer.pub"),
                    "--artifact", str(work / "dist/wine-classifier.pkl")]


# --------------------------------------------------------------------------- the synthetic record


def _sbom_base() -> dict[str, Any]:
    """A real ~150-component ML-BOM made with cyclonedx-python-lib (libraries + the model)."""
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.license import DisjunctiveLicense
    from cyclonedx.output.json import JsonV1Dot6

    bom = Bom()
    top = Component(name="models/model.pkl", type=ComponentType.MACHINE_LEARNING_MODEL,
                    bom_ref="model", hashes=[HashType(alg=HashAlgorithm.SHA_256,
                                                      content="0" * 64)],
                    licenses=[DisjunctiveLicense(id="Apache-2.0")])
    libs = [Component(name=f"lib{i}", version=f"1.{i}.0", type=ComponentType.LIBRARY,
                      bom_ref=f"pkg:pypi/lib{i}@1.{i}.0", licenses=[DisjunctiveLicense(id="MIT")],
                      description=f"library number {i}")
            for i in range(COMPONENTS)]
    bom.metadata.component = top
    for lib in libs:
        bom.components.add(lib)
    bom.register_dependency(top, libs)
    doc: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string())
    doc["metadata"]["component"]["modelCard"] = {
        "modelParameters": {"task": "classification"},
        "quantitativeAnalysis": {"performanceMetrics": [{"type": "accuracy", "value": "0.9"}]}}
    return doc


def synthetic_bundle(rebuild: bool) -> tuple[Path, list[str]]:
    """10,000 steps (ten stages over and over, each consuming the last one's output), 100 SBOMs.

    Steps are written as ``Workspace.append`` writes them (``step.file_bytes`` in
    ``.aitrace/steps/NNNNNN.json``) but without its per-append chain re-read, which would make
    building the record quadratic; ``build_bundle`` then reads, checks and signs it as usual.
    """
    root = SYNTH_DIR / "project"
    bundle = SYNTH_DIR / "synthetic.aitrace"
    pub = SYNTH_DIR / "release.pub"
    if not rebuild and bundle.exists() and pub.exists():
        return bundle, [str(bundle), str(pub)]
    shutil.rmtree(SYNTH_DIR, ignore_errors=True)
    root.mkdir(parents=True)
    print(f"building the synthetic record ({STEPS:,} steps, {SBOMS} SBOMs) ...", flush=True)
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); " \
           f"import bench_verify as b; b._write_synthetic({str(root)!r}, {str(SYNTH_DIR)!r})"
    subprocess.run([python(), "-c", code], check=True,
                   env=child_env([REPO / "src", REPO / "plugins/aitrace-sklearn/src"]))
    return bundle, [str(bundle), str(pub)]


def _write_synthetic(root_text: str, out_text: str) -> None:
    from aitrace.bundle.write import build_bundle
    from aitrace.evidence.environment import ENVIRONMENT_MEDIA_TYPE, capture_environment
    from aitrace.evidence.sbom.validate import CYCLONEDX_MEDIA_TYPE, validate_bom
    from aitrace.record.jsonio import document_bytes
    from aitrace.record.models import (
        STEP_FORMAT,
        Actor,
        Artifact,
        Command,
        Environment,
        EvidenceRef,
        Step,
    )
    from aitrace.record.stages import EVIDENCE_ENVIRONMENT, EVIDENCE_SBOM, STAGE_IDS
    from aitrace.signing.keys import generate_keypair, load_signer
    from aitrace.store.files import create_exclusive
    from aitrace.store.workspace import Workspace

    root, out = Path(root_text), Path(out_text)
    ws, _ = Workspace.init(root, name="synthetic")
    key, _pub = generate_keypair(out / "release")
    env_summary, env_doc = capture_environment()
    env_bytes = document_bytes(env_doc)
    env_sha = ws.put_object(env_bytes)
    env = Environment(**{**env_summary.__dict__, "distributions_sha256": env_sha})
    env_ref = EvidenceRef(kind=EVIDENCE_ENVIRONMENT, media_type=ENVIRONMENT_MEDIA_TYPE,
                          sha256=env_sha, size=len(env_bytes), name="environment",
                          summary={"python": env.python,
                                   "distributions": len(env_doc["distributions"])})
    base = _sbom_base()
    assert validate_bom(base) is None
    every = STEPS // SBOMS
    prev: str | None = None
    last: Artifact = Artifact(path="https://example.org/raw.csv", type="uri",
                              origin="example.org open data", license="CC-BY-4.0")
    steps_dir = ws.dir / "steps"
    for seq in range(1, STEPS + 1):
        stage = STAGE_IDS[(seq - 1) % len(STAGE_IDS)]  # the tenth of each round: deployment
        with_sbom = seq % every == 0 or seq == STEPS
        product_sha = hashlib.sha256(f"artifact {seq}".encode()).hexdigest()
        product = Artifact(path=f"out/{stage}/{seq:06d}.bin", type="file", sha256=product_sha,
                           size=1000 + seq, role="model" if stage == "deployment" else None)
        evidence = [env_ref]
        if with_sbom:
            doc = json.loads(json.dumps(base))
            doc["metadata"]["component"]["name"] = product.path
            doc["metadata"]["component"]["hashes"][0]["content"] = product_sha
            data = document_bytes(doc)
            evidence.append(EvidenceRef(
                kind=EVIDENCE_SBOM, media_type=CYCLONEDX_MEDIA_TYPE, sha256=ws.put_object(data),
                size=len(data), name="ml-bom.cdx.json",
                summary={"model": {"path": product.path, "sha256": product_sha}}))
        t = f"2026-12-01T{(seq // 3600) % 24:02d}:{(seq // 60) % 60:02d}:{seq % 60:02d}Z"
        step = Step(format=STEP_FORMAT, id=hashlib.sha256(b"%d" % seq).hexdigest()[:28],
                    record_id=ws.record.id, seq=seq, stage=stage, status="succeeded",
                    started_at=t, ended_at=t, actor=Actor(user="bench", host="bench"),
                    prev=prev, command=Command(argv=("python", f"{stage}.py"), exit_code=0),
                    environment=env, materials=(last,), products=(product,),
                    evidence=tuple(evidence), params={"seq": str(seq), "stage": stage},
                    metrics={"accuracy": 0.9, "loss": 0.1}, description=f"step {seq}")
        create_exclusive(steps_dir / f"{seq:06d}.json", step.file_bytes, mode=0o444)
        prev = step.digest
        last = product
    build_bundle(Workspace(root), [load_signer(key)], out / "synthetic.aitrace")


# --------------------------------------------------------------------------- driver


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--synthetic-rounds", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, help="another checkout's src/ to compare")
    parser.add_argument("--extra-path", type=Path,
                        help="a directory holding rfc3987-syntax (pip install --target DIR)")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    example, ex_args = example_bundle(args.rebuild)
    synth, sy_args = synthetic_bundle(args.rebuild)
    ours = child_env([REPO / "src", REPO / "plugins/aitrace-sklearn/src"])
    verify = [python(), "-m", "aitrace", "verify"]
    cmds: dict[str, Any] = {
        "python -c pass": ([python(), "-c", "pass"], ours, None),
        "read floor: example": ([python(), "-c", READ_FLOOR, str(example)], ours, None),
        "aitrace verify: example": ([*verify, *ex_args], ours, None),
    }
    if args.extra_path:
        with_rfc = child_env([REPO / "src", REPO / "plugins/aitrace-sklearn/src",
                              args.extra_path])
        cmds["aitrace verify: example, rfc3987-syntax installed"] = (
            [*verify, *ex_args], with_rfc, None)
    if args.baseline_src:
        base_env = child_env([args.baseline_src])
        cmds["baseline src verify: example"] = ([*verify, *ex_args], base_env, None)
        if args.extra_path:
            cmds["baseline src verify: example, rfc3987-syntax"] = (
                [*verify, *ex_args], child_env([args.baseline_src, args.extra_path]), None)
    res = interleaved(cmds, args.rounds)
    big: dict[str, Any] = {
        "read floor: synthetic": ([python(), "-c", READ_FLOOR, str(synth)], ours, None),
        "aitrace verify: synthetic": ([python(), "-c", SYNTH_VERIFY, *sy_args], ours, None),
    }
    if args.baseline_src:
        big["baseline src verify: synthetic"] = (
            [python(), "-c", SYNTH_VERIFY, *sy_args], base_env, None)
    res.update(interleaved(big, args.synthetic_rounds, warm=False))
    for name in ("aitrace verify: synthetic", "baseline src verify: synthetic"):
        for r in res[name].runs if name in res else ():
            outcome = json.loads(r.stdout.strip().splitlines()[-1])
            missing = MUST_PASS - set(outcome["passed"])
            if missing:
                sys.exit(f"{name}: the synthetic bundle did not pass {sorted(missing)} "
                         f"(failed: {outcome['failed']})")

    interp, floor = res["python -c pass"], res["read floor: example"]
    print(f"example: {example.stat().st_size / 1024:.0f} KiB bundle; synthetic: "
          f"{synth.stat().st_size / 2**20:.1f} MiB bundle, {STEPS:,} steps, {SBOMS} SBOMs")
    print(interp.line())
    print(floor.line(interp))
    ok = True
    for name, s in res.items():
        if name.startswith("aitrace verify: example") or name.startswith("baseline src verify: "
                                                                            "example"):
            print(s.line(interp))
            good = s.median <= EXAMPLE_BAR
            if name.startswith("aitrace"):
                ok &= good
                print(f"    vs read floor {s.median - floor.median:+.3f} s; bar <= "
                      f"{EXAMPLE_BAR} s: {'PASS' if good else 'FAIL'}")
    sfloor = res["read floor: synthetic"]
    print(sfloor.line(interp))
    for name in ("aitrace verify: synthetic", "baseline src verify: synthetic"):
        if name in res:
            s = res[name]
            print(s.line(sfloor))
            if name.startswith("aitrace"):
                good = s.median <= SYNTH_TIME_BAR and s.peak_rss < SYNTH_RSS_BAR
                ok &= good
                print(f"    bar <= {SYNTH_TIME_BAR:.0f} s and < {SYNTH_RSS_BAR // 2**20} MiB: "
                      f"{'PASS' if good else 'FAIL'}")
    if args.baseline_src:
        for what in ("example", "synthetic"):
            new, old = res[f"aitrace verify: {what}"], res[f"baseline src verify: {what}"]
            print(f"this checkout / baseline src, {what}: {new.median / old.median:.2f}x "
                  f"({new.median - old.median:+.3f} s)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    raise SystemExit(main())

