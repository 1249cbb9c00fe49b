"""Formats aitrace emits stay byte-identical across versions (goldens, --update-goldens).

Format v2 goldens are the files as written (RFC 8785 bytes, dirHash listings); the ``-v1``
goldens pin what a workspace not yet migrated still writes, so its chain never changes meaning.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from aitrace.record.jsonio import canonical_bytes, legacy_canonical_bytes
from aitrace.record.models import (
    STEP_FORMAT_V1,
    STEP_FORMAT_V2,
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


def _step(fmt: str = STEP_FORMAT_V2) -> Step:
    v1 = fmt == STEP_FORMAT_V1
    return Step(
        format=fmt, id="0190aaaabbbbccccdddd0000", record_id="0190aaaa00000000ffff0000",  # type: ignore[arg-type]
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
        products=(Artifact(path="models", type="directory", sha256="02" * 32 if v1 else None,
                           dirHash=None if v1 else "02" * 32, size=4096),),
        evidence=(EvidenceRef(kind="gx-validation", media_type="application/json", sha256=HEX,
                              size=10, name="gx:clean", summary={"success": True, "rows": 3},
                              subject=Subject(path="data/clean.csv", sha256="01" * 32),
                              bound=True),),
        mlflow=(MlflowLink(tracking_uri="sqlite:///x/mlflow.db", experiment_id="1",
                           run_id="r" * 32, role="step", run_name="training-0190",
                           data_sha256="03" * 32),),
        params={"depth": "6", "名": "值"}, metrics={"accuracy": 0.925, "loss": 1e-05},
        description="golden step")


def test_step_file_and_digest(golden: Golden) -> None:
    """Format v2: the file is the RFC 8785 form; its plain sha256 is the digest."""
    step = _step()
    golden("step.json", step.file_bytes)
    golden("step.digest.txt", (step.digest + "\n").encode())
    assert step.file_bytes == canonical_bytes(step.to_dict())
    assert step.digest == hashlib.sha256(step.file_bytes).hexdigest()
    assert Step.from_dict(json.loads(step.file_bytes)) == step


def test_v1_step_canonical_form_and_digest_are_unchanged(golden: Golden) -> None:
    step = _step(STEP_FORMAT_V1)
    golden("step-v1.canonical.json", legacy_canonical_bytes(step.to_dict()))
    golden("step-v1.digest.txt", (step.digest + "\n").encode())
    assert Step.from_dict(json.loads(step.file_bytes)) == step


def _golden_tree(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    (root / "b.csv").write_bytes(b"x,y\n1,2\n")
    (root / "sub" / "é.txt").write_bytes("ünïcode\n".encode())
    (root / "a.bin").write_bytes(bytes(range(256)))
    os.symlink("b.csv", root / "inside")


def test_directory_listing_and_dirhash(golden: Golden, tmp_path: Path) -> None:
    root = tmp_path / "d"
    _golden_tree(root)
    d = Hasher().digest(root)
    assert d.listing is not None
    golden("dir.listing.txt", d.listing)
    golden("dir.dirhash.txt", (d.ref + "\n").encode())


def test_v1_directory_manifest_and_digest_are_unchanged(golden: Golden, tmp_path: Path) -> None:
    root = tmp_path / "d"
    _golden_tree(root)
    (root / "inside").unlink()
    os.symlink("/etc/hostname", root / "outside")
    hasher = Hasher(legacy_dirs=True)
    manifest = hasher.manifest(root)
    golden("dir-v1.manifest.json", legacy_canonical_bytes(manifest))
    golden("dir-v1.digest.txt", (hasher.digest(root).ref + "\n").encode())


def test_dsse_envelope_with_a_fixed_key(golden: Golden) -> None:
    """RFC 6979 makes ECDSA deterministic: a fixed key and payload give a fixed envelope."""
    signer = load_signer(ASSETS / "test-only-p256.key")
    statement = make_statement([("model.pkl", "04" * 32)], "https://aitrace.dev/test/v1",
                               {"note": "golden"})
    envelope = dsse_sign(canonical_bytes(statement), IN_TOTO_PAYLOAD_TYPE, [signer])
    golden("envelope.dsse.json", canonical_bytes(envelope))
