"""HTTP Basic auth and access denied, against the in-test registry (tests.helpers.oci_server).

docker-registry's own Basic auth (htpasswd) needs bcrypt hashes that nothing here can make, so
the Basic challenge is tested against the in-test registry; the Bearer handshake is tested
against the real registry (test_oci_errors.py).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from aitrace.cli import main
from tests.helpers.oci_server import referrers_registry

SECRET = "b4sic-s3cret"


def test_basic_auth_from_the_environment_and_denied_access(
        bundle_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker"))
    monkeypatch.delenv("AITRACE_REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("AITRACE_REGISTRY_PASSWORD", raising=False)
    with referrers_registry(basic=f"ci:{SECRET}") as reg:
        assert main(["push", str(bundle_path), reg.ref("m/x:v1"), "--plain-http"]) == 2
        err = capsys.readouterr().err
        assert "requires a login; no credentials found" in err and "AITRACE_REGISTRY" in err

        monkeypatch.setenv("AITRACE_REGISTRY_USERNAME", "ci")
        monkeypatch.setenv("AITRACE_REGISTRY_PASSWORD", SECRET)
        assert main(["push", str(bundle_path), reg.ref("m/x:v1"), "--plain-http"]) == 0
        assert main(["pull", reg.ref("m/x:v1"), "-o", str(tmp_path / "b.aitrace"),
                     "--plain-http"]) == 0
        assert (tmp_path / "b.aitrace").read_bytes() == bundle_path.read_bytes()
        out = capsys.readouterr()
        # one challenge per command (the failed push, the push, the pull); then the header is
        # kept for every further request instead of being challenged again
        auths = reg.state.authorizations
        assert auths.count("") == 3 and len(auths) > 6
        assert set(auths) == {"", "Basic " + base64.b64encode(f"ci:{SECRET}".encode()).decode()}

        assert main(["push", str(bundle_path), reg.ref("denied/x:v1"), "--plain-http"]) == 2
        err = capsys.readouterr().err
        assert "(config blob): access denied by the registry" in err  # a HEAD: no body
        assert "lack permission" in err
        assert SECRET not in out.out + out.err + err
