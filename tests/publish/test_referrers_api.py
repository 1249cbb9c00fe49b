"""The OCI 1.1 referrers API path, against a small in-test registry that implements it.

No registry available here has the API (Debian's docker-registry 2.8 answers 404), so
``tests.helpers.oci_server.ReferrersRegistry`` stands in: it answers manifest pushes that carry a
``subject`` with ``OCI-Subject`` and lists referrers at ``/v2/<name>/referrers/<digest>``. With
it, aitrace must use the API and write no fallback tag; the fallback path is tested against the
real registry (test_oci_registry.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.publish.oci import RegistryClient
from aitrace.publish.referrers import list_referrers
from tests.helpers.bundle import Keys
from tests.helpers.oci_server import ReferrersRegistry, referrers_registry
from tests.publish.test_oci_registry import push_model_artifact


@pytest.fixture
def api_registry() -> Iterator[ReferrersRegistry]:
    with referrers_registry() as reg:
        yield reg


def test_referrer_attached_and_found_through_the_referrers_api(
        api_registry: ReferrersRegistry, bundle_path: Path, keys: Keys, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    model = push_model_artifact(api_registry.host, "models/api", "model-v1")
    assert main(["push", str(bundle_path), api_registry.ref("models/api"), "--subject",
                 api_registry.ref("models/api:model-v1"), "--plain-http"]) == 0
    out = capsys.readouterr()
    assert "indexed by the registry's referrers API" in out.err
    # the registry indexed it: no referrers tag was written, no index was read or pushed
    assert [t for (_repo, t) in api_registry.state.tags] == ["model-v1"]
    assert not [r for r in api_registry.state.requests if "sha256-" in r]

    with RegistryClient(api_registry.host, plain_http=True) as c:
        found, via = list_referrers(c, "models/api", model,
                                    "application/vnd.aitrace.bundle.v1+zip", "t")
        none, _ = list_referrers(c, "models/api", model, "application/x-other", "t")
    assert via == "api" and len(found) == 1 and none == []
    assert found[0].annotations["dev.aitrace.record.name"] == "test-model"

    back = tmp_path / "back.aitrace"
    assert main(["pull", api_registry.ref("models/api:model-v1"), "-o", str(back),
                 "--plain-http"]) == 0
    assert back.read_bytes() == bundle_path.read_bytes()
    capsys.readouterr()
    assert main(["verify", api_registry.ref("models/api:model-v1"), "--key", str(keys.pub),
                 "--no-policy", "--plain-http"]) == 0
    text = capsys.readouterr().out
    assert "ok    registry.referrer" in text and "the registry's referrers API" in text
    assert any(r.startswith("GET /v2/models/api/referrers/") for r in api_registry.state.requests)
