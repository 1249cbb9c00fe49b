"""Loading the data a check validates, once, with the digest of the exact bytes parsed.

CSV (``.csv``/``.tsv``, optionally ``.gz``), Parquet (``.parquet``/``.pq``) or JSON Lines
(``.jsonl``/``.ndjson``, optionally ``.gz``). pandas parses the file while a second thread
hashes it (hashlib releases the GIL, so the digest is nearly free); the file's identity (device,
inode, size, mtime, ctime) must be the same before and after, which shows the bytes hashed are
the bytes parsed. A pandas DataFrame from the Python API is identified by the file it was
written to (``path=``), or by the SHA-256 of its canonical CSV serialisation
(``aitrace.dataframe-csv/v1``, subject ``memory://dataframe``). ``--engine spark`` reads through
Spark for data too large for pandas.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import stat
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from aitrace.errors import InputError, MissingDependencyError
from aitrace.evidence.gx import packs as packs_mod
from aitrace.store.digest import DigestCache, hash_file

if TYPE_CHECKING:
    pass


FRAME_FORMAT = "aitrace.dataframe-csv/v1"
MEMORY_SUBJECT = "memory://dataframe"


Engine = Literal["pandas", "spark"]
ENGINES: tuple[Engine, ...] = ("pandas", "spark")


_FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet",
            ".jsonl": "jsonl", ".ndjson": "jsonl"}


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




