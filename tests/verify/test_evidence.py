"""Evidence checks in verification: GX results bound to the step's data, SBOMs valid CycloneDX."""

from __future__ import annotations

import json
from pathlib import Path

import aitrace
from aitrace.bundle.write import build_bundle
from aitrace.record.stages import EVIDENCE_GX, EVIDENCE_SBOM
from aitrace.signing.keys import load_public_key, load_signer
from aitrace.store.workspace import Workspace
from aitrace.verify.bundle import verify_bundle
from tests.helpers.bundle import SBOM_MEDIA, Keys, gx_result


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
