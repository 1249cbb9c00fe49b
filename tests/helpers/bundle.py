"""Helpers for the bundle tests: build small real records, rewrite archives like an attacker.

Also the fixtures ``keys`` (session), ``project`` and ``bundle_path`` (module-scoped: one recorded
pipeline and its bundle, built once per test module), imported by the conftest.py of
tests/bundle, tests/verify and tests/cli.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import aitrace
from aitrace.bundle._zip.writer import write_deterministic_zip
from aitrace.bundle.format import ATTESTATION_MEMBER, MANIFEST_MEMBER
from aitrace.record.jsonio import canonical_bytes, document_bytes
from aitrace.record.stages import EVIDENCE_GX, EVIDENCE_SBOM
from aitrace.signing.dsse import dsse_sign
from aitrace.signing.keys import Signer, generate_keypair
from aitrace.store.workspace import Workspace

SBOM_MEDIA = "application/vnd.cyclonedx+json"


@dataclass(frozen=True)
class Keys:
    key: Path
    pub: Path
    other_key: Path
    other_pub: Path
    ed_key: Path
    ed_pub: Path


def new_workspace(root: Path, name: str = "test-model") -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    Workspace.init(root, name=name)
    cfg = root / "aitrace.yaml"
    cfg.write_text(cfg.read_text().replace("  enabled: true", "  enabled: false"))
    return Workspace(root)


def small_sbom(model_name: str, sha256: str, licence: str = "MIT") -> bytes:
    """A small valid CycloneDX 1.6 ML-BOM built with cyclonedx-python-lib."""
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.license import DisjunctiveLicense
    from cyclonedx.output.json import JsonV1Dot6

    bom = Bom()
    top = Component(
        name=model_name, type=ComponentType.MACHINE_LEARNING_MODEL, bom_ref="model",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=sha256)],
        licenses=[DisjunctiveLicense(id=licence)])
    lib = Component(name="numpy", version="2.0.0", type=ComponentType.LIBRARY, bom_ref="numpy")
    bom.metadata.component = top
    bom.components.add(lib)
    bom.register_dependency(top, [lib])
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    doc = json.loads(text)
    doc.pop("serialNumber", None)
    doc["metadata"].pop("timestamp", None)
    doc["metadata"].pop("tools", None)
    return document_bytes(doc)


def gx_result(success: bool = True) -> dict[str, Any]:
    return {"success": success, "statistics": {"evaluated_expectations": 2,
                                               "successful_expectations": 2 if success else 1,
                                               "unsuccessful_expectations": 0 if success else 1},
            "results": [], "suite_name": "t", "meta": {}}


def record_pipeline(ws: Workspace, *, accuracy: float = 0.95, data_license: str = "CC-BY-4.0",
                    gx_success: bool = True) -> None:
    """problem → collection → cleaning → training → evaluation → deployment, quickly."""
    root = ws.root
    (root / "data").mkdir(exist_ok=True)
    (root / "models").mkdir(exist_ok=True)
    (root / "dist").mkdir(exist_ok=True)
    (root / "docs").mkdir(exist_ok=True)
    with aitrace.stage("problem", workspace=ws, sbom=False) as s:
        (root / "docs/problem.md").write_text("# problem\n")
        s.output(root / "docs/problem.md", role="document")
        s.log_params({"success.accuracy": ">= 0.9"})
    with aitrace.stage("collection", workspace=ws, sbom=False) as s:
        s.input("https://example.org/data.csv", origin="example.org open data",
                license=data_license, role="dataset")
        (root / "data/raw.csv").write_text("a,b\n1,2\n3,4\n3,4\n")
        s.output(root / "data/raw.csv", license=data_license, role="dataset")
        s.attach(EVIDENCE_GX, gx_result(gx_success), media_type="application/json",
                 name="gx", summary={"success": gx_success},
                 subject=root / "data/raw.csv")
    with aitrace.stage("cleaning", workspace=ws, inputs=[root / "data/raw.csv"],
                       sbom=False) as s:
        (root / "data/clean.csv").write_text("a,b\n1,2\n3,4\n")
        s.output(root / "data/clean.csv", license=data_license, role="dataset")
        s.attach(EVIDENCE_GX, gx_result(gx_success), media_type="application/json",
                 name="gx", summary={"success": gx_success}, subject=root / "data/clean.csv")
    with aitrace.stage("training", workspace=ws, inputs=[root / "data/clean.csv"],
                       sbom=False) as s:
        (root / "models/model.bin").write_bytes(b"weights" * 100)
        s.output(root / "models/model.bin", role="model")
        s.log_metrics({"train_accuracy": 0.99})
    with aitrace.stage("evaluation", workspace=ws, inputs=[root / "models/model.bin"],
                       sbom=False) as s:
        s.log_metrics({"accuracy": accuracy})
    with aitrace.stage("deployment", workspace=ws, inputs=[root / "models/model.bin"],
                       sbom=False) as s:
        (root / "dist/model.bin").write_bytes(b"weights" * 100)
        s.output(root / "dist/model.bin", role="model")
        sha = hashlib.sha256(b"weights" * 100).hexdigest()
        s.attach(EVIDENCE_SBOM, small_sbom("dist/model.bin", sha), media_type=SBOM_MEDIA,
                 name="ml-bom.cdx.json", summary={"licenses": {"data": {"raw": data_license},
                                                               "base_models": {}}})


# ----------------------------------------------------------------------------- tampering


def read_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_members(path: Path, members: dict[str, bytes]) -> Path:
    write_deterministic_zip(path, list(members.items()))
    return path


def flip(data: bytes, at: int | None = None) -> bytes:
    i = len(data) // 2 if at is None else at
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


def statement_of(members: dict[str, bytes]) -> dict[str, Any]:
    env = json.loads(members[ATTESTATION_MEMBER])
    return json.loads(base64.b64decode(env["payload"]))


def resign(members: dict[str, bytes], signer: Signer,
           edit_statement: Callable[[dict[str, Any]], None] | None = None,
           payload_type: str = "application/vnd.in-toto+json") -> dict[str, bytes]:
    """Recompute the manifest's member list and re-sign the (kept) statement with ``signer``.

    Written as a genuine format v2 signer would: manifest, statement and envelope in RFC 8785
    form, so only the check the forgery targets can fail.
    """
    manifest = json.loads(members[MANIFEST_MEMBER])
    manifest["members"] = [
        {"path": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
        for n, d in sorted(members.items()) if n not in (MANIFEST_MEMBER, ATTESTATION_MEMBER)]
    mbytes = canonical_bytes(manifest)
    statement = statement_of(members)
    for subj in statement["subject"]:
        if subj["name"] == MANIFEST_MEMBER:
            subj["digest"]["sha256"] = hashlib.sha256(mbytes).hexdigest()
    if edit_statement is not None:
        edit_statement(statement)
    env = dsse_sign(canonical_bytes(statement), payload_type, [signer])
    out = dict(members)
    out[MANIFEST_MEMBER] = mbytes
    out[ATTESTATION_MEMBER] = canonical_bytes(env)
    return out


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    d = tmp_path_factory.mktemp("bundle-keys")
    k, p = generate_keypair(d / "release")
    ok, op = generate_keypair(d / "other")
    ek, ep = generate_keypair(d / "ed", key_type="ed25519")
    return Keys(k, p, ok, op, ek, ep)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Path:
    """A recorded six-stage pipeline with an approval of the deployment step."""
    from aitrace.signing.approvals import create_approval
    from aitrace.signing.keys import load_signer

    ws = new_workspace(tmp_path_factory.mktemp("bundle-project") / "project")
    record_pipeline(ws)
    create_approval(ws, "deployment", load_signer(keys.other_key), "Rae Viewer", "looks good")
    return ws.root


@pytest.fixture(scope="module")
def bundle_path(project: Path, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from aitrace.bundle.write import build_bundle
    from aitrace.signing.keys import load_signer
    from aitrace.store.workspace import Workspace

    out = tmp_path_factory.mktemp("bundle-out") / "model.aitrace"
    build_bundle(Workspace(project), [load_signer(keys.key)], out, model_signing_key=keys.key)
    return out


# ----------------------------------------------------------------------------- insiders


def rewrite_history(root: Path, edit: Callable[[list[dict[str, Any]]], None]) -> Workspace:
    """What an insider with write access does: edit the step files, then re-link the chain.

    ``edit`` changes the list of step documents in place (values, order); every step is then
    renumbered and its ``prev`` recomputed, so the workspace's own chain check passes again.
    Old approvals are dropped (they no longer match). The ``.tampered`` marker tells the
    schema fixture that invalid steps are intended.
    """
    import hashlib
    import shutil

    from aitrace.record.jsonio import canonical_bytes

    steps_dir = root / ".aitrace" / "steps"
    files = sorted(steps_dir.glob("*.json"))
    docs = [json.loads(f.read_bytes()) for f in files]
    edit(docs)
    for f in files:
        f.chmod(0o644)
        f.unlink()
    prev = None
    for i, doc in enumerate(docs, start=1):
        doc["seq"] = i
        doc["prev"] = prev
        data = canonical_bytes(doc)  # format v2: the file is its digest's bytes
        (steps_dir / f"{i:06d}.json").write_bytes(data)
        prev = hashlib.sha256(data).hexdigest()
    shutil.rmtree(root / ".aitrace" / "approvals", ignore_errors=True)
    ws = Workspace(root)
    assert ws.chain().intact, ws.chain().broken
    return ws


def copy_project(project: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(project, dest, symlinks=True)
    return dest
