"""Preparing suites before anything is stored, so bad input fails early and loudly.

Suite JSON is GX Core 1.x ``ExpectationSuite`` JSON; every expectation type must be known to GX
(GX itself drops unknown types with a log line — aitrace refuses them), its kwargs must build,
every column it is about must exist, and the built suite must hold as many expectations as the
JSON. Packs (``aitrace.evidence.gx.packs``) build such JSON for the data at hand.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aitrace.errors import InputError
from aitrace.evidence.gx import packs as packs_mod
from aitrace.evidence.gx.data import Dataset, _first_line
from aitrace.record.jsonio import document_digest, parse_untrusted

if TYPE_CHECKING:
    pass


_COLUMN_KEYS = ("column", "column_A", "column_B", "column_list")



_OPTIONS = frozenset({"label_column", "labels", "min_class_share", "detectors", "columns",
                      "redact", "engine", "task", "label_range", "max_outlier_share"})



# ---------------------------------------------------------------------------- suites


@dataclass(frozen=True)
class Suite:
    """A suite checked against the data and built by GX, ready to run."""

    doc: Mapping[str, Any]
    name: str
    sha256: str
    source: str
    pack: str | None = None
    gx_suite: Any = None
    redact: bool = False


def load_suite_json(suite: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[
        dict[str, Any], str, str]:
    """Suite JSON from a file or a mapping: (document, digest, how errors name it)."""
    if isinstance(suite, Mapping):
        doc = dict(suite)
        try:
            return doc, document_digest(doc), "<suite>"
        except (TypeError, ValueError) as e:
            raise InputError(f"<suite>: not JSON data ({e})") from None
    text = os.fspath(suite)
    try:
        raw = Path(text).read_bytes()
    except OSError as e:
        raise InputError(f"{text}: cannot read the suite ({e.strerror or e})",
                         hint="check the path; `aitrace suite init DATA -o FILE` writes one"
                         ) from None
    doc = parse_untrusted(raw, text, error=InputError,
                          hint="fix the JSON (GX Core 1.x ExpectationSuite JSON, UTF-8)")
    if not isinstance(doc, dict):
        raise InputError(f"{text}: a suite must be a JSON object, found {type(doc).__name__}",
                         hint='{"name": ..., "expectations": [...]} (GX Core 1.x)')
    return doc, hashlib.sha256(raw).hexdigest(), text


def _check_shape(doc: Mapping[str, Any], src: str) -> list[Mapping[str, Any]]:
    if "expectation_suite_name" in doc:
        raise InputError(f"{src}: this is a GX 0.x suite (expectation_suite_name)",
                         hint="GX Core 1.x names it 'name' and each 'expectation_type' 'type'")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{src}: name is missing or not a non-empty string",
                         hint='give the suite a name: {"name": "clean", ...}')
    items = doc.get("expectations")
    if not isinstance(items, list):
        raise InputError(f"{src}: expectations must be a list",
                         hint='{"name": ..., "expectations": [{"type": ..., "kwargs": {...}}]}')
    for i, item in enumerate(items):
        where = f"{src}: expectations[{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{where} must be an object with 'type' and 'kwargs'")
        if "expectation_type" in item and "type" not in item:
            raise InputError(f"{where}: 'expectation_type' is GX 0.x",
                             hint="GX Core 1.x calls it 'type'")
        if not isinstance(item.get("type"), str):
            raise InputError(f"{where}.type is missing or not a string")
        if not isinstance(item.get("kwargs", {}), dict):
            raise InputError(f"{where}.kwargs must be an object")
    return items


def _pydantic_where(e: BaseException) -> tuple[str, str]:
    """(``.kwargs.<field>``, message) from a pydantic error, else ('', first line)."""
    errors = getattr(e, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            loc = ".".join(str(x) for x in first.get("loc", ()))
            return (f".kwargs.{loc}" if loc else ""), str(first.get("msg", ""))
        except (IndexError, TypeError, AttributeError):
            pass
    return "", _first_line(e)


def prepare_suite(doc: Mapping[str, Any], sha256: str, source: str, data: Dataset, *,
                  pack: str | None = None, redact: bool = False) -> Suite:
    """Check a suite against GX and the data, up front; build the GX suite.

    Raises:
        InputError: naming the suite file and field — an unknown expectation type, kwargs GX
            rejects, a column the data does not have, a suite GX would shrink.
    """
    from aitrace.evidence.gx import _context as _gx

    items = _check_shape(doc, source)
    known = set(data.columns)
    for i, item in enumerate(items):
        where = f"{source}: expectations[{i}]"
        cls = _gx.expectation_class(item["type"])
        if cls is None:
            raise InputError(f"{where}.type '{item['type']}' is not a Great Expectations "
                             "expectation type",
                             hint="check the spelling against the GX 1.x expectation gallery; "
                                  "GX would silently drop it")
        try:
            _gx.build_expectation(item)
        except Exception as e:  # noqa: BLE001 - pydantic / GX configuration errors
            field, msg = _pydantic_where(e)
            raise InputError(f"{where}{field}: {msg} ({item['type']})",
                             hint="see the expectation's arguments in the GX 1.x docs") from None
        kwargs = item.get("kwargs") or {}
        for key in _COLUMN_KEYS:
            if key not in getattr(cls, "domain_keys", ()) or key not in kwargs:
                continue
            value = kwargs[key]
            names = value if isinstance(value, list) else [value]
            for j, col in enumerate(names):
                if str(col) not in known:
                    idx = f"[{j}]" if isinstance(value, list) else ""
                    raise InputError(
                        f"{where}.kwargs.{key}{idx} {str(col)!r} is not a column of "
                        f"{data.source}",
                        hint="columns are: " + ", ".join(data.columns))
    gx_suite = _gx.build_suite(doc)
    if len(gx_suite.expectations) != len(items):
        raise InputError(f"{source}: GX kept {len(gx_suite.expectations)} of {len(items)} "
                         "expectations", hint="an expectation GX could not load was dropped")
    return Suite(doc=doc, name=str(doc["name"]), sha256=sha256, source=source, pack=pack,
                 gx_suite=gx_suite, redact=redact)


def _distinct(data: Dataset, column: str, limit: int) -> list[Any]:
    if data.engine == "spark":
        rows = data.frame.select(column).where(f"`{column}` IS NOT NULL").distinct() \
            .limit(limit).collect()
        return [r[0] for r in rows]
    return list(data.frame[column].dropna().unique()[:limit])


def _numeric(data: Dataset, column: str) -> packs_mod.NumericStats | None:
    """Minimum, maximum and quartiles of a numeric column (``None``: not numeric or empty)."""
    if data.engine == "spark":
        row = data.frame.selectExpr(
            f"min(`{column}`)", f"max(`{column}`)",
            f"percentile_approx(`{column}`, array(0.25, 0.75))").collect()[0]
        try:
            return float(row[0]), float(row[1]), float(row[2][0]), float(row[2][1])
        except (TypeError, ValueError, IndexError):
            return None
    import pandas as pd

    values = data.frame[column].dropna()
    if values.empty or not pd.api.types.is_numeric_dtype(values) or \
            pd.api.types.is_bool_dtype(values):
        return None
    q1, q3 = (float(q) for q in values.quantile([0.25, 0.75]))
    return float(values.min()), float(values.max()), q1, q3


def pack_suite_json(pack: str, data: Dataset, **options: Any) -> dict[str, Any]:
    """The GX suite JSON a pack builds for this data."""
    if pack == "privacy":
        cols = options.get("columns")
        if cols is not None:
            missing = [c for c in cols if c not in data.columns]
            if missing:
                raise InputError(f"privacy pack: {', '.join(map(repr, missing))} not a column "
                                 f"of {data.source}",
                                 hint="columns are: " + ", ".join(data.columns))
        scan = list(cols) if cols is not None else list(data.string_columns)
        return packs_mod.privacy_suite(scan, detectors=options.get("detectors"))
    if pack == "labels":
        return packs_mod.labels_suite(
            data.columns, source=data.source, label_column=options.get("label_column"),
            labels=options.get("labels"),
            min_class_share=float(options.get("min_class_share",
                                              packs_mod.DEFAULT_MIN_CLASS_SHARE)),
            distinct=lambda col, limit: _distinct(data, col, limit),
            numeric=lambda col: _numeric(data, col), task=options.get("task"),
            label_range=options.get("label_range"),
            max_outlier_share=float(options.get("max_outlier_share",
                                                packs_mod.DEFAULT_MAX_OUTLIER_SHARE)))
    raise InputError(f"unknown pack '{pack}'", hint="use one of: " + ", ".join(packs_mod.PACKS))


def _check_options(options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise InputError(f"unknown check option(s): {', '.join(unknown)}",
                         hint="options are: " + ", ".join(sorted(_OPTIONS)))


def prepare_checks(data: Dataset, suites: Sequence[str | os.PathLike[str] | Mapping[str, Any]]
                   = (), packs: Sequence[str] = (), **options: Any) -> list[Suite]:
    """Every suite and pack for ``data``, checked and built (nothing is stored)."""
    _check_options(options)
    if not suites and not packs:
        raise InputError("nothing to check: give a suite or a pack",
                         hint="--suite suites/clean.json, or --pack privacy|labels")
    out: list[Suite] = []
    redact = bool(options.get("redact", False))
    for s in suites:
        doc, sha, src = load_suite_json(s)
        out.append(prepare_suite(doc, sha, src, data, redact=redact))
    for p in packs:
        doc = pack_suite_json(p, data, **options)
        out.append(prepare_suite(doc, document_digest(doc), f"<pack {p}>", data, pack=p,
                                 redact=redact or p == "privacy"))
    names = [s.name for s in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"two suites are named {dupes[0]!r}",
                         hint="suite names label the evidence and metrics; make them unique")
    return out




