"""The maintained scanners, as aitrace runs them: fickling and modelscan on normalised streams.

Both analyse a pickle's opcodes statically (neither unpickles), and each alone is wrong often
enough on real model files (see the README's scanner comparison):

* **fickling** (Trail of Bits) interprets the opcodes symbolically and knows many dangerous
  modules (``timeit``, ``runpy``, ``importlib``, ``functools`` …) and calls (``eval(…)``), but
  calls *every* non-standard-library import unsafe — a plain scikit-learn pickle comes out
  "likely unsafe" and joblib's own ``NumpyArrayWrapper`` "overtly malicious";
* **modelscan** (Protect AI) matches imports against a short block list (``os``, ``subprocess``,
  ``builtins.eval`` …): no false alarms on scikit-learn or PyTorch, but it misses what is not on
  the list (``timeit.timeit(code)``) and picks its scanner by file suffix.

aitrace hands both the *same* normalised streams (``aitrace.evidence.scan.opcodes``: every
pickle in the file, joblib arrays skipped, whatever the suffix) and keeps what is evidence of
danger: modelscan's block-list hits, fickling's findings of "likely overtly malicious" and
above, and fickling's structural alarms (invalid or misplaced opcodes). fickling's blanket
"non-standard import" and "call" notes are replaced by aitrace's own list of imports that are
not from a known ML library (a ``low`` finding: worth a look, not a failure). Keras ``.h5``
Lambda layers are modelscan's (it needs ``h5py``: ``pip install 'aitrace[scan]'``).
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from aitrace.evidence.scan.opcodes import DYNAMIC_IMPORT, Import, PickleStream

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
INSTALL_HINT = "pip install 'aitrace[scan]'"


@dataclass(frozen=True)
class Finding:
    """Something a scanner found: what (an import, a call, a layer), how bad, and where."""

    scanner: str
    severity: Severity
    what: str
    detail: str
    where: str = ""

    def to_json(self) -> dict[str, str]:
        """The stored form."""
        return {"scanner": self.scanner, "severity": self.severity, "what": self.what,
                "detail": self.detail, "where": self.where}


@dataclass(frozen=True)
class Engine:
    """An installed scanner: its name and version (recorded with every verdict)."""

    name: str
    version: str


@cache
def engines() -> tuple[Engine, ...]:
    """The scanners installed here (fickling and modelscan are dependencies of aitrace)."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("fickling", "modelscan"):
        try:
            __import__(name)
            found.append(Engine(name, version(name)))
        except (ImportError, PackageNotFoundError):
            continue
    return tuple(found)


# --------------------------------------------------------------------------- known imports

# Modules whose globals a model file normally imports; anything else is listed as a ``low``
# finding (loading the file imports that module and runs its code). Dangerous members of these
# modules (torch.hub, torch.load, numpy.testing …) are the scanners' to flag.
KNOWN_MODULES = (
    "numpy", "scipy", "sklearn", "joblib.numpy_pickle", "joblib.numpy_pickle_compat", "torch",
    "__torch__", "collections", "copyreg", "_codecs", "datetime", "decimal", "fractions",
    "uuid", "pandas", "pyarrow", "xgboost", "lightgbm", "catboost", "transformers",
    "tokenizers", "safetensors", "statsmodels", "imblearn", "category_encoders", "mlflow",
)
_SAFE_BUILTINS = frozenset({"set", "frozenset", "slice", "complex", "bytearray", "bytes",
                            "object", "int", "float", "str", "list", "dict", "tuple", "range",
                            "bool", "type(None)"})

# Imports fickling calls overtly malicious that are the very machinery of a format's own loader:
# joblib's array wrappers (joblib.load creates them), TorchScript's list builders,
# functools.partial (it calls only what is imported separately, which is checked in turn).
BENIGN = frozenset({
    Import("joblib.numpy_pickle", "NumpyArrayWrapper"),
    Import("joblib.numpy_pickle_compat", "NDArrayWrapper"),
    Import("joblib.numpy_pickle_compat", "ZNDArrayWrapper"),
    Import("functools", "partial"),
    *(Import("torch.jit._pickle", n) for n in (
        "build_intlist", "build_tensorlist", "build_doublelist", "build_boollist",
        "build_tensor_from_id", "restore_type_tag")),
})


def is_known(imp: Import) -> bool:
    """Whether an import is from a known ML library (or a harmless builtin)."""
    if imp in BENIGN:
        return True
    if imp.module in ("builtins", "__builtin__"):
        return imp.name in _SAFE_BUILTINS
    return any(imp.module == m or imp.module.startswith(m + ".") for m in KNOWN_MODULES)


def import_findings(stream: PickleStream) -> list[Finding]:
    """Aitrace's own notes: dynamic imports (critical) and imports outside known libraries."""
    out = []
    for imp in stream.imports:
        if imp == DYNAMIC_IMPORT:
            out.append(Finding("aitrace", "critical", "dynamic import",
                               "STACK_GLOBAL imports a name computed at load time", stream.origin))
        elif not is_known(imp):
            out.append(Finding("aitrace", "low", imp.dotted,
                               f"imports {imp.dotted}, not from a known ML library: loading "
                               "the file imports that module and runs its code", stream.origin))
    return out


# --------------------------------------------------------------------------- fickling

_FICKLING_SEVERITY: dict[str, Severity] = {
    "OVERTLY_MALICIOUS": "critical", "LIKELY_OVERTLY_MALICIOUS": "high",
    "LIKELY_UNSAFE": "medium", "SUSPICIOUS": "low", "POSSIBLY_UNSAFE": "low",
}
# fickling's notes on *every* non-stdlib import and call: aitrace's import list replaces them.
_FICKLING_BLANKET = frozenset({"NonStandardImports", "UnusedVariables"})
_FROM_IMPORT = re.compile(r"^from (\S+) import (.+)$")


@cache
def _fickling_analyzer() -> Any:
    """The analyses of fickling, minus those whose notes aitrace drops (a third of the time)."""
    from fickling.analysis import Analysis, Analyzer

    return Analyzer([a for a in Analysis.ALL
                     if type(a).__name__ not in ("UnusedVariables", "NonStandardImports")])


def _trigger_imports(trigger: str) -> list[Import]:
    m = _FROM_IMPORT.match(trigger.strip())
    if m is None:
        return []
    return [Import(m.group(1), n.strip().split(" as ")[0]) for n in m.group(2).split(",")]


def fickling_scan(stream: PickleStream) -> tuple[list[Finding], str | None]:
    """Findings of fickling on one stream that are evidence of danger, and its failure if any."""
    from fickling.analysis import Severity as FSeverity
    from fickling.analysis import check_safety
    from fickling.fickle import Pickled

    try:
        pickled = Pickled.load(io.BytesIO(stream.data), fail_on_decode_error=False)
        results = check_safety(pickled, analyzer=_fickling_analyzer()).results
    except Exception as exc:  # noqa: BLE001 - fickling raises many types on odd pickles
        return [], f"fickling could not analyse {stream.origin or 'the pickle'} " \
                   f"({type(exc).__name__}: {str(exc)[:200]})"
    out = []
    for r in results:
        if r.severity == FSeverity.LIKELY_SAFE or r.analysis_name in _FICKLING_BLANKET:
            continue
        trigger = str(r.trigger) if r.trigger is not None else ""
        if r.analysis_name == "OvertlyBadEval" and r.severity < FSeverity.OVERTLY_MALICIOUS:
            continue  # "a call can execute code": true of every object a pickle builds
        imported = _trigger_imports(trigger)
        if imported and all(i in BENIGN for i in imported):
            continue
        what = ", ".join(i.dotted for i in imported) if imported else (trigger or
                                                                       str(r.analysis_name))
        out.append(Finding("fickling", _FICKLING_SEVERITY.get(r.severity.name, "low"),
                           what[:200], str(r)[:500], stream.origin))
    return out, None


# --------------------------------------------------------------------------- modelscan

@cache
def _modelscan_settings() -> dict[str, Any]:
    from modelscan.settings import DEFAULT_SETTINGS

    return copy.deepcopy(DEFAULT_SETTINGS)


def modelscan_scan(stream: PickleStream) -> tuple[list[Finding], str | None]:
    """The block-list hits of modelscan on one stream, and its failure if any."""
    # imported first: modelscan's own modules import each other in a cycle
    import modelscan.scanners  # noqa: F401
    from modelscan.model import Model
    from modelscan.tools.picklescanner import scan_pickle_bytes

    try:
        result = scan_pickle_bytes(Model(stream.origin or "pickle", io.BytesIO(stream.data)),
                                   _modelscan_settings(), multiple_pickles=False)
    except Exception as exc:  # noqa: BLE001 - third-party parser on hostile input
        return [], f"modelscan could not analyse {stream.origin or 'the pickle'} " \
                   f"({type(exc).__name__}: {str(exc)[:200]})"
    out = [_modelscan_finding(i, stream.origin) for i in result.issues]
    errors = [str(getattr(e, "message", e)) for e in result.errors]
    return out, ("modelscan: " + "; ".join(errors)[:300]) if errors else None


def _modelscan_finding(issue: Any, where: str) -> Finding:
    d = issue.details
    sev = str(getattr(issue.severity, "name", issue.severity)).lower()
    what = f"{d.module}.{d.operator}"
    return Finding("modelscan", sev if sev in SEVERITIES else "high",  # type: ignore[arg-type]
                   what, f"{what} is on modelscan's {sev} list of unsafe operators", where)


def modelscan_h5(path: Path) -> tuple[list[Finding], str | None]:
    """Keras Lambda layers in an HDF5 file (modelscan, with h5py); or why it was not scanned."""
    try:
        import h5py  # noqa: F401
    except ImportError:
        return [], f"Keras HDF5 Lambda layers were not checked: {INSTALL_HINT} (adds h5py)"
    from modelscan.model import Model
    from modelscan.scanners.h5.scan import H5LambdaDetectScan
    from modelscan.settings import SupportedModelFormats

    settings = _modelscan_settings()
    try:
        with path.open("rb") as fh:
            model = Model(path.name, fh)
            model.set_context("formats", [SupportedModelFormats.KERAS_H5])
            result = H5LambdaDetectScan(settings).scan(model)
    except Exception as exc:  # noqa: BLE001 - h5py and modelscan on hostile input
        return [], f"modelscan could not read the HDF5 file ({type(exc).__name__}: {exc})"
    if result is None:
        return [], None
    out = [Finding("modelscan", "high", f"Keras {i.details.operator} layer",
                   "a Keras Lambda layer runs arbitrary Python code when the model is loaded",
                   path.name) for i in result.issues]
    errors = [str(getattr(e, "message", e)) for e in result.errors]
    return out, ("modelscan: " + "; ".join(errors)) if errors else None


def merge(findings: Sequence[Finding]) -> list[Finding]:
    """One finding per (what, where), naming every scanner that reported it, worst first."""
    by_key: dict[tuple[str, str], Finding] = {}
    for f in findings:
        key = (f.what, f.where)
        cur = by_key.get(key)
        if cur is None:
            by_key[key] = f
            continue
        scanners = ", ".join(sorted(set(cur.scanner.split(", ")) | {f.scanner}))
        worst = min(cur.severity, f.severity, key=SEVERITIES.index)
        keep = cur if SEVERITIES.index(cur.severity) <= SEVERITIES.index(f.severity) else f
        by_key[key] = Finding(scanners, worst, keep.what, keep.detail, keep.where)
    return sorted(by_key.values(), key=lambda f: (SEVERITIES.index(f.severity), f.where,
                                                  f.what))
