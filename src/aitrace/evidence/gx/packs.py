r"""Ready-made Great Expectations suites for the seed's data risks: ``privacy`` and ``labels``.

A pack is not a checker of its own: it *builds a GX ExpectationSuite* for the data at hand and
the suite runs through GX like any user suite (``aitrace.evidence.gx.quality``). This module
imports neither GX nor pandas at module level, so the pure helpers below stay cheap.

``privacy`` — one expectation per (string column, detector), each a GX expectation that every
value *does not contain* that kind of personal data:

=============  ==============================================================================
detector       GX expectation
=============  ==============================================================================
``email``      ``expect_column_values_to_not_match_regex`` (:data:`EMAIL_RE`)
``phone``      ``expect_column_values_to_not_match_regex`` (:data:`PHONE_RE`: Taiwan mobile
               ``09xx-xxx-xxx`` / ``0912345678``, ``+886 9xx…`` and ``+886 2 …`` forms, other
               international ``+CC …`` numbers, North-American ``(xxx) xxx-xxxx``)
``ipv4``       ``expect_column_values_to_not_match_regex`` (:data:`IPV4_RE`)
``ipv6``       ``expect_column_values_to_not_match_regex`` (:data:`IPV6_RE`)
``card``       ``expect_column_values_to_not_contain_payment_card_number`` — a GX expectation
               aitrace registers: 13–19 digits (spaces/dashes allowed) *and* a valid Luhn sum
``tw_id``      ``expect_column_values_to_not_contain_taiwan_national_id`` — registered by
               aitrace: ``[A-Z][1289]\d{8}`` *and* a valid check digit (national ID cards and
               the 2021 resident-certificate numbers share the algorithm)
=============  ==============================================================================

Counts are *values* (rows) containing at least one match. The stored result keeps counts and
percentages only — never a value, never a row index (``quality.scrub_result``).

``labels`` — for the label column (``label_column`` or inferred from a conventional name):
the column exists; no label is missing (``expect_column_values_to_not_be_null``); every label is
in the value set (``labels``, or the observed classes, which then documents rather than
constrains); at least two classes; and for every class
``expect_column_values_to_be_in_set(value_set=[class], mostly=min_class_share)`` — GX's own way
to say "at least this share of the labels are this class".

A numeric target (regression: ``task="regression"``, a ``label_range``, or more than
:data:`MAX_INFERRED_CLASSES` distinct numbers) gets distribution checks instead of classes: the
column exists; no label is missing; every label is within the range (``label_range``, or the
observed minimum and maximum, which then documents rather than constrains); at most
``max_outlier_share`` of the labels lie beyond Tukey's far-out fences (``Q1 − 3·IQR``,
``Q3 + 3·IQR``, from the data); and the target is not constant (at least two distinct values).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aitrace.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

PACKS = ("privacy", "labels")
PRIVACY_SUITE = "aitrace.privacy"
LABELS_SUITE = "aitrace.labels"

CARD_EXPECTATION = "expect_column_values_to_not_contain_payment_card_number"
TW_ID_EXPECTATION = "expect_column_values_to_not_contain_taiwan_national_id"
NOT_MATCH_REGEX = "expect_column_values_to_not_match_regex"

# Regexes are written for both Python ``re`` (pandas) and Java (Spark ``rlike``): no
# look-behind, boundaries as "start or a non-digit" groups, no capturing groups (pandas warns).
# IPv6 needs eight groups or "::" and alphanumeric boundaries, so "std::bad_alloc",
# "12:30:45" and MAC addresses are not addresses.
EMAIL_RE = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
PHONE_RE = (
    r"(?:^|[^0-9])(?:"
    r"09[0-9]{2}[- ]?[0-9]{3}[- ]?[0-9]{3}"                       # TW mobile 0912-345-678
    r"|\+886[- ]?\(?0?\)?[- ]?9[0-9]{2}[- ]?[0-9]{3}[- ]?[0-9]{3}"  # +886 912 345 678
    r"|\+886[- ]?\(?0?\)?[- ]?[2-8][- ]?[0-9]{3,4}[- ]?[0-9]{4}"    # +886 2 2345 6789
    r"|\+[1-9][0-9]{0,2}[- ]?[0-9]{2,4}[- ]?[0-9]{3,4}[- ]?[0-9]{3,4}"  # other +CC numbers
    r"|\([0-9]{3}\) ?[0-9]{3}-[0-9]{4}"                           # (555) 123-4567
    r")(?:[^0-9]|$)"
)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_RE = rf"(?:^|[^0-9.]){_OCTET}(?:\.{_OCTET}){{3}}(?:[^0-9.]|$)"
_H = r"[0-9A-Fa-f]{1,4}"
IPV6_RE = (
    r"(?:^|[^0-9A-Za-z:])(?:"
    rf"(?:{_H}:){{7}}{_H}"
    rf"|(?:{_H}:){{2,7}}:"
    rf"|(?:{_H}:){{1,6}}:{_H}"
    rf"|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}"
    rf"|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}"
    rf"|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}"
    rf"|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}"
    rf"|{_H}:(?::{_H}){{1,6}}"
    rf"|:(?::{_H}){{1,7}}"
    r")(?:[^0-9A-Za-z:]|$)"
)
# Candidates for the checksum detectors (the checksum then rules most of them out).
CARD_CANDIDATE_RE = r"(?:^|[^0-9])[0-9](?:[ -]?[0-9]){12,18}(?:[^0-9]|$)"
TW_ID_CANDIDATE_RE = r"(?:^|[^A-Za-z0-9])[A-Z][1289][0-9]{8}(?:[^0-9]|$)"

# detector -> (expectation type, extra kwargs, description)
DETECTORS: dict[str, tuple[str, dict[str, Any], str]] = {
    "email": (NOT_MATCH_REGEX, {"regex": EMAIL_RE}, "e-mail addresses"),
    "phone": (NOT_MATCH_REGEX, {"regex": PHONE_RE}, "phone numbers"),
    "card": (CARD_EXPECTATION, {}, "payment-card numbers (Luhn-valid)"),
    "tw_id": (TW_ID_EXPECTATION, {}, "Taiwan national ID numbers (valid check digit)"),
    "ipv4": (NOT_MATCH_REGEX, {"regex": IPV4_RE}, "IPv4 addresses"),
    "ipv6": (NOT_MATCH_REGEX, {"regex": IPV6_RE}, "IPv6 addresses"),
}

LABEL_COLUMN_NAMES = ("label", "labels", "target", "y", "class", "category")
DEFAULT_MIN_CLASS_SHARE = 0.05
MAX_INFERRED_CLASSES = 100
DEFAULT_MAX_OUTLIER_SHARE = 0.01
OUTLIER_FENCE = 3.0  # IQRs beyond the quartiles: Tukey's "far out"
TASKS = ("classification", "regression")

NumericStats = tuple[float, float, float, float]
"""``(minimum, maximum, first quartile, third quartile)`` of a numeric column."""

_CARD_CANDIDATE = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
_TW_ID_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])([A-Z])([1289][0-9]{8})(?![0-9])")
# Letter values of the Taiwan ID check-digit algorithm (I, O, W... are out of order).
_TW_LETTER = dict(zip("ABCDEFGHJKLMNPQRSTUVXYWZIO", range(10, 36), strict=True))


# ---------------------------------------------------------------------------- checksums


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn (mod 10) check used by payment cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    """Whether ``text`` holds a 13–19 digit number (spaces/dashes allowed) with a valid Luhn sum."""
    for m in _CARD_CANDIDATE.finditer(text):
        digits = m.group(0).replace(" ", "").replace("-", "")
        # Runs of one digit ("0000 0000 0000 0") pass Luhn but are placeholders, not cards.
        if 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits):
            return True
    return False


def tw_id_ok(value: str) -> bool:
    """Whether ``value`` (``A123456789``) is a Taiwan ID number with a valid check digit."""
    if len(value) != 10 or value[0] not in _TW_LETTER or not value[1:].isdigit():
        return False
    code = _TW_LETTER[value[0]]
    total = code // 10 + (code % 10) * 9
    total += sum(int(d) * w for d, w in zip(value[1:9], range(8, 0, -1), strict=True))
    total += int(value[9])
    return total % 10 == 0


def contains_tw_id(text: str) -> bool:
    """Whether ``text`` holds a Taiwan national ID / resident certificate number."""
    return any(tw_id_ok(m.group(1) + m.group(2)) for m in _TW_ID_CANDIDATE.finditer(text))


# ---------------------------------------------------------------------------- privacy


def string_columns(frame: pd.DataFrame) -> list[str]:
    """The columns the privacy pack scans: text columns (object / string dtypes)."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    return [str(c) for c in frame.columns
            if is_string_dtype(frame[c].dtype) or is_object_dtype(frame[c].dtype)]


def privacy_suite(columns: Sequence[str], *,
                  detectors: Iterable[str] | None = None) -> dict[str, Any]:
    """The privacy pack's GX suite JSON for these text columns."""
    chosen = list(detectors) if detectors is not None else list(DETECTORS)
    unknown = [d for d in chosen if d not in DETECTORS]
    if unknown:
        raise InputError(f"privacy pack: unknown detector(s) {', '.join(unknown)}",
                         hint="choose from: " + ", ".join(DETECTORS))
    expectations = [
        {"type": DETECTORS[d][0], "kwargs": {"column": col, **DETECTORS[d][1]},
         "meta": {"aitrace": {"detector": d, "finds": DETECTORS[d][2]}}}
        for col in columns for d in chosen
    ]
    return {"name": PRIVACY_SUITE, "expectations": expectations,
            "meta": {"aitrace": {"pack": "privacy", "columns": list(columns),
                                 "detectors": chosen}}}


def privacy_findings(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per column and detector, how many values hold personal data (from GX results)."""
    out: list[dict[str, Any]] = []
    for r in results:
        cfg = r.get("expectation_config") or {}
        detector = ((cfg.get("meta") or {}).get("aitrace") or {}).get("detector")
        count = (r.get("result") or {}).get("unexpected_count")
        if detector and isinstance(count, int) and count > 0:
            out.append({"column": (cfg.get("kwargs") or {}).get("column"),
                        "detector": detector, "count": count})
    return sorted(out, key=lambda f: (str(f["column"]), str(f["detector"])))


# ---------------------------------------------------------------------------- labels


def infer_label_column(columns: Sequence[str], source: str) -> str:
    """The label column by convention (``label``, ``target``, ``y``, ...), case-insensitively."""
    lowered = {c.lower(): c for c in columns}
    for name in LABEL_COLUMN_NAMES:
        if name in lowered:
            return lowered[name]
    raise InputError(f"{source}: cannot tell which column holds the labels "
                     f"(none of {', '.join(LABEL_COLUMN_NAMES)})",
                     hint="pass --label-column NAME (Python: label_column=...)")


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value GX and JSON expect."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def labels_suite(columns: Sequence[str], *, source: str, label_column: str | None = None,
                 labels: Sequence[Any] | None = None,
                 min_class_share: float = DEFAULT_MIN_CLASS_SHARE,
                 distinct: Callable[[str, int], Sequence[Any]] | None = None,
                 numeric: Callable[[str], NumericStats | None] | None = None,
                 task: str | None = None,
                 label_range: tuple[float, float] | None = None,
                 max_outlier_share: float = DEFAULT_MAX_OUTLIER_SHARE) -> dict[str, Any]:
    """The labels pack's GX suite JSON: classes and their balance, or a numeric target's range.

    ``distinct(column, limit)`` returns up to ``limit`` distinct non-null values; it is asked
    only when ``labels`` (the expected classes) is not given. ``numeric(column)`` returns the
    column's :data:`NumericStats` (``None`` when it is not numeric), for a regression target.
    """
    col = label_column or infer_label_column(columns, source)
    if col not in columns:
        raise InputError(f"{source}: label column '{col}' is not a column of the data",
                         hint="columns are: " + ", ".join(columns))
    if task is not None and task not in TASKS:
        raise InputError(f"labels pack: unknown task '{task}'",
                         hint="use classification or regression")
    if task == "regression" or (label_range is not None and task is None):
        return _regression_suite(col, source, numeric, label_range, max_outlier_share)
    if not 0 <= min_class_share < 1:
        raise InputError(f"min_class_share must be in [0, 1), got {min_class_share}",
                         hint="e.g. --min-class-share 0.05 (5% of the labels per class)")
    if labels is not None:
        classes = [_plain(v) for v in labels]
        inferred = False
    else:
        if distinct is None:
            raise InputError("labels pack: give the classes or a way to list them")
        observed = distinct(col, MAX_INFERRED_CLASSES + 1)
        if len(observed) > MAX_INFERRED_CLASSES:
            if task is None and numeric is not None and numeric(col) is not None:
                # Many distinct numbers: a regression target, not class labels.
                return _regression_suite(col, source, numeric, label_range, max_outlier_share)
            raise InputError(
                f"{source}: label column '{col}' has more than {MAX_INFERRED_CLASSES} distinct "
                "values; that does not look like class labels",
                hint="pass the expected classes (Python: labels=[...]), another column, or "
                     "--task regression for a numeric target")
        classes = sorted((_plain(v) for v in observed), key=lambda v: (str(type(v)), v))
        inferred = True
    if not classes:
        raise InputError(f"{source}: label column '{col}' has no labels at all",
                         hint="label the data first, or check the column name")
    expectations: list[dict[str, Any]] = [
        {"type": "expect_column_to_exist", "kwargs": {"column": col}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": col},
         "meta": {"aitrace": {"check": "missing_labels"}}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": col, "value_set": classes},
         "meta": {"aitrace": {"check": "value_set", "inferred": inferred}}},
        {"type": "expect_column_unique_value_count_to_be_between",
         "kwargs": {"column": col, "min_value": 2, "max_value": max(len(classes), 2)},
         "meta": {"aitrace": {"check": "class_count"}}},
    ]
    for cls in classes:
        expectations.append({
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": col, "value_set": [cls], "mostly": min_class_share},
            "meta": {"aitrace": {"check": "class_share", "class": cls}}})
    return {"name": LABELS_SUITE, "expectations": expectations,
            "meta": {"aitrace": {"pack": "labels", "task": "classification",
                                 "label_column": col, "min_class_share": min_class_share,
                                 "classes_inferred": inferred}}}


def _regression_suite(col: str, source: str,
                      numeric: Callable[[str], NumericStats | None] | None,
                      label_range: tuple[float, float] | None,
                      max_outlier_share: float) -> dict[str, Any]:
    """The labels pack for a numeric target: missing labels, range, outliers, not constant."""
    if not 0 <= max_outlier_share < 1:
        raise InputError(f"max_outlier_share must be in [0, 1), got {max_outlier_share}",
                         hint="e.g. 0.01 (at most 1% of the labels far out)")
    stats = numeric(col) if numeric is not None else None
    if stats is None:
        raise InputError(f"{source}: label column '{col}' is not numeric (or has no values), "
                         "so it cannot be a regression target",
                         hint="check the column, or use the classification checks")
    low, high, q1, q3 = (float(v) for v in stats)
    inferred = label_range is None
    lo, hi = (low, high) if label_range is None else (float(label_range[0]),
                                                       float(label_range[1]))
    if lo > hi:
        raise InputError(f"label range {lo:g},{hi:g} is empty", hint="give MIN,MAX with MIN <= MAX")
    iqr = q3 - q1
    expectations: list[dict[str, Any]] = [
        {"type": "expect_column_to_exist", "kwargs": {"column": col}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": col},
         "meta": {"aitrace": {"check": "missing_labels"}}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": col, "min_value": lo, "max_value": hi},
         "meta": {"aitrace": {"check": "range", "inferred": inferred}}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": col, "min_value": q1 - OUTLIER_FENCE * iqr,
                    "max_value": q3 + OUTLIER_FENCE * iqr, "mostly": 1 - max_outlier_share},
         "meta": {"aitrace": {"check": "outliers", "fence_iqr": OUTLIER_FENCE}}},
        {"type": "expect_column_unique_value_count_to_be_between",
         "kwargs": {"column": col, "min_value": 2},
         "meta": {"aitrace": {"check": "not_constant"}}},
    ]
    return {"name": LABELS_SUITE, "expectations": expectations,
            "meta": {"aitrace": {"pack": "labels", "task": "regression", "label_column": col,
                                 "range": [lo, hi], "range_inferred": inferred,
                                 "max_outlier_share": max_outlier_share}}}


def class_shares(results: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float | int]]:
    """Count and share of each class among non-missing labels (from the class_share results)."""
    out: dict[str, dict[str, float | int]] = {}
    for r in results:
        cfg = r.get("expectation_config") or {}
        meta = (cfg.get("meta") or {}).get("aitrace") or {}
        if meta.get("check") != "class_share":
            continue
        res = r.get("result") or {}
        total = int(res.get("element_count") or 0) - int(res.get("missing_count") or 0)
        count = total - int(res.get("unexpected_count") or 0)
        out[str(meta.get("class"))] = {"count": count,
                                       "share": round(count / total, 6) if total else 0.0}
    return out
