"""Reading a built bundle: the ``OpenedBundle`` accessors."""

from __future__ import annotations

from pathlib import Path

from aitrace.bundle.read import OpenedBundle


def test_opened_bundle_accessors(bundle_path: Path) -> None:
    with OpenedBundle.open(bundle_path) as b:
        assert b.record.name == "test-model" and b.record_id == b.manifest.record.id
        assert len(b.steps) == 6 and b.step_member(b.steps[0]) == "steps/000001.json"
        assert b.predicate.released[0].path == "dist/model.bin"
        assert b.sbom is not None and b.sbom["specVersion"] == "1.6"
        assert len(b.approvals) == 1 and b.signature_members == ("signatures/dist/model.bin.sig",)
        sha = b.steps[1].evidence[0].sha256
        assert b.read_object(sha) == b.object_bytes(sha)
        assert b.object_bytes("0" * 64) is None
        assert b.signer_keyids() == [b.envelope.signatures[0].keyid]
