"""Chain of custody on small real records: gaps named precisely, external sources, failed steps."""

from __future__ import annotations

import hashlib
from pathlib import Path

import aitrace
from aitrace.bundle.write import build_bundle
from aitrace.signing.keys import load_public_key, load_signer
from aitrace.store.workspace import Workspace
from aitrace.verify.bundle import verify_bundle
from aitrace.verify.custody import custody_gaps
from tests.helpers.bundle import Keys


def _bundle(ws: Workspace, keys: Keys, tmp_path: Path) -> Path:
    out = tmp_path / "b.aitrace"
    build_bundle(ws, [load_signer(keys.key)], out)
    return out


def test_gap_named_precisely(workspace: Workspace, keys: Keys, tmp_path: Path) -> None:
    Path("data").mkdir()
    with aitrace.stage("collection", sbom=False) as s:
        s.input("https://example.org/raw", origin="example.org")
        Path("data/raw.csv").write_text("a\n1\n")
        s.output("data/raw.csv")
    with aitrace.stage("cleaning", inputs=["data/raw.csv"]) as s:
        Path("data/clean.csv").write_text("a\n1\n2\n")
        s.output("data/clean.csv")
    produced = hashlib.sha256(b"a\n1\n2\n").hexdigest()
    Path("data/clean.csv").write_text("a\n1\n2\n3\n")  # changed outside the record
    used = hashlib.sha256(b"a\n1\n2\n3\n").hexdigest()
    with aitrace.stage("training", inputs=["data/clean.csv"], sbom=False):
        pass
    expected = (f"training input data/clean.csv sha256:{used[:12]}… was not produced by any "
                f"earlier step (cleaning produced sha256:{produced[:12]}…)")
    assert [g.message for g in custody_gaps(workspace.steps())] == [expected]
    report = verify_bundle(_bundle(workspace, keys, tmp_path), [load_public_key(keys.pub)])
    assert [(c.id, c.message, c.member) for c in report.failed] == [
        ("chain.custody", expected, "steps/000003.json")]


def test_external_sources(workspace: Workspace) -> None:
    Path("train.py").write_text("print('hi')\n")
    Path("extra.csv").write_text("x\n")
    with aitrace.stage("training", sbom=False) as s:
        s.input("train.py", origin="git", role="code")       # code may come from outside
        s.input("extra.csv", origin="a colleague", role="dataset")  # data may not, here
    with aitrace.stage("evaluation", inputs=["extra.csv"]):  # seen before: accounted for
        pass
    Path("unknown.csv").write_text("y\n")
    with aitrace.stage("evaluation", inputs=["unknown.csv"]):
        pass
    gaps = [g.message for g in custody_gaps(workspace.steps())]
    assert len(gaps) == 2
    assert gaps[0].startswith("training input extra.csv sha256:")
    assert ("must enter the record at problem, collection, selection, design or monitoring"
            in gaps[0])
    assert gaps[1].endswith("was not produced by any earlier step and is not a declared "
                            "external source")


def test_failed_steps_do_not_produce(workspace: Workspace) -> None:
    Path("d.csv").write_text("a\n")
    try:
        with aitrace.stage("cleaning", outputs=["d.csv"]):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with aitrace.stage("training", inputs=["d.csv"], sbom=False):
        pass
    assert len(custody_gaps(workspace.steps())) == 1
