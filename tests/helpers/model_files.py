"""Real model files for the scanner tests: scikit-learn pickles, joblib, a PyTorch-format zip.

The malicious ones would create ``marker`` when loaded (their ``__reduce__`` returns
``builtins.open(marker, "w")`` or ``os.system``); writing them runs nothing, and no test ever
loads one. torch is not needed: the PyTorch zip is laid out as ``torch.save`` writes it
(``<name>/data.pkl`` with persistent ids for the storages, ``<name>/data/0`` raw floats,
``version``, ``byteorder``), its pickle written opcode by opcode.
"""

from __future__ import annotations

import builtins
import os
import pickle
import struct
import timeit
import zipfile
from pathlib import Path
from typing import Any

import joblib


class OpensMarker:
    """Loading this creates the marker file (``open(marker, "w")``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (builtins.open, (self.marker, "w"))


class RunsShell:
    """Loading this runs a shell command that creates the marker."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


class RunsTimeit:
    """Loading this runs Python code through ``timeit.timeit`` (not on modelscan's list)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (timeit.timeit, (f"open({self.marker!r}, 'w')",))


def sklearn_models() -> dict[str, Any]:
    """Small fitted scikit-learn models of several families."""
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor

    rng = np.random.RandomState(0)
    x = rng.rand(80, 4)
    y = (x[:, 0] > 0.5).astype(int)
    return {
        "logistic": LogisticRegression().fit(x, y),
        "forest": RandomForestClassifier(n_estimators=4, random_state=0).fit(x, y),
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y),
        "tree": DecisionTreeRegressor(max_depth=3).fit(x, x[:, 1]),
    }


def write_pickle(path: Path, obj: Any, protocol: int = pickle.DEFAULT_PROTOCOL) -> Path:
    """``pickle.dump`` to ``path`` (creates parents)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


def write_joblib(path: Path, obj: Any, compress: Any = 0) -> Path:
    """``joblib.dump`` to ``path`` (arrays written inline, optionally compressed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(obj, path, compress=compress)
    return path


def _unicode(s: str) -> bytes:
    data = s.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def torch_data_pkl(names: tuple[str, ...] = ("weight", "bias")) -> bytes:
    """The ``data.pkl`` of ``torch.save(state_dict)``: an OrderedDict of rebuilt tensors."""
    out = [b"\x80\x02", b"ccollections\nOrderedDict\n)R"]
    for i, name in enumerate(names):
        out += [_unicode(name), b"ctorch._utils\n_rebuild_tensor_v2\n(",
                b"(", _unicode("storage"), b"ctorch\nFloatStorage\n", _unicode(str(i)),
                _unicode("cpu"), b"K\x06tQ",                     # persistent id -> storage
                b"K\x00", b"K\x02K\x03\x86", b"K\x03K\x01\x86", b"\x89",  # offset, size, stride
                b"ccollections\nOrderedDict\n)R", b"tR", b"s"]
    out.append(b".")
    return b"".join(out)


def write_torch_zip(path: Path, data_pkl: bytes | None = None) -> Path:
    """A PyTorch-format zip-of-pickles, as ``torch.save`` lays it out (no torch needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    top = path.stem
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{top}/data.pkl", data_pkl if data_pkl is not None else torch_data_pkl())
        zf.writestr(f"{top}/.format_version", "1")
        zf.writestr(f"{top}/byteorder", "little")
        # raw float storages: the first begins with bytes that look like a PROTO opcode
        zf.writestr(f"{top}/data/0", b"\x80\x02" + bytes(22))
        zf.writestr(f"{top}/data/1", struct.pack("<6f", *range(6)))
        zf.writestr(f"{top}/version", "3\n")
    return path


def malicious(marker: Path) -> dict[str, Any]:
    """Objects whose unpickling would create ``marker``."""
    return {"open": OpensMarker(marker), "shell": RunsShell(marker),
            "timeit": RunsTimeit(marker)}
