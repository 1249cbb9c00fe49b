"""What a registry answers, named: tampered storage, wrong tag, not ours, auth, unreachable.

Every case against a real docker-registry on 127.0.0.1 (with its "silly" token auth and an
in-test token service for the authentication cases); no planted secret ever reaches the output.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.publish.artifact import push_bundle
from aitrace.publish.errors import RegistryError
from aitrace.publish.oci import OCI_INDEX, Pushed, RegistryClient
from aitrace.publish.referrers import Descriptor, attach, fallback_tag
from aitrace.publish.refs import parse_oci
from tests.helpers.bundle import Keys, flip
from tests.helpers.oci_server import TokenService, token_service
from tests.helpers.servers import Registry, docker_registry, free_port
from tests.publish.test_oci_registry import push_model_artifact

SECRET = "pl4nted-registry-s3cret"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_a_blob_tampered_with_in_the_registry_storage_is_detected(
        registry: Registry, bundle_path: Path, keys: Keys, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    pushed = push_bundle(bundle_path, parse_oci(registry.ref("tamper/model:v1")),
                         plain_http=True)
    data = registry.blob_data(f"sha256:{pushed.bundle_sha256}")
    assert data.read_bytes() == bundle_path.read_bytes()
    data.write_bytes(flip(data.read_bytes()))  # the registry's own copy, on its disk

    out_file = tmp_path / "pulled.aitrace"
    rc, out, err = _run(capsys, "pull", registry.ref("tamper/model:v1"), "-o", str(out_file),
                        "--plain-http")
    assert rc == 1
    assert f"not sha256:{pushed.bundle_sha256}" in err and "altered or corrupted" in err
    assert not out_file.exists() and not list(tmp_path.glob(".tmp-pull-*"))

    rc, out, err = _run(capsys, "verify", registry.ref("tamper/model:v1"), "--key",
                        str(keys.pub), "--no-policy", "--plain-http")
    assert rc == 1, err
    first = out.splitlines()[0]
    assert first.startswith("FAIL  registry.digest") and "altered or corrupted" in first
    # the altered bytes were still read (safely) and the damaged member is named
    assert "FAIL  " in "\n".join(out.splitlines()[1:])
    assert f"Bundle:                  {pushed.ref}" in out
    assert out.strip().splitlines()[-1].startswith("NOT TRUSTED")


def test_wrong_tag_and_not_an_aitrace_artifact_are_named(
        registry: Registry, bundle_path: Path, keys: Keys, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    push_bundle(bundle_path, parse_oci(registry.ref("named/model:v1")), plain_http=True)
    rc, _, err = _run(capsys, "pull", registry.ref("named/model:v2"), "-o",
                      str(tmp_path / "x"), "--plain-http")
    assert rc == 2
    assert "named/model:v2: not found in the registry" in err and "MANIFEST_UNKNOWN" in err
    assert "hint: tags in named/model: v1" in err
    rc, out, err = _run(capsys, "verify", registry.ref("named/model:v2"), "--key",
                        str(keys.pub), "--plain-http")
    assert rc == 2 and out == "" and "not found" in err

    rc, _, err = _run(capsys, "pull", registry.ref("named/model@sha256:" + "0" * 64), "-o",
                      str(tmp_path / "x"), "--plain-http")
    assert rc == 2 and "not found" in err and "check the digest" in err

    model = push_model_artifact(registry.host, "named/model", "weights-v1")
    rc, _, err = _run(capsys, "pull", registry.ref("named/model:weights-v1"), "-o",
                      str(tmp_path / "x"), "--plain-http")
    assert rc == 2
    assert "is not an aitrace bundle (artifact type application/vnd.example.model.v1) and no " \
           "aitrace bundle refers to it" in err
    assert f"--subject {registry.ref('named/model:weights-v1')}@{model}" in err
    assert not (tmp_path / "x").exists()


def test_subject_in_another_repository_and_push_without_a_tag_are_refused(
        registry: Registry, bundle_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    push_model_artifact(registry.host, "elsewhere/model", "v1")
    rc, _, err = _run(capsys, "push", str(bundle_path), registry.ref("mine/model:r1"),
                      "--subject", registry.ref("elsewhere/model:v1"), "--plain-http")
    assert rc == 2 and "a referrer lives in its subject's repository" in err
    rc, _, err = _run(capsys, "push", str(bundle_path), registry.ref("mine/model"),
                      "--plain-http")
    assert rc == 2 and "names no tag" in err
    rc, _, err = _run(capsys, "push", str(bundle_path), "oci://h/Bad:v1")
    assert rc == 2 and "not a valid repository name" in err


def test_unreachable_registry_and_tls_mismatch_fail_at_once(
        registry: Registry, bundle_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = time.monotonic()
    rc, _, err = _run(capsys, "push", str(bundle_path), f"oci://127.0.0.1:{free_port()}/m:v1",
                      "--plain-http")
    assert rc == 2 and "cannot reach the registry" in err and "Connection refused" in err
    # without --plain-http the client speaks TLS to a plain-HTTP registry, and says what to do
    rc, _, err = _run(capsys, "push", str(bundle_path), registry.ref("m/x:v1"))
    assert rc == 2 and "TLS with the registry" in err and "--plain-http" in err
    assert time.monotonic() - t < 10  # no retries with back-off


def test_attach_repeats_when_a_concurrent_writer_drops_the_new_entry(
        registry: Registry, bundle_path: Path) -> None:
    """The referrers tag is read-modify-write: a lost update is noticed and written again."""
    model = push_model_artifact(registry.host, "race/model", "v1")
    bundle = push_bundle(bundle_path, parse_oci(registry.ref("race/model:bundle")),
                         plain_http=True)
    other = push_bundle(bundle_path, parse_oci(registry.ref("race/model:other")),
                        plain_http=True, verified_by=["someone-else"])
    mine = Descriptor("application/vnd.oci.image.manifest.v1+json", bundle.digest, bundle.size,
                      "application/vnd.aitrace.bundle.v1+zip")
    theirs = Descriptor("application/vnd.oci.image.manifest.v1+json", other.digest, other.size,
                        "application/vnd.aitrace.bundle.v1+zip")
    tag = fallback_tag(model)

    class RacingClient(RegistryClient):
        """After our first index write, another client writes its own index over it."""

        raced = False

        def put_manifest(self, repository: str, reference: str, data: bytes, media_type: str,
                         what: str) -> Pushed:
            pushed = super().put_manifest(repository, reference, data, media_type, what)
            if reference == tag and not self.raced:
                self.raced = True
                index = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                         "manifests": [theirs.to_json()]}
                super().put_manifest(repository, tag, json.dumps(index).encode(), OCI_INDEX,
                                     "the other writer")
            return pushed

    with RacingClient(registry.host, plain_http=True) as c:
        assert attach(c, "race/model", model, mine, Pushed(bundle.digest, None), "race") == "tag"
        assert c.raced
        index = json.loads(c.get_manifest("race/model", tag, "index", accept=(OCI_INDEX,)).data)
    # the second write kept the other writer's entry and added ours
    assert [m["digest"] for m in index["manifests"]] == [other.digest, bundle.digest]

    # a writer that wipes the index after every write of ours: given up on, and said so
    model2 = push_model_artifact(registry.host, "race/model", "v2", data=b"other weights")
    tag2 = fallback_tag(model2)

    class AlwaysRacing(RegistryClient):
        def put_manifest(self, repository: str, reference: str, data: bytes, media_type: str,
                         what: str) -> Pushed:
            pushed = super().put_manifest(repository, reference, data, media_type, what)
            if reference == tag2:
                super().put_manifest(repository, tag2, json.dumps(
                    {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode(),
                    OCI_INDEX, "the other writer")
            return pushed

    with AlwaysRacing(registry.host, plain_http=True) as c, \
            pytest.raises(RegistryError, match="kept losing the new entry"):
        attach(c, "race/model", model2, mine, Pushed(bundle.digest, None), "race")


# ----------------------------------------------------------------------------- authentication


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[Registry, TokenService]]:
    """docker-registry with token auth; the token service wants ci / SECRET."""
    with token_service("ci", SECRET) as tokens, \
            docker_registry(tmp_path_factory.mktemp("secured"), token_realm=tokens.realm) as reg:
        yield reg, tokens


def test_registry_auth_from_env_docker_config_and_refusals(
        secured: tuple[Registry, TokenService], bundle_path: Path, keys: Keys, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    reg, tokens = secured
    target = reg.ref("private/model:v1")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.delenv("AITRACE_REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("AITRACE_REGISTRY_PASSWORD", raising=False)
    seen: list[str] = []

    # no credentials anywhere: anonymous access refused, and where we looked is said
    rc, out, err = _run(capsys, "push", str(bundle_path), target, "--plain-http")
    seen += [out, err]
    assert rc == 2 and "refused anonymous access" in err
    assert "AITRACE_REGISTRY_USERNAME" in err and "config.json (absent)" in err

    # a wrong password from the environment
    monkeypatch.setenv("AITRACE_REGISTRY_USERNAME", "ci")
    monkeypatch.setenv("AITRACE_REGISTRY_PASSWORD", "wrong-" + SECRET)
    rc, out, err = _run(capsys, "push", str(bundle_path), target, "--plain-http")
    seen += [out, err]
    assert rc == 2 and "refused the credentials from environment" in err

    # the right one: push, pull and verify through the token handshake
    monkeypatch.setenv("AITRACE_REGISTRY_PASSWORD", SECRET)
    rc, out, err = _run(capsys, "push", str(bundle_path), target, "--plain-http")
    seen += [out, err]
    assert rc == 0, err
    # the token service was asked for the scope the registry's challenge named
    assert "repository:private/model:pull" in tokens.asked

    # Docker's config.json instead of the environment
    monkeypatch.delenv("AITRACE_REGISTRY_USERNAME")
    monkeypatch.delenv("AITRACE_REGISTRY_PASSWORD")
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(json.dumps(
        {"auths": {reg.host: {"auth": base64.b64encode(f"ci:{SECRET}".encode()).decode()}}}))
    back = tmp_path / "back.aitrace"
    rc, out, err = _run(capsys, "pull", target, "-o", str(back), "--plain-http")
    seen += [out, err]
    assert rc == 0, err
    assert back.read_bytes() == bundle_path.read_bytes()
    rc, out, err = _run(capsys, "verify", target, "--key", str(keys.pub), "--no-policy",
                        "--plain-http", "--json")
    seen += [out, err]
    assert rc == 0 and json.loads(out)["ok"]

    # the secret never reaches the terminal, in any of these answers
    assert not [s for s in seen if SECRET in s]
