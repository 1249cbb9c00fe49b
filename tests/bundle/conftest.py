"""Module-scoped fixtures: keys, one recorded pipeline and its bundle (built once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bundle_helpers import Keys, new_workspace, record_pipeline

from aitrace.signing.keys import generate_keypair

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


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
