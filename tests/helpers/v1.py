"""Format v1 workspaces for the tests: as aitrace 0.1.0 left them, never rewritten by today's code.

``v1_workspace_from_asset`` unpacks the kept v1 bundle (tests/assets/bundles/v1) into a workspace
exactly as its steps, record, evidence and approvals were stored; ``empty_v1_workspace`` is a
fresh workspace whose ``record.json`` is format v1, so today's code records v1 steps into it (as
it does into any workspace not yet migrated).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from aitrace.record.jsonio import pretty_bytes
from aitrace.store.workspace import Workspace

V1_BUNDLE = (Path(__file__).resolve().parents[1] / "assets" / "bundles" / "v1"
             / "wine-classifier-1.0.0.aitrace")


def _fresh(root: Path) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    Workspace.init(root, name="v1-model")
    cfg = root / "aitrace.yaml"
    cfg.write_text(cfg.read_text().replace("  enabled: true", "  enabled: false"))
    return Workspace(root)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.chmod(0o644)
    path.write_bytes(data)
    path.chmod(0o444)


def empty_v1_workspace(root: Path) -> Workspace:
    """A workspace with a format v1 ``record.json`` (pretty, as 0.1.0 wrote it) and no steps."""
    ws = _fresh(root)
    record = json.loads((ws.dir / "record.json").read_bytes())
    record["format"] = "aitrace.record/v1"
    _write(ws.dir / "record.json", pretty_bytes(record))
    return Workspace(root)


def v1_workspace_from_asset(root: Path) -> Workspace:
    """The kept v1 bundle's record as a workspace: 13 v1 steps, their evidence and approval."""
    ws = _fresh(root)
    with zipfile.ZipFile(V1_BUNDLE) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            if name == "record.json" or name.startswith("steps/"):
                _write(ws.dir / name, data)
            elif name.startswith("objects/sha256/"):
                sha = name.rsplit("/", 1)[1]
                _write(ws.dir / "objects" / "sha256" / sha[:2] / sha[2:], data)
            elif name.startswith("approvals/"):
                _write(ws.dir / name, data)
    return Workspace(root)


def file_digests(ws: Workspace) -> dict[str, bytes]:
    """Every file under ``.aitrace/`` that history consists of, by relative path."""
    return {p.relative_to(ws.dir).as_posix(): p.read_bytes()
            for sub in ("steps", "objects", "approvals") if (ws.dir / sub).is_dir()
            for p in sorted((ws.dir / sub).rglob("*")) if p.is_file()} | {
        "record.json": (ws.dir / "record.json").read_bytes()}
