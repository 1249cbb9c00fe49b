"""Scanning a model file or directory: one verdict, bound to the bytes, from both scanners.

``scan_path(path)`` finds every pickle program in the file (``containers``), runs fickling and
modelscan on each (``engines``), adds aitrace's own import list, and returns the
``aitrace.model-scan/v1`` document kept as ``model-scan`` evidence. Verdicts:

* ``unsafe`` — a critical, high or medium finding: a dangerous import or call, a dynamic
  import, a tampered opcode sequence, a Keras Lambda layer;
* ``review`` — only imports from outside the known ML libraries (``low``): loading runs that
  module's code, which is normal for a custom class and worth a look otherwise;
* ``safe`` — nothing found, or no pickle in the file at all;
* ``error`` — the file could not be scanned to its end (malformed, truncated, over a limit):
  what is after that point is unknown, so a policy treats it like ``unsafe``;
* ``unscanned`` — no installed scanner covers it (Keras ``.h5`` without h5py).

Nothing is loaded or executed; the document holds no timings, so the same bytes always give
the same evidence.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aitrace.evidence.scan.containers import HDF5_MAGIC, NPY_MAGIC, read_container
from aitrace.evidence.scan.engines import (
    Finding,
    engines,
    fickling_scan,
    import_findings,
    merge,
    modelscan_h5,
    modelscan_scan,
)
from aitrace.evidence.scan.opcodes import looks_like_pickle

SCAN_FORMAT = "aitrace.model-scan/v1"
MAX_DIR_FILES = 10_000
MAX_LISTED = 200  # imports and findings kept per file in the document

Verdict = Literal["safe", "review", "unsafe", "error", "unscanned"]
VERDICT_ORDER: tuple[Verdict, ...] = ("unsafe", "error", "unscanned", "review", "safe")

# Suffixes scanned inside a directory without looking at their bytes first; any other file is
# scanned when its first bytes are a pickle, a ZIP of pickles, or HDF5.
SCANNED_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin", ".ckpt",
                              ".h5", ".hdf5", ".keras", ".npy", ".npz", ".dill", ".dat",
                              ".data", ".model"})


@dataclass
class FileScan:
    """The scan of one file."""

    path: str
    container: str
    verdict: Verdict
    streams: int = 0
    imports: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored form (bounded lists)."""
        return {"path": self.path, "container": self.container, "verdict": self.verdict,
                "streams": self.streams, "imports": self.imports[:MAX_LISTED],
                "findings": [f.to_json() for f in self.findings[:MAX_LISTED]],
                "notes": self.notes[:MAX_LISTED], "error": self.error}


def scan_file(path: Path, shown: str) -> FileScan:
    """Scan one file (``shown`` is how the document names it)."""
    container = read_container(path)
    found: list[Finding] = []
    notes = list(container.notes)
    installed = {e.name for e in engines()}
    imports: dict[str, None] = {}
    for stream in container.streams:
        imports.update((i.dotted, None) for i in stream.imports)
        found += import_findings(stream)
        for name, run in (("fickling", fickling_scan), ("modelscan", modelscan_scan)):
            if name not in installed:
                continue
            got, problem = run(stream)
            found += got
            if problem:
                notes.append(problem)
    verdict: Verdict
    if container.kind == "hdf5":
        if "modelscan" in installed:
            got, problem = modelscan_h5(path)
            found += got
            if problem:
                notes.append(problem)
            verdict = "unscanned" if problem and not got else "safe"
        else:
            verdict = "unscanned"
    elif container.streams and not installed:
        verdict = "unscanned"
        notes.append("no pickle scanner is installed (fickling, modelscan): "
                     "pip install fickling modelscan")
    else:
        verdict = "safe"
    findings = merge(found)
    if any(f.severity in ("critical", "high", "medium") for f in findings):
        verdict = "unsafe"
    elif container.error:
        verdict = "error"
    elif verdict == "safe" and findings:
        verdict = "review"
    return FileScan(path=shown, container=container.kind, verdict=verdict,
                    streams=len(container.streams), imports=list(imports), findings=findings,
                    notes=notes, error=container.error)


def wants_scan(path: Path) -> bool:
    """Whether a file is worth scanning: a pickle-family suffix, or bytes that look like one."""
    if path.suffix.lower() in SCANNED_SUFFIXES:
        return True
    head = file_head(path)
    return starts_like_pickle(head) or head == HDF5_MAGIC or head[:6] == NPY_MAGIC or \
        head[:4] == b"PK\x03\x04"


def file_head(path: Path, n: int = 8) -> bytes:
    """The first ``n`` bytes of a regular file (empty when it is not one or cannot be read)."""
    if not path.is_file():
        return b""
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


def starts_like_pickle(head: bytes) -> bool:
    """Whether a file head is a binary pickle's (``PROTO`` 2-5), whatever the file is named."""
    return head[:1] == b"\x80" and looks_like_pickle(head)


def _dir_files(root: Path) -> tuple[list[Path], bool]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_symlink() or not p.is_file():
                continue
            if len(out) >= MAX_DIR_FILES:
                return out, True
            out.append(p)
    return out, False


def scan_path(path: Path, recorded: str, sha256: str | None = None) -> dict[str, Any]:
    """The ``aitrace.model-scan/v1`` document of a model file or directory."""
    files: list[FileScan] = []
    truncated = False
    if path.is_dir():
        candidates, truncated = _dir_files(path)
        for p in candidates:
            if wants_scan(p):
                files.append(scan_file(p, p.relative_to(path).as_posix()))
    else:
        files.append(scan_file(path, path.name))
    verdict = overall(f.verdict for f in files) if files else "safe"
    if truncated and verdict in ("safe", "review"):
        verdict = "error"
    doc: dict[str, Any] = {
        "format": SCAN_FORMAT, "path": recorded, "sha256": sha256,
        "type": "directory" if path.is_dir() else "file", "verdict": verdict,
        "scanners": [{"name": e.name, "version": e.version} for e in engines()],
        "files": [f.to_json() for f in files],
    }
    if truncated:
        doc["error"] = f"more than {MAX_DIR_FILES} files: the rest were not scanned"
    return doc


def overall(verdicts: Any) -> Verdict:
    """The worst of several verdicts."""
    seen = set(verdicts)
    return next((v for v in VERDICT_ORDER if v in seen), "safe")


def top_findings(doc: Mapping[str, Any], limit: int = 5) -> list[str]:
    """The worst findings of a scan document, as short lines (``file: what (severity)``)."""
    rows: list[tuple[int, str]] = []
    order = ("critical", "high", "medium", "low")
    files = doc.get("files")
    for f in files if isinstance(files, list) else []:
        if not isinstance(f, Mapping):
            continue
        for x in f.get("findings") or []:
            if not isinstance(x, Mapping) or x.get("severity") not in order:
                continue
            where = str(x.get("where") or "")
            name = str(f.get("path") or "")
            loc = f"{name} ({where})" if where and where != name else name
            rows.append((order.index(x["severity"]),
                         f"{loc}: {x.get('what')} ({x['severity']}, {x.get('scanner')})"))
        if f.get("error"):
            rows.append((2, f"{f.get('path')}: not fully scanned: {f['error']}"))
    rows.sort(key=lambda r: r[0])
    return [r[1] for r in rows[:limit]]
