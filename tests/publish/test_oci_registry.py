"""Bundles in a real OCI registry: Debian's docker-registry 2.8 (no referrers API) on 127.0.0.1.

push → pull byte-identical → verify straight from the registry; a referrer attached to the
model's own artifact through the referrers-tag fallback and found again; a blob tampered with in
the registry's storage; a wrong tag; not an aitrace artifact; an unreachable registry.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.publish.artifact import ARTIFACT_TYPE, push_bundle
from aitrace.publish.oci import OCI_INDEX, OCI_MANIFEST, RegistryClient, sha256_digest
from aitrace.publish.referrers import fallback_tag
from aitrace.publish.refs import parse_oci
from aitrace.record.jsonio import canonical_bytes
from tests.helpers.bundle import Keys
from tests.helpers.servers import Registry

MODEL = b"weights" * 100  # what record_pipeline releases as dist/model.bin


def push_model_artifact(host: str, repository: str, tag: str, data: bytes = MODEL,
                        plain_http: bool = True) -> str:
    """The model's own OCI artifact (as ORAS or KitOps would push it); returns its digest."""
    empty = b"{}"
    with RegistryClient(host, plain_http=plain_http) as c:
        c.push_blob(repository, sha256_digest(empty), 2, empty, "config")
        c.push_blob(repository, sha256_digest(data), len(data), data, "model")
        manifest = canonical_bytes({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.model.v1",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                       "digest": sha256_digest(empty), "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": sha256_digest(data),
                        "size": len(data),
                        "annotations": {"org.opencontainers.image.title": "model.bin"}}]})
        return c.put_manifest(repository, tag, manifest, OCI_MANIFEST, "model").digest


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def _keyid(pub: Path) -> str:
    from aitrace.signing.keys import load_public_key

    return load_public_key(pub).keyid


def test_push_pull_byte_identical_and_verify_from_the_registry(
        registry: Registry, bundle_path: Path, keys: Keys, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    target = registry.ref("models/fraud:v1")
    rc, out, err = _run(capsys, "push", str(bundle_path), target, "--plain-http",
                        "--key", str(keys.pub), "--no-policy")
    assert rc == 0, err
    pinned = out.strip()
    assert pinned.startswith(target + "@sha256:")
    assert "verified by" in err

    back = tmp_path / "back.aitrace"
    rc, out, err = _run(capsys, "pull", target, "-o", str(back), "--plain-http")
    assert rc == 0, err
    assert back.read_bytes() == bundle_path.read_bytes()
    assert out.strip() == str(back)
    assert "does not verify signatures" in err
    rc, _, err = _run(capsys, "pull", target, "-o", str(back), "--plain-http")
    assert rc == 2 and "already exists" in err

    # the manifest: our artifact type, the bundle as its only layer, the record's facts
    ref = parse_oci(pinned)
    with RegistryClient(registry.host, plain_http=True) as c:
        doc = json.loads(c.get_manifest(ref.repository, str(ref.digest), pinned).data)
    assert doc["artifactType"] == ARTIFACT_TYPE
    sha = hashlib.sha256(bundle_path.read_bytes()).hexdigest()
    assert [layer["digest"] for layer in doc["layers"]] == [f"sha256:{sha}"]
    assert doc["layers"][0]["annotations"] == {"org.opencontainers.image.title": "model.aitrace"}
    notes = doc["annotations"]
    assert notes["dev.aitrace.record.name"] == "test-model"
    assert json.loads(notes["dev.aitrace.released"]) == [
        {"name": "dist/model.bin", "digest": {"sha256": hashlib.sha256(MODEL).hexdigest()}}]
    assert notes["dev.aitrace.verified-by"] == _keyid(keys.pub)

    # canonical manifest: the same bundle pushed twice has the same digest
    first = push_bundle(bundle_path, parse_oci(registry.ref("models/fraud:plain-1")),
                        plain_http=True)
    second = push_bundle(bundle_path, parse_oci(registry.ref("models/fraud:plain-2")),
                         plain_http=True)
    assert first.digest == second.digest != ref.digest  # (the verified-by annotation differs)

    rc, out, err = _run(capsys, "verify", target, "--key", str(keys.pub), "--no-policy",
                        "--plain-http")
    assert rc == 0, out + err
    lines = out.strip().splitlines()
    assert lines[0].startswith("ok    registry.digest") and f"sha256:{sha}" in lines[0]
    assert f"Bundle:                  {pinned}" in lines  # the digest pulled is the one verified
    assert lines[-1].startswith("VERIFIED: trusted")

    rc, out, _ = _run(capsys, "verify", pinned, "--key", str(keys.pub), "--no-policy",
                      "--plain-http", "--json")
    report = json.loads(out)
    assert rc == 0 and report["ok"] and report["bundle"] == pinned
    assert report["checks"][0]["id"] == "registry.digest"
    # a key that did not sign: the same registry path, a failed verdict
    rc, out, _ = _run(capsys, "verify", pinned, "--key", str(keys.other_pub), "--no-policy",
                      "--plain-http")
    assert rc == 1 and "FAIL  signature.trusted" in out


def test_referrer_attached_through_the_tag_fallback_and_found_again(
        registry: Registry, bundle_path: Path, project: Path, keys: Keys, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    model_digest = push_model_artifact(registry.host, "models/scorer", "model-v1")
    rc, out, err = _run(capsys, "push", str(bundle_path), registry.ref("models/scorer"),
                        "--subject", registry.ref("models/scorer:model-v1"), "--plain-http")
    assert rc == 0, err
    assert f"referrers tag {fallback_tag(model_digest)}" in err
    bundle_ref = parse_oci(out.strip())
    assert bundle_ref.tag is None  # a referrer needs no tag of its own

    with RegistryClient(registry.host, plain_http=True) as c:
        # the registry has no referrers API: this is what made the fallback necessary
        probe = c.request("GET", f"/v2/models/scorer/referrers/{model_digest}", what="probe")
        assert probe.status_code == 404
        index = json.loads(c.get_manifest("models/scorer", fallback_tag(model_digest), "index",
                                          accept=(OCI_INDEX,)).data)
        bundle_manifest = json.loads(c.get_manifest("models/scorer", str(bundle_ref.digest),
                                                    "bundle").data)
    assert bundle_manifest["subject"]["digest"] == model_digest
    assert [(m["digest"], m["artifactType"]) for m in index["manifests"]] == [
        (bundle_ref.digest, ARTIFACT_TYPE)]
    assert index["manifests"][0]["annotations"]["dev.aitrace.record.name"] == "test-model"

    # the model's own reference leads to its bundle: pull, verify
    back = tmp_path / "from-model.aitrace"
    rc, _, err = _run(capsys, "pull", registry.ref("models/scorer:model-v1"), "-o", str(back),
                      "--plain-http")
    assert rc == 0, err
    assert back.read_bytes() == bundle_path.read_bytes()
    assert "is not a bundle; pulled its aitrace referrer" in err
    rc, out, _ = _run(capsys, "verify", registry.ref(f"models/scorer@{model_digest}"),
                      "--key", str(keys.pub), "--no-policy", "--plain-http")
    assert rc == 0, out
    assert "ok    registry.referrer" in out and "the referrers tag sha256-" in out
    assert f"Bundle:                  {bundle_ref}" in out.splitlines()
    assert out.strip().splitlines()[-1].startswith("VERIFIED: trusted")

    # a later bundle of the record attached to the same model: both listed, the newest wins
    later = _later_bundle(project, keys, tmp_path / "later.aitrace")
    rc, out, err = _run(capsys, "push", str(later), registry.ref("models/scorer"),
                        "--subject", registry.ref(f"models/scorer@{model_digest}"),
                        "--plain-http")
    assert rc == 0, err
    later_ref = parse_oci(out.strip())
    with RegistryClient(registry.host, plain_http=True) as c:
        index = json.loads(c.get_manifest("models/scorer", fallback_tag(model_digest), "index",
                                          accept=(OCI_INDEX,)).data)
    assert [m["digest"] for m in index["manifests"]] == [bundle_ref.digest, later_ref.digest]
    newest = tmp_path / "newest.aitrace"
    rc, out, err = _run(capsys, "pull", registry.ref("models/scorer:model-v1"), "-o",
                        str(newest), "--plain-http", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert newest.read_bytes() == later.read_bytes()
    assert doc["referrer_of"] == model_digest and doc["referrers"] == "tag"
    assert doc["other_referrers"] == [bundle_ref.digest]
    # attaching the same bundle again leaves the index as it is
    push_bundle(later, parse_oci(registry.ref("models/scorer")),
                subject=parse_oci(registry.ref("models/scorer:model-v1")), plain_http=True)
    with RegistryClient(registry.host, plain_http=True) as c:
        again = json.loads(c.get_manifest("models/scorer", fallback_tag(model_digest), "index",
                                          accept=(OCI_INDEX,)).data)
    assert again == index


def _later_bundle(project: Path, keys: Keys, out: Path) -> Path:
    """A later bundle of the same record: the release re-recorded, bundled again."""
    import aitrace
    from aitrace.bundle.write import build_bundle
    from aitrace.signing.keys import load_signer
    from aitrace.store.workspace import Workspace

    ws = Workspace(project)
    with aitrace.stage("deployment", workspace=ws, inputs=[project / "models/model.bin"],
                       sbom=False) as s:
        s.output(project / "dist/model.bin", role="model")
    build_bundle(ws, [load_signer(keys.key)], out)
    return out
