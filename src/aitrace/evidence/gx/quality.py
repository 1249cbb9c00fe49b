r"""Data-quality evidence: validate data with Great Expectations and attach GX's own result.

The pipeline is *load → prepare → validate → attach*:

1. **Load** the data once (:func:`read_data`): CSV (``.csv``/``.tsv``, optionally ``.gz``),
   Parquet (``.parquet``/``.pq``) or JSON Lines (``.jsonl``/``.ndjson``, optionally ``.gz``).
   pandas parses the file while a second thread hashes it (hashlib releases the GIL, so the
   digest is nearly free); the file's identity (device, inode, size, mtime, ctime) must be the
   same before and after, which shows the bytes hashed are the bytes parsed — otherwise the
   check stops with an error. The digest is also put in the workspace's digest cache, so
   recording the file as a step input does not hash it again. A pandas DataFrame from
   the Python API (:func:`frame_dataset`) is identified by the file it was written to
   (``path=``), or — when there is none — by the SHA-256 of its *canonical CSV serialisation*:
   ``df.to_csv(index=False, lineterminator="\n")`` encoded as UTF-8 (format
   ``aitrace.dataframe-csv/v1``); such evidence has the subject ``memory://dataframe`` and binds
   only if a step input/output has those very bytes (a file written the same way).
2. **Prepare** the suite up front (:func:`prepare_suite`), so bad input fails before anything
   is stored: suite JSON is GX Core 1.x ``ExpectationSuite`` JSON; every expectation type must
   be known to GX (GX itself drops unknown types with a log line — aitrace refuses them), its
   kwargs must build, every column it is about must exist, and the built suite must hold as
   many expectations as the JSON. Packs (:mod:`aitrace.evidence.packs`) build such JSON.
3. **Validate** through GX itself in an ephemeral context, result format ``BASIC`` with no
   sample of unexpected values (``partial_unexpected_count: 0``).
4. **Attach** GX's ``to_json_dict()`` as evidence kind ``gx-validation`` (media type
   :data:`MEDIA_TYPE`), bound to the data's digest, with a summary in the step and metrics for
   MLflow.

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

MLflow (logged to the step's run when the step ends): per check ``gx.<suite>.success`` (1/0),
``gx.<suite>.evaluated``, ``gx.<suite>.failed_expectations``; over all checks of the step
``gx.checks``, ``gx.success`` and ``gx.failed_expectations``; params ``gx.version``,
``gx.<suite>.suite_sha256`` and ``gx.<suite>.data_sha256``.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import math
import os
import stat
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from aitrace.errors import AitraceError, InputError, MissingDependencyError
from aitrace.evidence.gx import packs as packs_mod
from aitrace.evidence.gx.source import MEDIA_TYPE
from aitrace.record.jsonio import canonical_digest, parse_untrusted
from aitrace.record.stages import EVIDENCE_GX
from aitrace.store.digest import DigestCache, default_cache_path, hash_file

if TYPE_CHECKING:
    from aitrace.hooks.handle import StepHandle
    from aitrace.record.models import EvidenceRef

FRAME_FORMAT = "aitrace.dataframe-csv/v1"
MEMORY_SUBJECT = "memory://dataframe"
MAX_FAILED_LISTED = 50
Engine = Literal["pandas", "spark"]
ENGINES: tuple[Engine, ...] = ("pandas", "spark")

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
_COLUMN_KEYS = ("column", "column_A", "column_B", "column_list")

_FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet",
            ".jsonl": "jsonl", ".ndjson": "jsonl"}
_OPTIONS = frozenset({"label_column", "labels", "min_class_share", "detectors", "columns",
                      "redact", "engine"})


# ---------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Dataset:
    """Data loaded for validation, with the digest of the exact bytes it came from."""

    frame: Any = None
    columns: tuple[str, ...] = ()
    sha256: str = ""
    source: str = "<DataFrame>"
    path: str | None = None  # the file that binds the evidence; None: not bound to a file
    rows: int | None = None
    engine: str = "pandas"  # pandas or spark here; a Checkpoint's may be another GX engine
    string_columns: tuple[str, ...] = ()


def data_format(path: str | os.PathLike[str]) -> tuple[str, bool]:
    """The format of a data file by its extension, and whether it is gzip-compressed."""
    name = Path(path).name.lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    fmt = _FORMATS.get(Path(name).suffix)
    if fmt is None or (gz and fmt == "parquet"):
        raise InputError(f"{os.fspath(path)}: unsupported data format",
                         hint="use CSV (.csv, .tsv, .csv.gz), Parquet (.parquet) or "
                              "JSON Lines (.jsonl, .ndjson); from Python, pass a DataFrame")
    return fmt, gz


def _parse(text: str, fmt: str, gz: bool) -> Any:
    import pandas as pd

    compression = "gzip" if gz else None
    if fmt == "parquet":
        return pd.read_parquet(text)
    if fmt == "jsonl":
        return pd.read_json(text, lines=True, compression=compression)
    return pd.read_csv(text, sep="\t" if fmt == "tsv" else ",", compression=compression)


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _parse_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ValueError, EOFError, gzip.BadGzipFile,
                                         UnicodeDecodeError]
    try:
        import pyarrow as pa

        errors.append(pa.ArrowException)
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass
    return tuple(errors)


def read_data(path: str | os.PathLike[str], *, engine: Engine = "pandas",
              cache: DigestCache | None = None) -> Dataset:
    """Load a data file for validation and hash it, reading it once for each (in parallel).

    With ``cache`` (the workspace's digest cache) the digest is remembered, so recording the
    file as a step input or output afterwards does not read it a second time.
    """
    text = os.fspath(path)
    if engine == "spark":
        return _read_spark(text)
    fmt, gz = data_format(text)
    started = time.time_ns()
    hashed: list[tuple[str, int] | BaseException] = []

    def hash_it() -> None:
        try:
            hashed.append(hash_file(Path(text)))
        except BaseException as e:  # noqa: BLE001 - re-raised below
            hashed.append(e)

    try:
        st = os.stat(text)
        if not stat.S_ISREG(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a regular file")
        # Hash on a second thread while pandas parses: hashlib releases the GIL, so the
        # digest costs almost nothing next to the parse. Unchanged file identity before
        # and after (device, inode, size, mtime, ctime) shows both read the same bytes.
        worker = threading.Thread(target=hash_it, name="aitrace-hash-data", daemon=True)
        worker.start()
        try:
            frame = _parse(text, fmt, gz)
        finally:
            worker.join()
        if isinstance(hashed[0], BaseException):
            raise hashed[0]
        sha, _size = hashed[0]
        if _identity(os.stat(text)) != _identity(st):
            raise InputError(f"{text}: the file changed while it was being read",
                             hint="do not write the data while it is checked; run it again")
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        raise InputError(f"{text}: cannot read the data file ({e.strerror})",
                         hint="check the path and its permissions") from None
    except _parse_errors() as e:
        raise InputError(f"{text}: not readable as {fmt.upper()}{' (gzip)' if gz else ''}: "
                         f"{_first_line(e)}",
                         hint="check the file's format matches its extension") from None
    except OSError as e:
        raise InputError(f"{text}: cannot read the data file ({e})") from None
    if cache is not None:
        _remember(cache, text, st, sha, started)
    return _pandas_dataset(frame, sha256=sha, source=text, path=text)


def _remember(cache: DigestCache, text: str, st: os.stat_result, sha: str,
              started: int) -> None:
    """Cache the digest (``DigestCache`` itself refuses a file modified too recently)."""
    cache.put(os.path.realpath(text), st, sha, started)


def _first_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return msg[0] if msg else type(e).__name__


def _pandas_dataset(frame: Any, *, sha256: str, source: str, path: str | None) -> Dataset:
    return Dataset(frame=frame, columns=tuple(str(c) for c in frame.columns), sha256=sha256,
                   source=source, path=path, rows=len(frame), engine="pandas",
                   string_columns=tuple(packs_mod.string_columns(frame)))


class _HashingWriter:
    """A text sink for ``DataFrame.to_csv`` that only hashes what it is given."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()

    def write(self, s: str) -> int:
        self.hash.update(s.encode("utf-8"))
        return len(s)


def frame_digest(frame: Any) -> str:
    r"""SHA-256 of a DataFrame's canonical CSV form (``aitrace.dataframe-csv/v1``).

    The form is ``frame.to_csv(index=False, lineterminator="\n")`` encoded as UTF-8 — the bytes
    ``frame.to_csv(path, index=False)`` writes on POSIX — streamed in chunks, never held whole.
    """
    sink = _HashingWriter()
    frame.to_csv(sink, index=False, lineterminator="\n", chunksize=100_000)
    return sink.hash.hexdigest()


def frame_dataset(frame: Any, path: str | os.PathLike[str] | None = None) -> Dataset:
    """A pandas (or, with ``path``, Spark) DataFrame as data to validate.

    ``path`` names the file the frame was written to: its digest identifies the data and binds
    the evidence. Without it the digest is :func:`frame_digest` and the subject is
    ``memory://dataframe``.
    """
    module = type(frame).__module__
    if module.startswith("pyspark"):
        if path is None:
            raise InputError("a Spark DataFrame needs path= (the data it was read from)",
                             hint="pass path=...; aitrace cannot hash a distributed frame")
        return _spark_dataset(frame, os.fspath(path))
    if not hasattr(frame, "to_csv") or not hasattr(frame, "columns"):
        raise InputError(f"cannot validate a {type(frame).__name__}",
                         hint="pass a CSV/Parquet/JSON Lines path or a pandas DataFrame")
    if path is None:
        return _pandas_dataset(frame, sha256=frame_digest(frame), source="<DataFrame>",
                               path=None)
    text = os.fspath(path)
    try:
        sha, _size = hash_file(Path(text))
    except OSError as e:
        raise InputError(f"{text}: cannot read the file the DataFrame was written to "
                         f"({e.strerror or e})",
                         hint="write the DataFrame first, then check it with path=") from None
    return _pandas_dataset(frame, sha256=sha, source=text, path=text)


# ---------------------------------------------------------------------------- spark


def _spark_session() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise MissingDependencyError(
            "--engine spark needs pyspark, which is not installed",
            hint="pip install 'aitrace[spark]' (and a Java 17+ runtime)") from None
    # Python workers run aitrace's checksum UDFs, so they need this interpreter (and aitrace).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return SparkSession.builder.master("local[*]").appName("aitrace-check").getOrCreate()


def _read_spark(text: str) -> Dataset:
    p = Path(text)
    if not p.exists():
        raise InputError(f"{text}: cannot read the data file (No such file or directory)",
                         hint="check the path")
    fmt = "parquet" if p.is_dir() else data_format(text)[0]
    spark = _spark_session()
    reader = spark.read
    try:
        if fmt == "parquet":
            frame = reader.parquet(text)
        elif fmt == "jsonl":
            frame = reader.json(text)
        else:
            frame = reader.csv(text, header=True, inferSchema=True,
                               sep="\t" if fmt == "tsv" else ",")
    except Exception as e:  # noqa: BLE001 - Spark raises its own analysis errors
        raise InputError(f"{text}: Spark cannot read it as {fmt.upper()}: {_first_line(e)}",
                         hint="check the file's format matches its extension") from None
    return _spark_dataset(frame, text)


def _spark_dataset(frame: Any, text: str) -> Dataset:
    from aitrace.store.digest import Hasher

    try:
        sha = Hasher().digest(Path(text)).sha256
    except OSError as e:
        raise InputError(f"{text}: cannot read ({e})") from None
    strings = tuple(name for name, dtype in frame.dtypes if dtype == "string")
    return Dataset(frame=frame, columns=tuple(frame.columns), sha256=sha, source=text,
                   path=text, rows=None, engine="spark", string_columns=strings)


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
            return doc, canonical_digest(doc), "<suite>"
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
            distinct=lambda col, limit: _distinct(data, col, limit))
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
        out.append(prepare_suite(doc, canonical_digest(doc), f"<pack {p}>", data, pack=p,
                                 redact=redact or p == "privacy"))
    names = [s.name for s in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"two suites are named {dupes[0]!r}",
                         hint="suite names label the evidence and metrics; make them unique")
    return out


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
        f"{key}.success": 1.0 if check.success else 0.0,
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
    cache = DigestCache(default_cache_path(rec.workspace))
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


__all__ = [
    "MEDIA_TYPE", "CheckResult", "Dataset", "Suite", "attach_check", "check_into_step",
    "frame_dataset", "frame_digest", "prepare_checks", "read_data", "run_check",
    "scrub_result", "validate_dataframe", "validate_file",
]
