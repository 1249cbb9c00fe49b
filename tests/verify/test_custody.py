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
    assert "must enter the record at problem, collection, selection or design" in gaps[0]
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


def _folder_pipeline(ws: Workspace) -> None:
    """cleaning writes a folder; training reads a file inside it (as MLflow projects do)."""
    Path("raw.csv").write_text("a\n1\n2\n")
    with aitrace.stage("collection", sbom=False) as s:
        s.input("raw.csv", origin="https://example.org/raw.csv", license="CC0-1.0")
    with aitrace.stage("cleaning", inputs=["raw.csv"], outputs=["run/artifacts"]):
        Path("run/artifacts/data").mkdir(parents=True)
        Path("run/artifacts/data/train.csv").write_text("a\n1\n")
        Path("run/artifacts/log.log").write_text("ok\n")
    with aitrace.stage("training", inputs=["run/artifacts/data/train.csv"],
                       outputs=["model"]):
        Path("model").mkdir()
        Path("model/MLmodel").write_text("flavors: {}\n")
        Path("model/model.pkl").write_bytes(b"weights")


def test_a_file_inside_a_produced_folder_is_accounted_for(
        workspace: Workspace, keys: Keys, tmp_path: Path) -> None:
    _folder_pipeline(workspace)
    steps = workspace.steps()
    # Without the folder's listing only its digest is known, and the file inside is a gap.
    assert [g.path for g in custody_gaps(steps)] == ["run/artifacts/data/train.csv"]
    assert custody_gaps(steps, workspace.read_object) == []
    report = verify_bundle(_bundle(workspace, keys, tmp_path), [load_public_key(keys.pub)],
                           artifacts=[Path("model")])
    assert report.ok, [c.message for c in report.failed]
    by_id = {c.id: c for c in report.checks}
    assert by_id["chain.custody"].status == "passed"
    assert by_id["artifact.matches"].status == "passed"  # a folder given as --artifact
    assert "model" in by_id["artifact.matches"].message


def test_a_changed_file_inside_a_folder_is_still_a_gap(workspace: Workspace) -> None:
    _folder_pipeline(workspace)
    Path("run/artifacts/data/train.csv").write_text("a\n1\n999\n")  # changed afterwards
    with aitrace.stage("evaluation", inputs=["run/artifacts/data/train.csv"]):
        pass
    (gap,) = custody_gaps(workspace.steps(), workspace.read_object)
    assert gap.path == "run/artifacts/data/train.csv"
    assert "cleaning produced sha256:" in gap.message


def test_a_forged_listing_is_not_believed(workspace: Workspace) -> None:
    from aitrace.record.listing import directory_files

    _folder_pipeline(workspace)
    cleaning = next(s for s in workspace.steps() if s.stage == "cleaning")
    (folder,) = cleaning.products
    files = directory_files(cleaning, folder, workspace.read_object)
    assert files == {"data/train.csv": hashlib.sha256(b"a\n1\n").hexdigest(),
                     "log.log": hashlib.sha256(b"ok\n").hexdigest()}
    assert directory_files(cleaning, folder, lambda sha: b'{"format": "aitrace.dir/v1", '
                                                         b'"entries": []}') is None


def test_custody_gaps_make_a_record_incomplete_not_untrusted(
        workspace: Workspace, keys: Keys, tmp_path: Path) -> None:
    from aitrace.report.view import verification_from_report

    Path("orphan.csv").write_text("x\n")
    with aitrace.stage("training", inputs=["orphan.csv"], sbom=False):
        pass
    report = verify_bundle(_bundle(workspace, keys, tmp_path), [load_public_key(keys.pub)])
    assert [c.id for c in report.failed] == ["chain.custody"]
    assert not report.ok and report.authentic and report.to_dict()["authentic"] is True
    view = verification_from_report(report, keys_given=True)
    assert view.authentic
    assert view.headline.startswith("TRUSTED, BUT THE RECORD IS INCOMPLETE")
    assert "untrusted" not in view.headline
    assert view.trust("steps/000001.json") == "verified"
