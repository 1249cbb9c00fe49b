"""Formats aitrace emits stay byte-identical across versions (goldens, --update-goldens)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from aitrace.record.jsonio import canonical_bytes, pretty_bytes
from aitrace.record.models import (
    STEP_FORMAT,
    Actor,
    Artifact,
    CodeVersion,
    Command,
    Environment,
    EvidenceRef,
    MlflowLink,
    Step,
    Subject,
)
from aitrace.signing.dsse import IN_TOTO_PAYLOAD_TYPE, dsse_sign, make_statement
from aitrace.signing.keys import load_signer
from aitrace.store.digest import Hasher

Golden = Callable[[str, bytes], None]
ASSETS = Path(__file__).resolve().parent / "assets" / "goldens"
HEX = "ab" * 32


def _step() -> Step:
    return Step(
        format=STEP_FORMAT, id="0190aaaabbbbccccdddd0000", record_id="0190aaaa00000000ffff0000",
        seq=2, stage="training", status="succeeded", started_at="2026-01-02T03:04:05.000006Z",
        ended_at="2026-01-02T03:04:07.500000Z", actor=Actor(user="ana", host="lab-01"),
        prev="cd" * 32, command=Command(argv=("python", "train.py", "--password", "[REDACTED]"),
                                        exit_code=0, cwd="."),
        code=CodeVersion(commit="f" * 40, branch="main", dirty=True, diff_sha256="ef" * 32,
                         remote="https://git.example/ml/wine.git"),
        environment=Environment(python="3.11.7", implementation="CPython", platform="Linux",
                                machine="x86_64", cpu_count=2, memory_bytes=2**34,
                                distributions_sha256=HEX, variables={"PYTHONHASHSEED": "0"}),
        materials=(Artifact(path="data/clean.csv", type="file", sha256="01" * 32, size=1024,
                            license="CC-BY-4.0", role="dataset"),
                   Artifact(path="https://example.org/base", type="uri", origin="vendor",
                            license="Apache-2.0")),
        products=(Artifact(path="models", type="directory", sha256="02" * 32, size=4096),),
        evidence=(EvidenceRef(kind="gx-validation", media_type="application/json", sha256=HEX,
                              size=10, name="gx:clean", summary={"success": True, "rows": 3},
                              subject=Subject(path="data/clean.csv", sha256="01" * 32),
                              bound=True),),
        mlflow=(MlflowLink(tracking_uri="sqlite:///x/mlflow.db", experiment_id="1",
                           run_id="r" * 32, role="step", run_name="training-0190",
                           data_sha256="03" * 32),),
        params={"depth": "6", "名": "值"}, metrics={"accuracy": 0.925, "loss": 1e-05},
        description="golden step")


def test_step_canonical_form_and_digest(golden: Golden) -> None:
    step = _step()
    golden("step.canonical.json", canonical_bytes(step.to_dict()))
    golden("step.digest.txt", (step.digest + "\n").encode())
    assert Step.from_dict(json.loads(pretty_bytes(step.to_dict()))) == step


def test_directory_manifest_and_digest(golden: Golden, tmp_path: Path) -> None:
    root = tmp_path / "d"
    (root / "sub").mkdir(parents=True)
    (root / "b.csv").write_bytes(b"x,y\n1,2\n")
    (root / "sub" / "é.txt").write_bytes("ünïcode\n".encode())
    (root / "a.bin").write_bytes(bytes(range(256)))
    os.symlink("/etc/hostname", root / "outside")
    hasher = Hasher()
    manifest = hasher.manifest(root)
    golden("dir.manifest.json", canonical_bytes(manifest))
    golden("dir.digest.txt", (hasher.digest(root).ref + "\n").encode())


def test_dsse_envelope_with_a_fixed_key(golden: Golden) -> None:
    """RFC 6979 makes ECDSA deterministic: a fixed key and payload give a fixed envelope."""
    signer = load_signer(ASSETS / "test-only-p256.key")
    statement = make_statement([("model.pkl", "04" * 32)], "https://aitrace.dev/test/v1",
                               {"note": "golden"})
    envelope = dsse_sign(canonical_bytes(statement), IN_TOTO_PAYLOAD_TYPE, [signer])
    golden("envelope.dsse.json", pretty_bytes(envelope))
