"""Evidence checks in verification: GX results bound to the step's data, SBOMs valid CycloneDX."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import aitrace
from aitrace.bundle.write import build_bundle
from aitrace.record.stages import EVIDENCE_GX, EVIDENCE_SBOM
from aitrace.signing.keys import load_public_key, load_signer
from aitrace.store.workspace import Workspace
from aitrace.verify.bundle import verify_bundle
from tests.helpers.bundle import SBOM_MEDIA, Keys, gx_result, small_sbom


def _bundle(ws: Workspace, keys: Keys, tmp_path: Path) -> Path:
    out = tmp_path / "b.aitrace"
    build_bundle(ws, [load_signer(keys.key)], out)
    return out


def test_unbound_gx_and_invalid_sbom(workspace: Workspace, keys: Keys, tmp_path: Path) -> None:
    Path("a.csv").write_text("a\n1\n")
    Path("other.csv").write_text("b\n2\n")
    with aitrace.stage("collection", sbom=False) as s:
        s.input("a.csv", origin="x")
        s.attach(EVIDENCE_GX, gx_result(), media_type="application/json",
                 subject="other.csv")
        s.attach(EVIDENCE_GX, gx_result(), media_type="application/json")
    with aitrace.stage("deployment", inputs=["a.csv"], sbom=False) as s:
        Path("m.bin").write_bytes(b"m")
        s.output("m.bin")
        bad = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
               "components": [{"type": "not-a-type", "name": "x"}]}
        ref = s.attach(EVIDENCE_SBOM, json.dumps(bad).encode(), media_type=SBOM_MEDIA)
    report = verify_bundle(_bundle(workspace, keys, tmp_path), [load_public_key(keys.pub)])
    failed = [(c.id, c.member) for c in report.failed]
    assert failed.count(("evidence.gx-bound", "steps/000001.json")) == 2
    assert ("evidence.sbom-schema", f"objects/sha256/{ref.sha256}") in failed
    assert ("evidence.sbom-schema", "sbom.cdx.json") in failed
    msgs = " ".join(c.message for c in report.failed)
    assert "not among the step's inputs or outputs" in msgs and "names no dataset" in msgs
    assert "not valid CycloneDX 1.6" in msgs


def test_each_distinct_sbom_is_validated_once(workspace: Workspace, keys: Keys, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Two steps share a good and a broken SBOM; sbom.cdx.json repeats the good one's bytes.

    Each distinct document is validated once, and every step referencing the broken one is
    still reported, at the exact JSON path.
    """
    from aitrace.evidence.sbom.source import SbomSource

    Path("m.bin").write_bytes(b"weights")
    good = small_sbom("m.bin", hashlib.sha256(b"weights").hexdigest())
    broken = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
                         "components": [{"type": "library", "name": "x"},
                                        {"type": "not-a-type", "name": "y"}]}).encode()
    with aitrace.stage("training", sbom=False) as s:
        s.input("m.bin", origin="x")
        s.attach(EVIDENCE_SBOM, good, media_type=SBOM_MEDIA)
        s.attach(EVIDENCE_SBOM, broken, media_type=SBOM_MEDIA)
    with aitrace.stage("evaluation", inputs=["m.bin"], sbom=False) as s:
        s.attach(EVIDENCE_SBOM, broken, media_type=SBOM_MEDIA)
    with aitrace.stage("deployment", inputs=["m.bin"], sbom=False) as s:
        s.output("m.bin")
        s.attach(EVIDENCE_SBOM, good, media_type=SBOM_MEDIA)
    validated: list[Any] = []
    original = SbomSource.validate

    def counting(self: SbomSource, doc: Any) -> str | None:
        validated.append(doc)
        return original(self, doc)

    monkeypatch.setattr(SbomSource, "validate", counting)
    report = verify_bundle(_bundle(workspace, keys, tmp_path), [load_public_key(keys.pub)])
    assert len(validated) == 2  # the good one (also sbom.cdx.json) and the broken one
    sbom = [c for c in report.checks if c.id == "evidence.sbom-schema"]
    assert [c.status for c in sbom] == ["failed", "failed"]
    bad_member = f"objects/sha256/{hashlib.sha256(broken).hexdigest()}"
    assert {c.member for c in sbom} == {bad_member}
    assert sbom[0].message.startswith(f"step 1 (training) SBOM member '{bad_member}' is not "
                                      "valid CycloneDX 1.6: at components/1/type: ")
    assert sbom[1].message.startswith("step 2 (evaluation) SBOM member")


def test_verify_imports_neither_jsonschema_nor_the_pillars(bundle_path: Path,
                                                           keys: Keys) -> None:
    """Verification validates with the compiled validator only: installing ``rfc3987-syntax``
    (which makes ``import jsonschema`` cost seconds) cannot slow it down."""
    code = ("import sys; from aitrace.cli import main;"
            "rc = main(['verify', sys.argv[1], '--key', sys.argv[2]]);"
            "print(rc, sorted({m.split('.')[0] for m in sys.modules} & {'jsonschema', "
            "'rfc3987_syntax', 'lark', 'mlflow', 'great_expectations', 'pandas'}))")
    proc = subprocess.run([sys.executable, "-c", code, str(bundle_path), str(keys.pub)],
                          capture_output=True, text=True, check=True, timeout=120)
    rc, modules = proc.stdout.strip().splitlines()[-1].split(" ", 1)
    assert rc in ("0", "1") and "evidence.sbom-schema" in proc.stdout  # 1: the default policy
    assert modules == "[]"
