"""Every digest of a format v2 bundle, recomputed WITHOUT aitrace — the README's "Verify a bundle by
hand", as a test.

This module imports nothing from aitrace: a bundle is unpacked with ``unzip``, its canonical form
is checked by an independent RFC 8785 implementation in JavaScript (tests/assets/node/) and by
the ``rfc8785`` package, the step chain and manifest with ``sha256sum`` and ``jq``, directory
digests with in-toto's own shell pipeline and the JavaScript dirHash, and every DSSE signature
with ``openssl`` and with ``cryptography`` over the PAE exactly as the DSSE spec defines it.

Two bundles: the kept v2 asset (tests/assets/bundles/v2, made by make_asset.py there) and one
recorded here through the CLI (in subprocesses) holding what Python's and JavaScript's JSON
disagree on — ``1e-05``, ``1.0``, ``1.5e18`` — and a model folder whose names hold spaces and
non-ASCII characters.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rfc8785

ASSETS = Path(__file__).resolve().parent / "assets"
NODE_SCRIPT = ASSETS / "node" / "recompute.mjs"
TOOLS = ("node", "unzip", "jq", "sha256sum", "openssl", "find", "xargs", "sort", "cut")

pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                reason=f"needs {', '.join(TOOLS)}")


@dataclass(frozen=True)
class Case:
    """An unpacked bundle, its public keys, and the released files and folders on disk."""

    dir: Path
    release_pub: Path
    reviewer_pub: Path
    released: dict[str, Path]


def run(*argv: str | Path, cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, input=stdin, capture_output=True,
                          check=False, env={**os.environ, "LC_ALL": "C"})
    assert proc.returncode == 0, (argv, proc.stderr.decode(errors="replace"))
    return proc.stdout


def sh(script: str, cwd: Path) -> str:
    return run("sh", "-c", script, cwd=cwd).decode()


def sha256sum(path: Path) -> str:
    return run("sha256sum", path).decode().split()[0]


def jq(expr: str, path: Path) -> Any:
    return json.loads(run("jq", "-c", expr, path))


def unpack(bundle: Path, dest: Path) -> Path:
    run("unzip", "-q", bundle, "-d", dest)
    return dest


# ----------------------------------------------------------------------------- the two bundles


def _asset(tmp: Path) -> Case:
    base = ASSETS / "bundles" / "v2"
    return Case(unpack(base / "wine-classifier-2.0.0.aitrace", tmp / "bundle"),
                base / "release.pub", base / "reviewer.pub",
                {"dist/wine-classifier.pkl": base / "wine-classifier.pkl",
                 "dist/release.json": base / "release.json",
                 "dist/wine-classifier-model": base / "wine-classifier-model"})


_RECORD = textwrap.dedent('''
    import pathlib, aitrace
    with aitrace.stage("collection", sbom=False) as s:
        s.input("https://example.org/d.csv", origin="example.org", license="CC0-1.0")
        pathlib.Path("data").mkdir()
        pathlib.Path("data/d.csv").write_text("x,y\\n1,2\\n")
        s.output("data/d.csv", license="CC0-1.0", role="dataset")
    with aitrace.stage("training", inputs=["data/d.csv"], sbom=False) as s:
        d = pathlib.Path("dist/my model")
        (d / "sub dir").mkdir(parents=True)
        (d / "weights 1.bin").write_bytes(b"w" * 1000)
        (d / "sub dir" / "réglages.json").write_text("{}")
        s.output(d, role="model")
        s.log_metrics({"loss": 1e-05, "accuracy": 1.0, "flops": 1.5e18, "tiny": 1e-7})
        s.log_params({"名": "值", "lr": 0.1})
    with aitrace.stage("deployment", inputs=["dist/my model"]) as s:
        s.output("dist/my model", role="model")
''')


def _fresh(tmp: Path) -> Case:
    project = tmp / "project"
    project.mkdir()
    cli = [sys.executable, "-m", "aitrace"]
    run(*cli, "init", "--name", "fresh", cwd=project)
    cfg = project / "aitrace.yaml"
    cfg.write_text(cfg.read_text().replace("  enabled: true", "  enabled: false"))
    run(sys.executable, "-c", _RECORD, cwd=project)
    run(*cli, "keygen", "-o", "keys/release", cwd=project)
    run(*cli, "keygen", "-o", "keys/reviewer", cwd=project)
    run(*cli, "approve", "--stage", "deployment", "--key", "keys/reviewer.key", "--name", "R",
        "--comment", "ok", cwd=project)
    run(*cli, "bundle", "--key", "keys/release.key", "-o", "fresh.aitrace", cwd=project)
    return Case(unpack(project / "fresh.aitrace", tmp / "bundle"), project / "keys/release.pub",
                project / "keys/reviewer.pub", {"dist/my model": project / "dist" / "my model"})


@pytest.fixture(scope="module", params=["asset", "fresh"])
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Case:
    tmp = tmp_path_factory.mktemp(f"by-hand-{request.param}")
    return _asset(tmp) if request.param == "asset" else _fresh(tmp)


def _files(case: Case) -> list[Path]:
    return sorted(p for p in case.dir.rglob("*") if p.is_file())


def _is_json(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
    except ValueError:
        return False
    return True


def _payload(envelope: Path, out: Path) -> Path:
    """``jq -r .payload ENVELOPE | base64 -d > OUT`` (a .sig: ``.dsseEnvelope.payload``)."""
    field = ".dsseEnvelope.payload" if envelope.suffix == ".sig" else ".payload"
    out.write_bytes(run("base64", "-d", stdin=run("jq", "-r", field, envelope)))
    return out


# ----------------------------------------------------------------------------- canonical form


def test_every_json_member_is_rfc8785_by_node_and_by_rfc8785(case: Case, tmp_path: Path) -> None:
    members = [p for p in _files(case) if _is_json(p)]
    payloads = [_payload(p, tmp_path / f"payload-{i}.json") for i, p in enumerate(
        p for p in members if p.name.endswith(".dsse.json") or p.suffix == ".sig")]
    assert len(payloads) >= 3  # the attestation, an approval, a model .sig
    checked = json.loads(run("node", NODE_SCRIPT, "jcs", *members, *payloads))
    assert checked and all(checked.values()), [f for f, ok in checked.items() if not ok]
    for path in (*members, *payloads):
        data = path.read_bytes()
        assert rfc8785.dumps(json.loads(data, parse_int=_as_double)) == data, path


def _as_double(text: str) -> int | float:
    """Read a JSON integer as RFC 8785 does (an IEEE 754 double, RFC 7493 I-JSON).

    JCS prints the double 1.5e18 as ``1500000000000000000``; plain ``json.loads`` turns that into
    a Python int beyond 2**53, which ``rfc8785.dumps`` refuses. Where a double holds the
    integer exactly, the int is kept.
    """
    n = int(text)
    return n if abs(n) < 2**53 else float(text)


def test_plain_json_loads_suffices_but_for_integral_doubles_beyond_2_53(case: Case) -> None:
    for path in (p for p in _files(case) if _is_json(p)):
        data = path.read_bytes()
        try:
            assert rfc8785.dumps(json.loads(data)) == data, path
        except rfc8785.IntegerDomainError:
            assert b"1500000000000000000" in data  # the fresh bundle's flops metric only


def test_numbers_where_python_and_javascript_differ_are_written_as_ecmascript_does(
        case: Case) -> None:
    metrics = {}
    for step in sorted((case.dir / "steps").glob("*.json")):
        metrics.update(jq(".metrics", step))
    if "loss" in metrics:  # the fresh bundle
        raw = b"".join(p.read_bytes() for p in (case.dir / "steps").glob("*.json"))
        assert b'"loss":0.00001' in raw and b'"accuracy":1' in raw and b'"tiny":1e-7' in raw
        assert b'"flops":1500000000000000000' in raw


# ----------------------------------------------------------------------------- digests


def test_the_step_chain_with_sha256sum_and_jq(case: Case) -> None:
    steps = sorted((case.dir / "steps").glob("*.json"))
    assert steps
    prev = None
    for step in steps:
        assert jq(".format", step) == "aitrace.step/v2"
        assert jq(".prev", step) == prev, step.name
        prev = sha256sum(step)
    manifest = case.dir / "manifest.json"
    assert jq(".chain_head", manifest) == prev
    assert jq(".format", manifest) == "aitrace.bundle/v2"


def test_manifest_members_with_sha256sum(case: Case) -> None:
    listed = jq(".members", case.dir / "manifest.json")
    on_disk = {p.relative_to(case.dir).as_posix() for p in _files(case)}
    assert {m["path"] for m in listed} == on_disk - {"manifest.json", "attestation.dsse.json"}
    for m in listed:
        path = case.dir / m["path"]
        assert (sha256sum(path), path.stat().st_size) == (m["sha256"], m["size"]), m["path"]


def test_evidence_objects_are_named_by_their_sha256sum(case: Case) -> None:
    objects = sorted((case.dir / "objects" / "sha256").iterdir())
    assert objects
    for path in objects:
        assert sha256sum(path) == path.name


def test_statement_subjects_and_predicate(case: Case, tmp_path: Path) -> None:
    statement = _payload(case.dir / "attestation.dsse.json", tmp_path / "statement.json")
    assert jq("._type", statement) == "https://in-toto.io/Statement/v1"
    assert jq(".predicateType", statement) == "https://aitrace.dev/production-record/v2"
    subjects = {s["name"]: s["digest"] for s in jq(".subject", statement)}
    assert subjects.pop("manifest.json") == {"sha256": sha256sum(case.dir / "manifest.json")}
    steps = sorted((case.dir / "steps").glob("*.json"))
    assert [s["digest"] for s in jq(".predicate.steps", statement)] == [
        sha256sum(p) for p in steps]
    assert jq(".predicate.chain_head", statement) == sha256sum(steps[-1])
    assert set(subjects) == set(case.released)
    for name, digest in subjects.items():
        local = case.released[name]
        if local.is_file():
            assert digest == {"sha256": sha256sum(local)}
            continue
        # A directory: in-toto dirHash, by the spec's pipeline and by an independent one.
        node = json.loads(run("node", NODE_SCRIPT, "dirhash", local))
        assert digest == {"dirHash": node["dirHash"]}
        names = [line.split("  ", 1)[1] for line in node["listing"].splitlines()]
        if not any(" " in n for n in names):
            spec = "find . -type f | cut -c3- | LC_ALL=C sort | xargs -r sha256sum | sha256sum"
            assert sh(spec, local).split()[0] == node["dirHash"]
        nul = ("find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum"
               " | sha256sum")
        assert sh(nul, local).split()[0] == node["dirHash"]
        # The bundle holds the listing itself, under that digest.
        listing = case.dir / "objects" / "sha256" / node["dirHash"]
        assert listing.read_text(encoding="utf-8") == node["listing"]


# ----------------------------------------------------------------------------- signatures


def _pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 PAE, from the spec: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _keyid(pub: Path) -> str:
    """``openssl pkey -pubin -in PUB -outform DER | sha256sum``."""
    return hashlib.sha256(run("openssl", "pkey", "-pubin", "-in", pub, "-outform", "DER")
                          ).hexdigest()


def _verify_dsse(envelope: dict[str, Any], pub: Path, tmp: Path) -> str:
    """Verify the envelope's signature by ``pub`` with openssl and cryptography; its keyid."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pae = _pae(envelope["payloadType"], base64.b64decode(envelope["payload"]))
    (sig,) = [s for s in envelope["signatures"] if s.get("keyid") == _keyid(pub)]
    (tmp / "pae.bin").write_bytes(pae)
    (tmp / "sig.der").write_bytes(base64.b64decode(sig["sig"]))
    out = run("openssl", "dgst", "-sha256", "-verify", pub, "-signature", tmp / "sig.der",
              tmp / "pae.bin").decode()
    assert "Verified OK" in out
    key = serialization.load_pem_public_key(pub.read_bytes())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(base64.b64decode(sig["sig"]), pae, ec.ECDSA(hashes.SHA256()))
    return str(sig["keyid"])


def test_the_attestation_signature_with_openssl_and_cryptography(case: Case,
                                                                 tmp_path: Path) -> None:
    envelope = json.loads((case.dir / "attestation.dsse.json").read_bytes())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert _verify_dsse(envelope, case.release_pub, tmp_path) == _keyid(case.release_pub)


def test_approvals_sign_the_sha256sum_of_their_step(case: Case, tmp_path: Path) -> None:
    approvals = sorted((case.dir / "approvals").glob("*.dsse.json"))
    assert approvals
    by_id = {jq(".id", p): p for p in (case.dir / "steps").glob("*.json")}
    for path in approvals:
        assert path.name == f"{sha256sum(path)}.dsse.json"
        envelope = json.loads(path.read_bytes())
        _verify_dsse(envelope, case.reviewer_pub, tmp_path)
        statement = json.loads(base64.b64decode(envelope["payload"]))
        (subject,) = statement["subject"]
        step = by_id[subject["name"].removeprefix("step:")]
        assert subject["digest"] == {"sha256": sha256sum(step)}


def test_model_signatures_name_the_same_key_and_verify(case: Case, tmp_path: Path) -> None:
    sigs = sorted((case.dir / "signatures").rglob("*.sig"))
    assert sigs
    for path in sigs:
        bundle = json.loads(path.read_bytes())
        # One key id in both envelopes; the Sigstore hint is model_signing's own rule.
        keyid = _verify_dsse(bundle["dsseEnvelope"], case.release_pub, tmp_path)
        assert keyid == _keyid(case.release_pub)
        assert bundle["verificationMaterial"]["publicKey"]["hint"] == sha256sum(
            case.release_pub)
