"""Data-quality evidence: validate data with Great Expectations and attach GX's own result.

The pipeline is *load* (``aitrace.evidence.gx.data``: the data once, with the digest of the
exact bytes parsed) → *prepare* (``aitrace.evidence.gx.suites``: every suite checked before
anything is stored) → *validate* (through GX itself in an ephemeral context, result format
``BASIC`` with no sample of unexpected values) → *attach* (here: GX's ``to_json_dict()`` as
evidence kind ``gx-validation``, bound to the data's digest, with a summary and metrics).

Stored result (:func:`scrub_result`): GX's own JSON, minus every row-level key
(``partial_unexpected_list``/``_counts``/``_index_list``, ``unexpected_list``,
``unexpected_index_list``, ``unexpected_index_query``, ``unexpected_rows``) and minus exception
tracebacks. Aggregates GX reports (counts, percentages, ``observed_value`` such as a mean or a
distinct-value set) are kept for plain suites. For the ``privacy`` pack (or ``redact=True``)
only counts and percentages are kept — no observed value, no exception message: it must never
store a value it found.

Summary (``EvidenceRef.summary``): ``success``, ``evaluated``, ``successful``, ``failed``,
``failed_expectations`` (``type``, ``column``/``columns``, ``observed_value`` when short and not
redacted, ``unexpected_count``/``unexpected_percent``, ``exception``; at most
:data:`MAX_FAILED_LISTED`), ``gx_version``, ``suite_name``, ``suite_sha256`` (SHA-256 of the
suite file's bytes; for a mapping or a pack, of its canonical JSON), ``data_sha256``, ``rows``,
``columns``, ``engine``, ``result_format``, and for packs ``pack`` plus ``findings`` (privacy)
or ``label_column``/``classes`` (labels).

Metrics and params (logged to the step's MLflow run when the step ends): per check
``gx.<suite>.success`` (1/0), ``gx.<suite>.evaluated``, ``gx.<suite>.failed_expectations``;
params ``gx.version``, ``gx.<suite>.suite_sha256`` and ``gx.<suite>.data_sha256``; over all
checks of the step (added by ``GxSource`` as the step ends) ``gx.checks``, ``gx.success`` and
``gx.failed_expectations``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from aitrace.errors import AitraceError, InputError
from aitrace.evidence.gx import packs as packs_mod
from aitrace.evidence.gx.data import (
    ENGINES,
    MEMORY_SUBJECT,
    Dataset,
    Engine,
    _first_line,
    frame_dataset,
    read_data,
)
from aitrace.evidence.gx.source import MEDIA_TYPE
from aitrace.evidence.gx.suites import Suite, _check_options, prepare_checks
from aitrace.record.stages import EVIDENCE_GX
from aitrace.store.digest import DigestCache

if TYPE_CHECKING:
    from aitrace.hooks.handle import StepHandle
    from aitrace.record.models import EvidenceRef


MAX_FAILED_LISTED = 50


# Keys of a GX expectation result that list rows or values: raw data, never stored.
ROW_LEVEL_KEYS = frozenset({
    "partial_unexpected_list", "partial_unexpected_counts", "partial_unexpected_index_list",
    "unexpected_list", "unexpected_index_list", "unexpected_index_query", "unexpected_rows",
    "unexpected_index_column_names",
})
# What a redacted (privacy) result keeps: counts and percentages only.
COUNT_KEYS = frozenset({
    "element_count", "unexpected_count", "unexpected_percent", "missing_count",
    "missing_percent", "unexpected_percent_total", "unexpected_percent_nonmissing",
})


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CheckResult:
    """One validation: GX's result as stored (scrubbed), its summary, and the evidence."""

    success: bool
    summary: Mapping[str, Any]
    result: Mapping[str, Any]
    evidence: EvidenceRef | None = None


def _json_safe(value: Any) -> Any:
    """Non-finite floats as strings (canonical JSON has no NaN), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _scrub_exception(info: Any, redact: bool) -> Any:
    if not isinstance(info, dict):
        return info
    if "raised_exception" not in info:  # keyed by metric id (a metric failed to resolve)
        return {k: _scrub_exception(v, redact) for k, v in info.items()}
    out = dict(info)
    out["exception_traceback"] = None
    if redact and out.get("exception_message") is not None:
        out["exception_message"] = "(redacted by aitrace: may quote data values)"
    return out


def scrub_result(doc: Mapping[str, Any], *, redact: bool) -> dict[str, Any]:
    """GX's result JSON without row-level data (and, redacted, with counts only)."""
    out = dict(_json_safe(dict(doc)))
    results = []
    for r in out.get("results") or []:
        r = dict(r)
        res = r.get("result")
        if isinstance(res, dict):
            if redact:
                res = {k: v for k, v in res.items() if k in COUNT_KEYS}
            else:
                res = {k: v for k, v in res.items() if k not in ROW_LEVEL_KEYS}
                details = res.get("details")
                if isinstance(details, dict):
                    res["details"] = {k: v for k, v in details.items()
                                      if k not in ROW_LEVEL_KEYS}
            r["result"] = res
        if "exception_info" in r:
            r["exception_info"] = _scrub_exception(r["exception_info"], redact)
        results.append(r)
    out["results"] = results
    return out


def _exception_message(info: Any) -> str | None:
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message")) if info.get("raised_exception") else None
    for v in info.values():
        msg = _exception_message(v)
        if msg:
            return msg
    return None


def _short(value: Any) -> bool:
    return len(json.dumps(value, default=str)) <= 200


def _failed_entry(r: Mapping[str, Any], redact: bool) -> dict[str, Any]:
    cfg = r.get("expectation_config") or {}
    kwargs = cfg.get("kwargs") or {}
    entry: dict[str, Any] = {"type": cfg.get("type")}
    if "column" in kwargs:
        entry["column"] = kwargs["column"]
    else:
        cols = [kwargs[k] for k in ("column_A", "column_B") if k in kwargs] or \
            kwargs.get("column_list")
        if cols:
            entry["columns"] = cols
    meta = (cfg.get("meta") or {}).get("aitrace") or {}
    for key in ("detector", "check", "class"):
        if key in meta:
            entry[key] = meta[key]
    res = r.get("result") or {}
    if not redact and "observed_value" in res and _short(res["observed_value"]):
        entry["observed_value"] = res["observed_value"]
    for key in ("unexpected_count", "unexpected_percent"):
        if key in res:
            entry[key] = res[key]
    msg = _exception_message(r.get("exception_info"))
    if msg:
        entry["exception"] = True if redact else msg[:300]
    return entry


def summarize(doc: Mapping[str, Any], suite: Suite, data: Dataset) -> dict[str, Any]:
    """The step-level summary of a (scrubbed) GX result."""
    from aitrace.evidence.gx import _context as _gx

    stats = doc.get("statistics") or {}
    results = doc.get("results") or []
    failed = [r for r in results if not r.get("success")]
    rows = data.rows
    if rows is None:  # Spark: GX counted while validating
        rows = next((r["result"]["element_count"] for r in results
                     if isinstance((r.get("result") or {}).get("element_count"), int)), None)
    summary: dict[str, Any] = {
        "success": bool(doc.get("success")),
        "evaluated": int(stats.get("evaluated_expectations", len(results))),
        "successful": int(stats.get("successful_expectations", len(results) - len(failed))),
        "failed": int(stats.get("unsuccessful_expectations", len(failed))),
        "failed_expectations": [_failed_entry(r, suite.redact)
                                for r in failed[:MAX_FAILED_LISTED]],
        "gx_version": _gx.GX_VERSION,
        "suite_name": suite.name,
        "suite_sha256": suite.sha256,
        "data_sha256": data.sha256 or None,
        "engine": data.engine,
        "result_format": "BASIC",
        "redacted": suite.redact,
    }
    if rows is not None:
        summary["rows"] = rows
    if data.columns:
        summary["columns"] = len(data.columns)
    if len(failed) > MAX_FAILED_LISTED:
        summary["failed_expectations_truncated"] = len(failed) - MAX_FAILED_LISTED
    if suite.pack:
        summary["pack"] = suite.pack
        pack_meta = ((suite.doc.get("meta") or {}).get("aitrace") or {})
    if suite.pack == "privacy":
        summary["findings"] = packs_mod.privacy_findings(results)
        summary["columns_scanned"] = list(pack_meta.get("columns", []))
        summary["detectors"] = list(pack_meta.get("detectors", []))
    elif suite.pack == "labels" and pack_meta.get("task") == "regression":
        summary["task"] = "regression"
        summary["label_column"] = pack_meta.get("label_column")
        summary["range"] = pack_meta.get("range")
        summary["max_outlier_share"] = pack_meta.get("max_outlier_share")
    elif suite.pack == "labels":
        summary["label_column"] = pack_meta.get("label_column")
        summary["min_class_share"] = pack_meta.get("min_class_share")
        summary["classes"] = packs_mod.class_shares(results)
    return _json_safe(summary)  # type: ignore[no-any-return]


def run_check(data: Dataset, suite: Suite) -> CheckResult:
    """Validate ``data`` with ``suite`` through GX; scrub and summarise the result."""
    from aitrace.evidence.gx import _context as _gx

    try:
        if data.engine == "spark":
            raw = _gx.validate_spark(suite.gx_suite, data.frame)
        else:
            raw = _gx.validate_pandas(suite.gx_suite, data.frame)
    except AitraceError:
        raise
    except Exception as e:  # noqa: BLE001 - GX failing as a whole is a bad input
        raise InputError(f"{data.source}: Great Expectations could not validate it with "
                         f"{suite.source} ({type(e).__name__}: {_first_line(e)})") from None
    doc = scrub_result(raw, redact=suite.redact)
    summary = summarize(doc, suite, data)
    return CheckResult(success=bool(summary["success"]), summary=summary, result=doc)


# ---------------------------------------------------------------------------- steps


def _metric_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)


def attach_check(rec: StepHandle, data: Dataset, check: CheckResult) -> CheckResult:
    """Store a check's result as evidence of the step and log its metrics."""
    from aitrace.evidence.gx import _context as _gx

    subject = (data.path if data.path is not None else MEMORY_SUBJECT) if data.sha256 else None
    name = str(check.summary["suite_name"])
    ref = rec.attach(EVIDENCE_GX, dict(check.result), media_type=MEDIA_TYPE,
                     summary=check.summary, name=f"gx:{name}", subject=subject,
                     subject_sha256=data.sha256 or None)
    key = f"gx.{_metric_name(name)}"
    failed = int(check.summary["failed"])
    # The step-wide gx.checks / gx.success / gx.failed_expectations are added by GxSource when
    # the step ends, over every GX result it holds (whichever process attached them).
    rec.log_metrics({
        # 0 expectations evaluated is "nothing checked", not a pass
        f"{key}.success": 1.0 if check.success and check.summary["evaluated"] else 0.0,
        f"{key}.evaluated": float(check.summary["evaluated"]),
        f"{key}.failed_expectations": float(failed),
    })
    params = {"gx.version": _gx.GX_VERSION,
              f"{key}.suite_sha256": check.summary["suite_sha256"]}
    if data.sha256:
        params[f"{key}.data_sha256"] = data.sha256
    rec.log_params(params)
    return replace(check, evidence=ref)


def _dataset(data: Any, path: str | os.PathLike[str] | None, engine: Engine,
             cache: DigestCache | None = None) -> Dataset:
    if engine not in ENGINES:
        raise InputError(f"unknown engine '{engine}'", hint="use pandas or spark")
    if isinstance(data, str | os.PathLike):
        if path is not None:
            raise InputError("path= is for DataFrames; the data is already a path")
        return read_data(data, engine=engine, cache=cache)
    return frame_dataset(data, path)


def _split(suite: Any, pack: str | None) -> tuple[list[Any], list[str]]:
    if suite is not None and pack is not None:
        raise InputError("give either a suite or a pack, not both, per check",
                         hint="call check() once for each")
    return ([suite] if suite is not None else []), ([pack] if pack is not None else [])


def check_into_step(rec: StepHandle, data: Any,
                    suite: str | os.PathLike[str] | Mapping[str, Any] | None = None, *,
                    pack: str | None = None, path: str | os.PathLike[str] | None = None,
                    **options: Any) -> CheckResult:
    """Validate data and attach the GX result to the running step (``StepRecorder.check``).

    Everything that can be wrong with the input is found before anything is stored, so a bad
    suite or unreadable file raises :class:`InputError` and leaves no partial evidence. A
    failed validation is not an error: it is recorded (``success: false``) and returned.
    """
    engine: Engine = options.pop("engine", "pandas")
    suites, packs = _split(suite, pack)
    _check_options(options)
    cache = DigestCache(rec.workspace.digest_cache_path)
    dataset = _dataset(data, path, engine, cache)
    (prepared,) = prepare_checks(dataset, suites, packs, **options)
    return attach_check(rec, dataset, run_check(dataset, prepared))


def validate_file(path: str | os.PathLike[str],
                  suite: str | os.PathLike[str] | Mapping[str, Any] | None = None, *,
                  pack: str | None = None, engine: Engine = "pandas",
                  **options: Any) -> CheckResult:
    """Validate a data file without recording a step (same checks, same stored form)."""
    suites, packs = _split(suite, pack)
    _check_options(options)
    dataset = _dataset(path, None, engine)
    (prepared,) = prepare_checks(dataset, suites, packs, **options)
    return run_check(dataset, prepared)


def validate_dataframe(frame: Any,
                       suite: str | os.PathLike[str] | Mapping[str, Any] | None = None, *,
                       pack: str | None = None, path: str | os.PathLike[str] | None = None,
                       **options: Any) -> CheckResult:
    """Validate a DataFrame without recording a step (``path``: the file it was written to)."""
    suites, packs = _split(suite, pack)
    _check_options(options)
    dataset = frame_dataset(frame, path)
    (prepared,) = prepare_checks(dataset, suites, packs, **options)
    return run_check(dataset, prepared)



