"""``aitrace suite init``: profile data into a starter GX ExpectationSuite the user edits.

GX Core 1.x dropped its profilers; this one writes plain GX 1.x suite JSON, with:

* ``expect_table_columns_to_match_ordered_list`` — the columns and their order;
* ``expect_table_row_count_to_be_between`` — the row count ± ``row_tolerance`` (default 50%);
* per column ``expect_column_values_to_be_of_type`` — the pandas dtype name as read (e.g.
  ``int64``, ``float64``, ``str``; ``object`` under pandas 2);
* ``expect_column_values_to_not_be_null`` — where the column has no nulls;
* ``expect_column_values_to_be_between`` — observed min/max of numeric (not boolean) columns;
* ``expect_column_values_to_be_in_set`` — the values of low-cardinality columns (at most
  ``max_categories`` distinct values, each seen on average at least twice), unless one of them
  looks like personal data (the privacy pack's detectors), which a suite should never quote.

The suite's ``meta.aitrace`` notes where it came from (file, digest, rows). Before it is
written the JSON is loaded back through ``gx.ExpectationSuite(**json)`` and must keep every
expectation.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aitrace.errors import AitraceError, InputError
from aitrace.evidence.gx import packs
from aitrace.store.files import atomic_write

DEFAULT_MAX_CATEGORIES = 20
DEFAULT_ROW_TOLERANCE = 0.5

_PERSONAL = [re.compile(packs.DETECTORS[d][1]["regex"])
             for d in ("email", "phone", "ipv4", "ipv6")]


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _looks_personal(values: list[Any]) -> bool:
    for v in values:
        text = str(v)
        if any(rx.search(text) for rx in _PERSONAL) or packs.contains_card_number(text) \
                or packs.contains_tw_id(text):
            return True
    return False


def _column_expectations(frame: Any, col: str, rows: int, max_categories: int) -> list[
        dict[str, Any]]:
    from pandas.api.types import is_bool_dtype, is_float_dtype, is_numeric_dtype

    series = frame[col]
    out: list[dict[str, Any]] = [
        {"type": "expect_column_values_to_be_of_type",
         "kwargs": {"column": col, "type_": str(series.dtype)}}]
    nonnull = series.dropna()
    if rows and len(nonnull) == rows:
        out.append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": col}})
    numeric = is_numeric_dtype(series.dtype) and not is_bool_dtype(series.dtype)
    if numeric and len(nonnull):
        lo, hi = _plain(nonnull.min()), _plain(nonnull.max())
        if all(isinstance(v, int | float) and math.isfinite(v) for v in (lo, hi)):
            out.append({"type": "expect_column_values_to_be_between",
                        "kwargs": {"column": col, "min_value": lo, "max_value": hi}})
    if len(nonnull) and not is_float_dtype(series.dtype):
        distinct = nonnull.unique()
        if len(distinct) <= max_categories and len(nonnull) >= 2 * len(distinct):
            values = sorted((_plain(v) for v in distinct), key=lambda v: (str(type(v)), v))
            if not _looks_personal(values):
                out.append({"type": "expect_column_values_to_be_in_set",
                            "kwargs": {"column": col, "value_set": values}})
    return out


def profile(frame: Any, *, name: str, source: str | None = None, sha256: str | None = None,
            max_categories: int = DEFAULT_MAX_CATEGORIES,
            row_tolerance: float = DEFAULT_ROW_TOLERANCE) -> dict[str, Any]:
    """A starter GX suite JSON describing ``frame`` as it is now."""
    if max_categories < 0 or not 0 <= row_tolerance < 1:
        raise InputError("max_categories must be >= 0 and row_tolerance in [0, 1)",
                         hint="e.g. --max-categories 20 --row-tolerance 0.5")
    rows = len(frame)
    columns = [str(c) for c in frame.columns]
    expectations: list[dict[str, Any]] = [
        {"type": "expect_table_columns_to_match_ordered_list",
         "kwargs": {"column_list": columns}},
        {"type": "expect_table_row_count_to_be_between",
         "kwargs": {"min_value": math.floor(rows * (1 - row_tolerance)),
                    "max_value": math.ceil(rows * (1 + row_tolerance))}},
    ]
    for col in columns:
        expectations.extend(_column_expectations(frame, col, rows, max_categories))
    meta: dict[str, Any] = {"generated_by": "aitrace suite init", "rows": rows,
                            "max_categories": max_categories, "row_tolerance": row_tolerance}
    if source is not None:
        meta["source"] = source
    if sha256 is not None:
        meta["data_sha256"] = sha256
    return {"name": name, "expectations": expectations, "meta": {"aitrace": meta}}


def check_round_trip(doc: Mapping[str, Any]) -> int:
    """Load the suite back through GX; return its expectation count (must equal the JSON's)."""
    from aitrace.evidence.gx import _context as _gx

    suite = _gx.build_suite(doc)
    if len(suite.expectations) != len(doc["expectations"]):
        raise AitraceError(f"GX kept {len(suite.expectations)} of {len(doc['expectations'])} "
                           "profiled expectations", hint="this is a bug in aitrace; report it")
    return len(suite.expectations)


def init_suite(data: str | os.PathLike[str], output: str | os.PathLike[str], *,
               name: str | None = None, force: bool = False,
               max_categories: int = DEFAULT_MAX_CATEGORIES,
               row_tolerance: float = DEFAULT_ROW_TOLERANCE) -> dict[str, Any]:
    """Profile a data file and write the starter suite to ``output``; return the suite JSON."""
    from aitrace.evidence.gx.data import read_data

    out = Path(output)
    if out.is_dir():
        raise InputError(f"{out} is a directory; -o names the suite file to write",
                         hint=f"give a file name, e.g. -o {out / 'suite.json'}")
    if out.exists() and not force:
        raise InputError(f"{out}: already exists", hint="choose another -o or pass --force")
    dataset = read_data(data)
    suite_name = name or Path(os.fspath(data)).name.split(".")[0] or "suite"
    doc = profile(dataset.frame, name=suite_name, source=Path(os.fspath(data)).as_posix(),
                  sha256=dataset.sha256, max_categories=max_categories,
                  row_tolerance=row_tolerance)
    check_round_trip(doc)
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, text.encode("utf-8"))
    except OSError as e:
        raise InputError(f"{out}: cannot write the suite ({e.strerror or e})",
                         hint="check that the directory exists and is writable, and that -o "
                              "names a file") from None
    return doc
