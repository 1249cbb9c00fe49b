"""Describe model files without running them: header readers that never execute or unpickle.

A model file may come from anyone, so describing it is a security boundary like reading an
archive. Only formats whose metadata is plain data are opened:

* **safetensors**: an 8-byte little-endian header length, then a JSON header (tensor names,
  dtypes, shapes, byte offsets). The length is bounded and checked against the file size before
  anything is read, and every entry is type-checked.
* **ONNX** (only when the ``onnx`` package is installed): the protobuf graph, loaded with
  ``load_external_data=False`` — opset, producer, graph inputs and outputs.
* **Hugging Face ``config.json``** beside the model file or inside a model directory:
  ``architectures`` and ``model_type``.

Pickle-based formats (``.pkl``, ``.joblib``, PyTorch ``.pt``) are described by format name only:
deserialising them would run arbitrary code.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitrace.errors import InputError
from aitrace.record.jsonio import parse_untrusted, read_json_file

# The safetensors project caps its header at 100 MB; a larger claim is hostile or corrupt.
SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024
CONFIG_JSON_MAX = 1024 * 1024
MAX_SHARDS = 256
MAX_DIMS = 64

# suffix -> (format name, whether the format can execute code when loaded)
MODEL_FORMATS: dict[str, tuple[str, bool]] = {
    ".safetensors": ("safetensors", False),
    ".onnx": ("onnx", False),
    ".gguf": ("gguf", False),
    ".pkl": ("pickle", True),
    ".pickle": ("pickle", True),
    ".joblib": ("joblib", True),
    ".pt": ("pytorch", True),
    ".pth": ("pytorch", True),
    ".ckpt": ("checkpoint", True),
    ".bin": ("binary", True),
    ".h5": ("hdf5", False),
    ".hdf5": ("hdf5", False),
    ".keras": ("keras", False),
    ".pb": ("tensorflow-protobuf", False),
    ".tflite": ("tflite", False),
    ".mlmodel": ("coreml", False),
    ".skops": ("skops", False),
    ".ubj": ("xgboost-ubjson", False),
    ".cbm": ("catboost", False),
    ".lgb": ("lightgbm", False),
}

# dtype -> bits per element (safetensors' table; F4/F6 pack below a byte)
_DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F4": 4,
    "F6_E2M3": 6, "F6_E3M2": 6, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32,
    "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64, "C64": 64,
}
_SAFETENSORS_DTYPES = frozenset(_DTYPE_BITS)


@dataclass(frozen=True)
class ModelInfo:
    """What could be learnt about a model file or directory without executing it.

    ``model_card`` holds CycloneDX ``modelCard.modelParameters`` keys that were inferred;
    ``properties`` are extra facts as ``aitrace:*`` name/value pairs.
    """

    format: str
    executable: bool = False
    model_parameters: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)


def is_model_path(path: str) -> bool:
    """Whether a (recorded) path names a model by its suffix or a model directory's layout."""
    return Path(path).suffix.lower() in MODEL_FORMATS


# --------------------------------------------------------------------------- safetensors

@dataclass(frozen=True)
class SafetensorsHeader:
    """The checked header of a safetensors file."""

    tensors: int
    parameters: int
    dtypes: Mapping[str, int]
    metadata: Mapping[str, str]
    header_size: int


def read_safetensors_header(path: Path, *,
                            max_header: int = SAFETENSORS_MAX_HEADER) -> SafetensorsHeader:
    """Read and check a safetensors header; raise ``InputError`` naming what is wrong.

    Nothing beyond ``8 + header length`` bytes is read, and the length is validated against both
    ``max_header`` and the file size before the header is read.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise _bad(path, f"file is {size} bytes, too short for the 8-byte header length")
            (n,) = struct.unpack("<Q", prefix)
            if n > max_header:
                raise _bad(path, f"header length {n} exceeds the {max_header}-byte limit")
            if n > size - 8:
                raise _bad(path, f"header length {n} exceeds the file size ({size} bytes)")
            raw = fh.read(n)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})",
                         hint="check the path and its permissions") from None
    header = parse_untrusted(raw, f"{path}: not a valid safetensors file: its header",
                             error=InputError, hint="the file is corrupt or hostile; obtain it "
                                                    "again from a trusted source")
    if not isinstance(header, dict):
        raise _bad(path, "header must be a JSON object of tensor name -> entry")
    data_size = size - 8 - n
    metadata: dict[str, str] = {}
    dtypes: dict[str, int] = {}
    params = 0
    tensors = 0
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in entry.items()):
                raise _bad(path, "__metadata__ must map strings to strings")
            metadata = dict(entry)
            continue
        params += _check_tensor(path, name, entry, data_size)
        tensors += 1
        dtypes[entry["dtype"]] = dtypes.get(entry["dtype"], 0) + 1
    return SafetensorsHeader(tensors=tensors, parameters=params,
                             dtypes=dict(sorted(dtypes.items())), metadata=metadata,
                             header_size=n)


def _check_tensor(path: Path, name: str, entry: Any, data_size: int) -> int:
    if not isinstance(entry, dict):
        raise _bad(path, f"tensor '{name}' must be an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in _SAFETENSORS_DTYPES:
        raise _bad(path, f"tensor '{name}' has unknown dtype {dtype!r}")
    if (not isinstance(shape, list) or len(shape) > MAX_DIMS
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                       for d in shape)):
        raise _bad(path, f"tensor '{name}' shape must be a list of at most {MAX_DIMS} "
                         "non-negative integers")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_size):
        raise _bad(path, f"tensor '{name}' data_offsets {offsets!r} are outside the "
                         f"{data_size}-byte data section")
    # The shape must describe exactly the bytes it points at (as safetensors itself checks):
    # a header cannot claim 2**3968 parameters in a file of a few bytes.
    span = offsets[1] - offsets[0]
    count = 0 if 0 in shape else 1
    for d in shape if count else ():
        count *= d
        if count * _DTYPE_BITS[dtype] > span * 8:
            break
    if (count * _DTYPE_BITS[dtype] + 7) // 8 != span:
        raise _bad(path, f"tensor '{name}' shape {_brief_shape(shape)} ({dtype}) does not "
                         f"match its {span} bytes of data")
    return count


def _brief_shape(shape: list[int]) -> str:
    text = "[" + ", ".join(str(d) for d in shape[:8]) + (", …" if len(shape) > 8 else "") + "]"
    return text if len(text) <= 80 else text[:79] + "…"


def _bad(path: Path, what: str) -> InputError:
    return InputError(f"{path}: not a valid safetensors file: {what}",
                      hint="the file is corrupt or hostile; obtain it again from a trusted source")


def _human(n: int) -> str:
    """``1.2B``, ``350.0M``…: in integers, so no count is too large to print."""
    for unit, scale in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= scale:
            tenths = (n * 10 + scale // 2) // scale
            return f"{tenths // 10}.{tenths % 10}{unit}"
    return str(n)


def describe_safetensors(paths: list[Path]) -> ModelInfo:
    """Parameter and tensor counts over one file or the shards of a model directory."""
    tensors = params = 0
    dtypes: dict[str, int] = {}
    for p in paths[:MAX_SHARDS]:
        h = read_safetensors_header(p)
        tensors += h.tensors
        params += h.parameters
        for k, v in h.dtypes.items():
            dtypes[k] = dtypes.get(k, 0) + v
    props = {
        "aitrace:model:tensors": str(tensors),
        "aitrace:model:parameters": str(params),
        "aitrace:model:dtypes": ",".join(f"{k}:{v}" for k, v in sorted(dtypes.items())),
    }
    if len(paths) > 1:
        props["aitrace:model:shards"] = str(len(paths))
    return ModelInfo(format="safetensors", properties=props,
                     model_parameters={"modelArchitecture": f"{_human(params)} parameters"}
                     if params else {})


# --------------------------------------------------------------------------- ONNX

def describe_onnx(path: Path) -> ModelInfo:
    """Opset, producer and graph inputs/outputs of an ONNX file (needs the ``onnx`` package)."""
    try:
        import onnx
    except ImportError:
        return ModelInfo(format="onnx", properties={
            "aitrace:introspection": "not read: install the 'onnx' extra to describe ONNX"})
    try:
        m = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several unrelated types
        raise InputError(f"{path}: not a valid ONNX model ({type(exc).__name__}: {exc})",
                         hint="the file is corrupt; export the model again") from None
    opsets = ",".join(f"{o.domain or 'ai.onnx'}:{o.version}" for o in m.opset_import)
    props = {"aitrace:onnx:opset": opsets, "aitrace:onnx:ir_version": str(m.ir_version)}
    if m.producer_name:
        props["aitrace:onnx:producer"] = f"{m.producer_name} {m.producer_version}".strip()
    initialisers = {i.name for i in m.graph.initializer}

    def io(values: Any) -> list[dict[str, str]]:
        return [{"format": _onnx_value(v)} for v in values if v.name not in initialisers]

    params: dict[str, Any] = {"inputs": io(m.graph.input), "outputs": io(m.graph.output)}
    return ModelInfo(format="onnx", model_parameters={k: v for k, v in params.items() if v},
                     properties=props)


def _onnx_value(v: Any) -> str:
    import onnx

    t = v.type.tensor_type
    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name
    except Exception:  # noqa: BLE001 - an unknown element type is still describable
        dtype = f"elem_type={t.elem_type}"
    dims = [d.dim_param or (str(d.dim_value) if d.HasField("dim_value") else "?")
            for d in t.shape.dim]
    return f"{v.name}: tensor {dtype}[{','.join(dims)}]"


# --------------------------------------------------------------------------- config.json

def read_hf_config(model: Path) -> dict[str, Any] | None:
    """Architecture facts from a Hugging Face-style ``config.json`` beside or inside ``model``."""
    cfg = model / "config.json" if model.is_dir() else model.parent / "config.json"
    if not cfg.is_file():
        return None
    try:
        if cfg.stat().st_size > CONFIG_JSON_MAX:
            return None
        data = read_json_file(cfg, error=InputError, hint="")
    except (OSError, InputError):
        return None  # a config.json we cannot read says nothing: describe the files without it
    if not isinstance(data, dict):
        return None
    arch = data.get("architectures")
    mtype = data.get("model_type")
    out: dict[str, Any] = {}
    if isinstance(arch, list) and arch and all(isinstance(a, str) for a in arch):
        out["architectures"] = arch
    if isinstance(mtype, str):
        out["model_type"] = mtype
    return out or None


# --------------------------------------------------------------------------- dispatch

def describe_model_path(path: Path) -> ModelInfo:
    """Describe a model file or directory by reading only non-executable metadata."""
    if path.is_dir():
        shards = sorted(p for p in path.iterdir() if p.suffix == ".safetensors" and p.is_file())
        info = describe_safetensors(shards) if shards else ModelInfo(format="directory")
    else:
        fmt, executable = MODEL_FORMATS.get(path.suffix.lower(), ("unknown", False))
        if fmt == "safetensors":
            info = describe_safetensors([path])
        elif fmt == "onnx":
            info = describe_onnx(path)
        else:
            props = {"aitrace:introspection":
                     "format only: loading this format can execute code, so it was not opened"}
            info = ModelInfo(format=fmt, executable=executable,
                             properties=props if executable else {})
    hf = read_hf_config(path)
    if hf is None:
        return info
    mp = dict(info.model_parameters)
    if "architectures" in hf:
        mp["modelArchitecture"] = ", ".join(hf["architectures"])
    if "model_type" in hf:
        mp["architectureFamily"] = hf["model_type"]
    return ModelInfo(format=info.format, executable=info.executable, model_parameters=mp,
                     properties={**info.properties, "aitrace:model:config": "config.json"})
