"""Model introspection that never executes code: safetensors, ONNX, config.json, pickles."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import pytest

from aitrace.errors import InputError
from aitrace.evidence.model.introspect import describe_model_path, read_safetensors_header


def _st(header: object, data: bytes = b"", *, length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def test_safetensors_header_counts(tmp_path: Path) -> None:
    p = tmp_path / "m.safetensors"
    p.write_bytes(_st({"a": {"dtype": "F32", "shape": [4, 5], "data_offsets": [0, 80]},
                       "b": {"dtype": "BF16", "shape": [3], "data_offsets": [80, 86]},
                       "__metadata__": {"format": "pt"}}, bytes(86)))
    h = read_safetensors_header(p)
    assert (h.tensors, h.parameters, dict(h.dtypes)) == (2, 23, {"BF16": 1, "F32": 1})
    assert h.metadata == {"format": "pt"}
    info = describe_model_path(p)
    assert info.format == "safetensors" and info.properties["aitrace:model:parameters"] == "23"


@pytest.mark.parametrize(("content", "message"), [
    (_st(b"{}", length=2**62), "exceeds the 104857600-byte limit"),
    (_st(b"{}", length=1000), "exceeds the file size"),
    (b"\x01\x02", "too short"),
    (_st(b"\xff\xfe not json"), "is not UTF-8"),
    (_st(b"{\"a\": "), "is not valid JSON"),
    (_st([1, 2]), "must be a JSON object"),
    (_st({"a": {"dtype": "EVIL", "shape": [1], "data_offsets": [0, 4]}}, bytes(4)),
     "unknown dtype"),
    (_st({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4)),
     "shape must be"),
    (_st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4000]}}, bytes(4)),
     "outside the 4-byte data section"),
    (_st({"__metadata__": {"k": 1}}), "__metadata__ must map strings"),
    # 64 dims of 2**62: 2**3968 "parameters" in a 4-byte tensor
    (_st({"a": {"dtype": "F32", "shape": [2**62] * 64, "data_offsets": [0, 4]}}, bytes(4)),
     "… (F32) does not match its 4 bytes of data"),
    (_st({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 4]}}, bytes(4)),
     "tensor 'a' shape [2, 2] (F32) does not match its 4 bytes of data"),
])
def test_hostile_safetensors_headers_are_rejected(tmp_path: Path, content: bytes,
                                                  message: str) -> None:
    p = tmp_path / "evil.safetensors"
    p.write_bytes(content)
    with pytest.raises(InputError, match="not a valid safetensors file") as exc:
        read_safetensors_header(p)
    assert message in exc.value.message and str(p) in exc.value.message
    assert exc.value.hint


def test_huge_header_length_reads_nothing_more(tmp_path: Path) -> None:
    p = tmp_path / "big.safetensors"
    p.write_bytes(_st(b"{}", length=50 * 2**20))
    with pytest.raises(InputError, match="exceeds the file size"):
        read_safetensors_header(p)


def test_pickle_is_never_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (Path.touch, (str(marker),))  # type: ignore[return-value]

    p = tmp_path / "model.pkl"
    p.write_bytes(pickle.dumps(Boom()))
    info = describe_model_path(p)
    assert info.format == "pickle" and info.executable
    assert "not opened" in info.properties["aitrace:introspection"]
    assert not marker.exists()


def test_hugging_face_config_beside_and_inside(tmp_path: Path) -> None:
    d = tmp_path / "bert"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"architectures": ["BertForMaskedLM"],
                                               "model_type": "bert"}))
    (d / "model.safetensors").write_bytes(
        _st({"w": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]}}, bytes(8)))
    for target in (d, d / "model.safetensors"):
        info = describe_model_path(target)
        assert info.model_parameters["modelArchitecture"] == "BertForMaskedLM"
        assert info.model_parameters["architectureFamily"] == "bert"
        assert info.properties["aitrace:model:parameters"] == "4"


def test_onnx_inputs_outputs_and_opset(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 13])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 13])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="test")
    p = tmp_path / "m.onnx"
    onnx.save(model, str(p))
    info = describe_model_path(p)
    assert info.properties["aitrace:onnx:opset"] == "ai.onnx:17"
    assert info.model_parameters["inputs"] == [{"format": "x: tensor float32[batch,13]"}]
    assert info.model_parameters["outputs"] == [{"format": "y: tensor float32[batch,13]"}]
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff" * 64)
    with pytest.raises(InputError, match="not a valid ONNX model"):
        describe_model_path(bad)


def test_a_header_claiming_2_to_the_3968_parameters_is_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`aitrace sbom --model` on it: exit 2, one line, no OverflowError, nothing written."""
    from aitrace.cli import main

    p = tmp_path / "m.safetensors"
    p.write_bytes(_st({"w": {"dtype": "F32", "shape": [2**62] * 64, "data_offsets": [0, 0]}}))
    out = tmp_path / "bom.json"
    assert main(["sbom", "--model", str(p), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "does not match its 0 bytes of data" in err
    assert not out.exists()


def test_parameter_counts_print_at_any_size() -> None:
    from aitrace.evidence.model.introspect import _human

    assert [_human(n) for n in (999, 1_250, 350_000_000, 7_241_732_096)] == [
        "999", "1.3K", "350.0M", "7.2B"]
    assert _human(2**3968).endswith("B")


def test_a_deep_config_json_is_ignored_not_a_traceback(tmp_path: Path) -> None:
    model = tmp_path / "model.safetensors"
    model.write_bytes(_st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
                          bytes(4)))
    (tmp_path / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    info = describe_model_path(model)
    assert info.format == "safetensors" and "aitrace:model:config" not in info.properties
