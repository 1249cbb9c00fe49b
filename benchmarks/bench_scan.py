"""Pickle scanners compared on a real corpus: fickling, modelscan and aitrace's combination.

The corpus (built here, in a temp dir): scikit-learn models pickled with protocols 2, 4 and 5,
joblib files (plain, zlib, gzip, bz2, xz), a PyTorch-format zip built without torch, and — when
torch is importable — real ``torch.save`` files (state dict, whole module, checkpoint, legacy
format, TorchScript); plus malicious files whose loading would run code: ``os.system``,
``builtins.exec``/``eval``/``open``, ``subprocess``, ``timeit``, ``runpy``, ``importlib``,
``webbrowser``, a payload after a joblib array, one inside a PyTorch zip, a pickle renamed
``.weights``, an object ``.npy``.

Each tool is called as a user would: ``fickling.scan_file`` (flagged: severity above
LIKELY_SAFE), ``modelscan.ModelScan().scan`` (flagged: any issue; an error or a skip is
"not scanned"), ``aitrace.evidence.scan.scan.scan_path`` (flagged: ``unsafe`` or ``error``).
Printed: false positives (benign flagged), misses (malicious not flagged), ms per file
(median of 5). Bar: aitrace has no false positive and no miss on this corpus.

Run: ``.venv/bin/python benchmarks/bench_scan.py`` (``PYTHONPATH`` with a torch install adds
the real PyTorch files).
"""

from __future__ import annotations

import builtins
import copy
import importlib
import os
import pickle
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.model_files import (  # noqa: E402
    malicious,
    sklearn_models,
    write_joblib,
    write_pickle,
    write_torch_zip,
)

REPS = 5


class _Reduce:
    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.fn, self.args)


def build_corpus(root: Path) -> tuple[list[Path], list[Path]]:
    """(benign files, malicious files)."""
    import numpy as np

    benign: list[Path] = []
    models = sklearn_models()
    for name, model in models.items():
        for proto in (2, 4, 5):
            benign.append(write_pickle(root / f"sk_{name}_p{proto}.pkl", model, proto))
        benign.append(write_joblib(root / f"sk_{name}.joblib", model))
    for codec in (3, ("gzip", 3), ("bz2", 3), ("xz", 3)):
        tag = codec[0] if isinstance(codec, tuple) else "zlib"
        benign.append(write_joblib(root / f"sk_forest_{tag}.joblib", models["forest"], codec))
    benign.append(write_torch_zip(root / "fixture_state_dict.pt"))
    benign += _real_torch(root)
    marker = root / "MARKER"
    bad: list[Path] = []
    for kind, obj in malicious(marker).items():
        bad.append(write_pickle(root / f"evil_{kind}.pkl", obj))
    for name, obj in {
        "exec": _Reduce(builtins.exec, "open('MARKER','w')"),
        "eval": _Reduce(builtins.eval, "open('MARKER','w')"),
        "subprocess": _Reduce(subprocess.Popen, ["touch", str(marker)]),
        "runpy": _Reduce(runpy.run_path, str(marker)),
        "importlib": _Reduce(importlib.import_module, "antigravity"),
        "webbrowser": _Reduce(webbrowser.open, "http://127.0.0.1:9/"),
    }.items():
        bad.append(write_pickle(root / f"evil_{name}.pkl", obj, 2))
    bad.append(write_pickle(root / "evil_renamed.weights", malicious(marker)["shell"]))
    bad.append(write_joblib(root / "evil_after_array.joblib",
                            {"m": models["forest"], "w": np.arange(100.0),
                             "x": malicious(marker)["shell"]}))
    bad.append(write_torch_zip(root / "evil_in_zip.pt",
                               pickle.dumps(malicious(marker)["shell"], protocol=2)))
    npy = root / "evil_object.npy"
    np.save(npy, np.array([malicious(marker)["open"]], dtype=object), allow_pickle=True)
    bad.append(npy)
    return benign, bad


def _real_torch(root: Path) -> list[Path]:
    try:
        import torch
    except ImportError:
        print("(torch not importable: real PyTorch files left out)")
        return []

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(4, 2)

        def forward(self, x: Any) -> Any:
            return self.lin(x)

    net = Net()
    out = [root / "torch_state_dict.pt", root / "torch_checkpoint.pth",
           root / "torch_legacy.pt", root / "torch_script.pt", root / "pytorch_model.bin"]
    torch.save(net.state_dict(), out[0])
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    torch.save({"epoch": 3, "model": net.state_dict(), "optim": opt.state_dict()}, out[1])
    torch.save(net.state_dict(), out[2], _use_new_zipfile_serialization=False)
    torch.jit.save(torch.jit.trace(net, torch.rand(1, 4)), out[3])
    torch.save(net.state_dict(), out[4])
    return out


def fickling_flags(p: Path) -> bool:
    import fickling

    return not fickling.scan_file(str(p), graceful=True).is_safe


def modelscan_flags(p: Path) -> bool:
    from modelscan.modelscan import ModelScan
    from modelscan.settings import DEFAULT_SETTINGS

    result = ModelScan(settings=copy.deepcopy(DEFAULT_SETTINGS)).scan(str(p))
    return bool(result["summary"]["total_issues"])


def aitrace_flags(p: Path) -> bool:
    from aitrace.evidence.scan.scan import scan_path

    return scan_path(p, p.name)["verdict"] in ("unsafe", "error")


def main() -> int:
    warnings.filterwarnings("ignore")
    tools = {"fickling": fickling_flags, "modelscan": modelscan_flags,
             "aitrace": aitrace_flags}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        benign, bad = build_corpus(root)
        for fn in tools.values():  # warm imports
            fn(benign[0])
        print(f"corpus: {len(benign)} benign, {len(bad)} malicious files")
        print(f"{'tool':10s} {'false pos.':>10s} {'missed':>7s} {'ms/file':>8s}")
        fails = 0
        details: dict[str, tuple[list[str], list[str]]] = {}
        for name, fn in tools.items():
            times = []
            fp = [p.name for p in benign if fn(p)]
            miss = [p.name for p in bad if not fn(p)]
            for p in benign + bad:
                runs = []
                for _ in range(REPS):
                    t0 = time.perf_counter()
                    fn(p)
                    runs.append(time.perf_counter() - t0)
                times.append(statistics.median(runs))
            details[name] = (fp, miss)
            print(f"{name:10s} {len(fp):>10d} {len(miss):>7d} "
                  f"{1000 * statistics.mean(times):>8.2f}")
            if name == "aitrace":
                fails = len(fp) + len(miss)
        for name, (fp, miss) in details.items():
            if fp or miss:
                print(f"  {name}: false positives {fp or '-'}; missed {miss or '-'}")
        if (root / "MARKER").exists() or Path("MARKER").exists():
            print("a payload ran!")
            return 1
    return 1 if fails else 0


if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    raise SystemExit(main())
