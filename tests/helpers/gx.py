"""Data, helpers and fixtures for the data-quality (GX) tests: small files with planted problems.

The fixtures (``gx_loaded``, ``data_dir``) are imported by the conftest.py of each directory that
uses them: tests/evidence/gx, tests/integrations, tests/cli.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from aitrace.store.workspace import Workspace

# Personal data planted in the privacy test file; none of it may ever reach .aitrace/.
PLANTED = {
    "email": ["alice.wang@example.com", "bob+ml@corp.example.tw"],
    "tw_id": ["A123456789", "F131104093"],
    "card": ["4111 1111 1111 1111", "5500-0055-5555-5559"],
    "phone": ["0912-345-678", "+886 912 345 678"],
    "ipv4": ["192.168.10.24"],
    "ipv6": ["2001:db8::1"],
}
# Look-alikes that fail their checksum: never counted.
DECOYS = ["4111 1111 1111 1112", "A123456788"]

CLEAN_CSV = "id,age,city,label\n" + "".join(
    f"{i},{20 + i % 50},{['Taipei', 'Tainan', 'Hsinchu'][i % 3]},{'cat' if i % 2 else 'dog'}\n"
    for i in range(60))

SUITE: dict[str, Any] = {
    "name": "clean",
    "expectations": [
        {"type": "expect_table_columns_to_match_ordered_list",
         "kwargs": {"column_list": ["id", "age", "city", "label"]}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "age"}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "age", "min_value": 0, "max_value": 120}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "city", "value_set": ["Taipei", "Tainan", "Hsinchu"]}},
    ],
}


def failing_suite() -> dict[str, Any]:
    """SUITE plus one expectation the data breaks on purpose (ages are 20..69)."""
    doc = json.loads(json.dumps(SUITE))
    doc["name"] = "clean-strict"
    doc["expectations"].append({"type": "expect_column_max_to_be_between",
                                "kwargs": {"column": "age", "min_value": 0, "max_value": 40}})
    return doc


def privacy_csv() -> str:
    rows = ["id,contact,comment,score"]
    values = [v for vs in PLANTED.values() for v in vs]
    for i in range(40):
        comment = f"note {values[i]} here" if i < len(values) else (
            f"decoy {DECOYS[i % 2]}" if i < len(values) + 4 else "nothing to see")
        contact = PLANTED["email"][i % 2] if i % 10 == 0 else "n/a"
        rows.append(f"{i},{contact},{comment},{i * 1.5}")
    return "\n".join(rows) + "\n"


def objects(root: Path) -> set[str]:
    """Every evidence object in a workspace."""
    return {p.parent.name + p.name for p in (root / ".aitrace" / "objects").rglob("*")
            if p.is_file()}


def tree_contains(root: Path, needles: list[str]) -> list[str]:
    """Which of ``needles`` occur anywhere under ``root`` (any file, as bytes)."""
    found = []
    blobs = [p.read_bytes() for p in root.rglob("*") if p.is_file()]
    for n in needles:
        if any(n.encode() in b for b in blobs):
            found.append(n)
    return found


@pytest.fixture(scope="session")
def gx_loaded() -> Any:
    """GX imported (with aitrace's expectations registered) once for the session."""
    from aitrace.evidence.gx import _context as _gx

    return _gx


@pytest.fixture
def data_dir(workspace: Workspace) -> Path:
    """An initialised project (cwd) with clean.csv, privacy.csv and suites/*.json."""
    d = workspace.root
    (d / "clean.csv").write_text(CLEAN_CSV)
    (d / "privacy.csv").write_text(privacy_csv())
    (d / "suites").mkdir()
    (d / "suites" / "clean.json").write_text(json.dumps(SUITE, indent=2))
    (d / "suites" / "strict.json").write_text(json.dumps(failing_suite(), indent=2))
    return d
