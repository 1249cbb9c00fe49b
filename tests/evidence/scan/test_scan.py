"""The model scan on a real corpus: malicious files flagged, plain ML files not, nothing run."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aitrace.evidence.scan.containers import read_container
from aitrace.evidence.scan.engines import engines
from aitrace.evidence.scan.opcodes import PickleWalkError, Tape, walk_pickle
from aitrace.evidence.scan.scan import SCAN_FORMAT, scan_path, top_findings
from aitrace.evidence.scan.source import ModelScanSource
from tests.helpers.model_files import (
    malicious,
    sklearn_models,
    torch_data_pkl,
    write_joblib,
    write_pickle,
    write_torch_zip,
)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "MARKER"


def _scan(path: Path) -> dict[str, Any]:
    doc = scan_path(path, path.name)
    assert ModelScanSource().validate(doc) is None
    return doc


def _whats(doc: dict[str, Any]) -> set[str]:
    return {f["what"] for file in doc["files"] for f in file["findings"]}


def test_both_scanners_are_installed_and_recorded(tmp_path: Path) -> None:
    doc = _scan(write_pickle(tmp_path / "m.pkl", {"a": 1}))
    assert {s["name"] for s in doc["scanners"]} == {"fickling", "modelscan"}
    assert {e.name for e in engines()} == {"fickling", "modelscan"}
    assert doc["format"] == SCAN_FORMAT and doc["verdict"] == "safe"


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_plain_scikit_learn_pickles_are_safe(tmp_path: Path, protocol: int) -> None:
    for name, model in sklearn_models().items():
        doc = _scan(write_pickle(tmp_path / f"{name}.pkl", model, protocol))
        assert doc["verdict"] == "safe", (name, top_findings(doc))
        assert any(i.startswith("sklearn.") for i in doc["files"][0]["imports"])


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3)])
def test_joblib_files_are_walked_past_their_arrays(tmp_path: Path, compress: Any) -> None:
    forest = sklearn_models()["forest"]
    doc = _scan(write_joblib(tmp_path / "forest.joblib", forest, compress))
    assert doc["verdict"] == "safe", top_findings(doc)
    assert doc["files"][0]["container"].startswith("joblib")
    assert "sklearn.tree._tree.Tree" in doc["files"][0]["imports"]


def test_a_payload_after_a_joblib_array_is_found(tmp_path: Path, marker: Path) -> None:
    """modelscan alone stops at the first array and reports nothing here."""
    bundle = {"model": sklearn_models()["forest"], "weights": np.arange(500.0),
              "objects": np.array([1, "x"], dtype=object),
              "later": malicious(marker)["shell"]}
    doc = _scan(write_joblib(tmp_path / "m.joblib", bundle))
    assert doc["verdict"] == "unsafe"
    assert {"os.system", "posix.system"} & _whats(doc)
    assert not marker.exists()


def test_a_pytorch_zip_of_pickles_is_safe(tmp_path: Path) -> None:
    doc = _scan(write_torch_zip(tmp_path / "model.pt"))
    assert doc["verdict"] == "safe", top_findings(doc)
    f = doc["files"][0]
    assert f["container"] == "pytorch-zip" and f["streams"] == 1  # data/0 is not taken for one
    assert "torch._utils._rebuild_tensor_v2" in f["imports"]


@pytest.mark.parametrize("kind", ["open", "shell", "timeit"])
@pytest.mark.parametrize("suffix", [".pkl", ".pt", ".bin", ".weights"])
def test_malicious_pickles_are_unsafe_whatever_their_name(tmp_path: Path, marker: Path,
                                                           kind: str, suffix: str) -> None:
    doc = _scan(write_pickle(tmp_path / f"m{suffix}", malicious(marker)[kind]))
    assert doc["verdict"] == "unsafe"
    assert top_findings(doc)[0].startswith(f"m{suffix}: ")
    assert not marker.exists()


def test_a_malicious_pickle_inside_a_pytorch_zip(tmp_path: Path, marker: Path) -> None:
    evil = pickle.dumps(malicious(marker)["open"], protocol=2)
    doc = _scan(write_torch_zip(tmp_path / "model.pt", evil))
    assert doc["verdict"] == "unsafe"
    assert "io.open" in _whats(doc)  # builtins.open pickles as io.open: not on modelscan's list
    assert "model/data.pkl" in top_findings(doc)[0]
    assert not marker.exists()


def test_an_unknown_class_is_for_review(tmp_path: Path) -> None:
    data = b"\x80\x04\x95\x18\x00\x00\x00\x00\x00\x00\x00\x8c\x08__main__\x8c\x03Net\x93)\x81."
    p = tmp_path / "full.pt"
    p.write_bytes(data)
    doc = _scan(p)
    assert doc["verdict"] == "review"
    assert _whats(doc) == {"__main__.Net"}


def test_truncated_or_garbled_pickles_are_errors(tmp_path: Path) -> None:
    data = pickle.dumps(sklearn_models()["logistic"])
    p = tmp_path / "cut.pkl"
    p.write_bytes(data[: len(data) // 2])
    doc = _scan(p)
    assert doc["verdict"] == "error" and doc["files"][0]["error"]


def test_files_without_pickles(tmp_path: Path) -> None:
    p = tmp_path / "w.bin"
    p.write_bytes(b"GGUF" + bytes(60))
    assert _scan(p)["verdict"] == "safe"
    assert read_container(p).kind == "none"
    npy = tmp_path / "a.npy"
    np.save(npy, np.arange(5.0))
    assert _scan(npy)["verdict"] == "safe"


def test_an_object_npy_is_a_pickle(tmp_path: Path, marker: Path) -> None:
    npy = tmp_path / "a.npy"
    np.save(npy, np.array([malicious(marker)["open"], 1], dtype=object), allow_pickle=True)
    doc = _scan(npy)
    assert doc["verdict"] == "unsafe"
    assert not marker.exists()


def test_a_model_directory_is_scanned_file_by_file(tmp_path: Path, marker: Path) -> None:
    d = tmp_path / "model"
    write_pickle(d / "model.pkl", sklearn_models()["tree"])
    (d / "MLmodel").write_text("flavors: {}\n")
    write_pickle(d / "sub" / "extra.data", malicious(marker)["open"])
    (d / "notes.txt").write_text("plain text")
    doc = scan_path(d, "model")
    assert doc["type"] == "directory" and doc["verdict"] == "unsafe"
    assert {f["path"]: f["verdict"] for f in doc["files"]} == {"model.pkl": "safe",
                                                               "sub/extra.data": "unsafe"}


def test_a_decompression_bomb_is_refused(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from aitrace.evidence.scan import containers

    monkeypatch.setattr(containers, "MIN_BOMB", 1024)
    p = tmp_path / "bomb.joblib"
    n = 10_000_000  # one huge byte constant: the walker reads through it, the bound stops it
    p.write_bytes(gzip.compress(b"\x80\x04\x8e" + n.to_bytes(8, "little") + bytes(n) + b"."))
    c = read_container(p)
    assert c.error is not None
    assert _scan(p)["verdict"] == "error"


@pytest.mark.parametrize("codec", [gzip.compress, bz2.compress, lzma.compress])
def test_compressed_malicious_pickles(tmp_path: Path, marker: Path, codec: Any) -> None:
    p = tmp_path / "m.joblib"
    p.write_bytes(codec(pickle.dumps(malicious(marker)["shell"])))
    assert _scan(p)["verdict"] == "unsafe"


def test_a_zip_with_a_pickle_member_of_any_name(tmp_path: Path, marker: Path) -> None:
    p = tmp_path / "model.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("weights/blob", pickle.dumps(malicious(marker)["open"]))
        zf.writestr("readme.txt", "hello")
    assert _scan(p)["verdict"] == "unsafe"


def test_the_normalised_stream_is_the_same_program(tmp_path: Path) -> None:
    """Big byte constants are emptied and frames dropped; the opcodes are otherwise kept."""
    obj = {"w": b"\x01" * 100_000, "k": [1, 2.5, "x", None, True], "t": (1, 2)}
    data = pickle.dumps(obj, protocol=5)
    stream = walk_pickle(Tape(io.BytesIO(data)), "")
    assert len(stream.data) < 200 and stream.skipped_bytes == 100_000
    again = pickle.loads(stream.data)  # noqa: S301 - our own plain-data pickle
    assert again == {**obj, "w": b""}


def test_hostile_streams_stop_cleanly() -> None:
    for data in (b"\x80\x04\x8c\x05ab", b"\x80\x02h\x07.", b"\x80\x02\xff.",
                 b"\x80\x02T\xff\xff\xff\xff.", b"\x80\x02\x85."):
        with pytest.raises(PickleWalkError):
            walk_pickle(Tape(io.BytesIO(data)), "")


def test_the_pytorch_fixture_is_what_torch_writes() -> None:
    """Our data.pkl fixture is well-formed: the walker reads it to its STOP."""
    stream = walk_pickle(Tape(io.BytesIO(torch_data_pkl())), "")
    assert [i.dotted for i in stream.imports] == [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage"]
