"""Read a user's MLflow store without MLflow: never a write, never a schema migration.

The user's runs live in the user's store, written by the user's MLflow — often older than
aitrace's. Opening an MLflow 2.x SQLite store with an MLflow 3 client silently migrates its
schema (and MLflow 2.x then refuses the file), so aitrace reads user stores itself, read-only:

* ``sqlite:///…`` — ``sqlite3`` with ``mode=ro`` on MLflow's tables (``runs``, ``tags``,
  ``params``, ``latest_metrics``), which every MLflow 1.x–3.x schema has;
* a file store (``file:///…/mlruns`` or a plain path; MLflow 2.x's default) — the run folders'
  ``meta.yaml``, ``params/``, ``metrics/`` and ``tags/`` files, parsed as MLflow's file store
  does (the latest metric is the one with the highest ``(step, timestamp, value)``);
* ``http(s)://`` — the tracking server's REST API (``runs/get``, ``runs/search``,
  ``experiments/search``), which only reads; credentials from the URI or MLflow's
  ``MLFLOW_TRACKING_TOKEN`` / ``MLFLOW_TRACKING_USERNAME`` + ``MLFLOW_TRACKING_PASSWORD``.

Other schemes (``databricks``, ``postgresql://``…) are not read (``open_store`` returns ``None``);
the caller says so. Nothing here imports MLflow, so observing a step costs milliseconds.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import sqlite3
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitrace.errors import AitraceError

_STATUS_BY_NUMBER = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_HTTP_SCHEMES = ("http://", "https://")



def sqlite_uri(path: Path) -> str:
    """``sqlite:///<absolute path>``, percent-encoded as MLflow writes it.

    ``urllib.request.pathname2url`` on POSIX, without that module's ~20 ms import on every step.
    """
    return "sqlite:///" + urllib.parse.quote(os.path.abspath(path))

class StoreReadError(AitraceError):
    """A user's MLflow store could not be read (it is never written)."""


@dataclass(frozen=True)
class RunData:
    """One MLflow run as its store holds it: info, params, latest metrics and tags."""

    run_id: str
    experiment_id: str
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str = "active"
    run_name: str | None = None
    artifact_uri: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


class StoreReader(ABC):
    """Read-only access to one MLflow store."""

    uri: str
    """The store as MLflow names it (absolute for local stores)."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether the store is there at all (a default location may never have been used)."""

    @abstractmethod
    def recent(self, since_ms: int) -> list[RunData]:
        """Runs that started or ended at or after ``since_ms`` (Unix milliseconds)."""

    @abstractmethod
    def tagged(self, key: str, value: str) -> list[RunData]:
        """Runs carrying the tag ``key`` = ``value``."""

    @abstractmethod
    def get(self, run_id: str) -> RunData | None:
        """One run, or ``None`` when the store has no such run."""


# ---------------------------------------------------------------------------- URIs


def sqlite_path(uri: str, cwd: Path) -> Path | None:
    """The database file of a ``sqlite:`` URI (relative paths are the process's cwd's)."""
    if not uri.startswith("sqlite:///"):
        return None
    rest = urllib.parse.unquote(uri[len("sqlite:///"):].split("?", 1)[0])
    if not rest or rest == ":memory:":
        return None
    path = Path(rest) if rest.startswith("/") else cwd / rest
    return Path(os.path.normpath(path))


def file_store_path(uri: str, cwd: Path) -> Path | None:
    """The root folder of a file store URI (``file:///…``, ``file:…`` or a plain path)."""
    if uri.startswith("file:"):
        parsed = urllib.parse.urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            return None
        text = urllib.parse.unquote(parsed.path)
    elif "://" in uri or uri.startswith(("databricks", "uc:")):
        return None
    else:
        text = uri
    if not text:
        return None
    path = Path(text) if text.startswith("/") else cwd / text
    return Path(os.path.normpath(path))


def absolute_uri(uri: str, cwd: Path) -> str:
    """``uri`` with a relative local path made absolute against ``cwd`` (MLflow's reading)."""
    db = sqlite_path(uri, cwd)
    if db is not None:
        return sqlite_uri(db)
    root = file_store_path(uri, cwd)
    if root is not None:
        return root.as_uri()
    return uri


def open_store(uri: str, cwd: Path) -> StoreReader | None:
    """A read-only reader for ``uri`` (relative to ``cwd``), or ``None`` for other schemes."""
    db = sqlite_path(uri, cwd)
    if db is not None:
        return SqliteReader(db)
    if uri.startswith(_HTTP_SCHEMES):
        return RestReader(uri)
    if uri.startswith("sqlite:"):
        return None
    root = file_store_path(uri, cwd)
    return FileStoreReader(root) if root is not None else None


# ---------------------------------------------------------------------------- SQLite


class SqliteReader(StoreReader):
    """An MLflow SQLite store opened with ``mode=ro``: the file's bytes never change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.uri = sqlite_uri(path)

    def exists(self) -> bool:
        return self.path.is_file()

    def _connect(self) -> sqlite3.Connection:
        target = "file:" + urllib.parse.quote(str(self.path)) + "?mode=ro"
        try:
            return sqlite3.connect(target, uri=True, timeout=10)
        except sqlite3.Error as exc:
            raise StoreReadError(f"cannot open MLflow store {self.path} read-only ({exc})",
                                 hint="check that the file exists and is readable") from None

    def _query(self, where: str, args: Iterable[Any]) -> list[RunData]:
        # ``where`` is one of this class's constant clauses; values are bound parameters.
        sql = ("SELECT run_uuid, experiment_id, name, status, start_time, end_time, "  # noqa: S608
               f"lifecycle_stage, artifact_uri FROM runs WHERE {where}")
        con = self._connect()
        try:
            rows = con.execute(sql, tuple(args)).fetchall()
            return [self._run(con, row) for row in rows]
        except sqlite3.Error as exc:
            raise StoreReadError(f"cannot read MLflow store {self.path} ({exc})",
                                 hint="is it an MLflow tracking database?") from None
        finally:
            con.close()

    @staticmethod
    def _run(con: sqlite3.Connection, row: tuple[Any, ...]) -> RunData:
        run_id = str(row[0])
        params = {str(k): str(v) for k, v in
                  con.execute("SELECT key, value FROM params WHERE run_uuid = ?", (run_id,))}
        tags = {str(k): str(v) for k, v in
                con.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (run_id,))}
        metrics = {str(k): (math.nan if nan else float(v)) for k, v, nan in con.execute(
            "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid = ?", (run_id,))}
        return RunData(run_id=run_id, experiment_id=str(row[1]), run_name=row[2] or None,
                       status=str(row[3] or ""), start_time=_int(row[4]), end_time=_int(row[5]),
                       lifecycle_stage=str(row[6] or "active"), artifact_uri=row[7] or None,
                       params=params, metrics=metrics, tags=tags)

    def recent(self, since_ms: int) -> list[RunData]:
        if not self.exists():
            return []
        return self._query("start_time >= ? OR end_time >= ?", (since_ms, since_ms))

    def tagged(self, key: str, value: str) -> list[RunData]:
        if not self.exists():
            return []
        return self._query("run_uuid IN (SELECT run_uuid FROM tags WHERE key = ? AND value = ?)",
                           (key, value))

    def get(self, run_id: str) -> RunData | None:
        if not self.exists():
            return None
        found = self._query("run_uuid = ?", (run_id,))
        return found[0] if found else None

    def schema_revision(self) -> str | None:
        """The store's alembic revision (which MLflow schema wrote it), or ``None``."""
        if not self.exists():
            return None
        con = self._connect()
        try:
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            return None
        finally:
            con.close()
        return str(row[0]) if row else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------- file store


def _yaml(path: Path) -> Mapping[str, Any] | None:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - safe
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return doc if isinstance(doc, Mapping) else None


def _files(folder: Path) -> Iterator[tuple[str, Path]]:
    """``(key, file)`` under ``folder``; keys with ``/`` are nested folders, as MLflow writes."""
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(dirpath) / name
            yield path.relative_to(folder).as_posix(), path


def _latest_metric(path: Path) -> float | None:
    """The latest value of a file-store metric: MLflow's ``max((step, timestamp, value))``."""
    best: tuple[int, int, float] | None = None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        parts = line.strip().split(" ")
        if len(parts) not in (2, 3, 5):
            continue
        try:
            # MLflow reads the step only from three-field lines (five fields carry a dataset).
            entry = (int(parts[2]) if len(parts) == 3 else 0, int(parts[0]), float(parts[1]))
        except ValueError:
            continue
        if best is None or entry > best:
            best = entry
    return best[2] if best is not None else None


class FileStoreReader(StoreReader):
    """An MLflow file store (``mlruns/``): experiments, then run folders with ``meta.yaml``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.uri = root.as_uri()

    def exists(self) -> bool:
        return self.root.is_dir() and any(self._experiments())

    def _experiments(self) -> Iterator[tuple[Path, bool]]:
        """Experiment folders, and whether each is deleted (moved to ``.trash``)."""
        for base, deleted in ((self.root, False), (self.root / ".trash", True)):
            try:
                entries = list(os.scandir(base))
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir() and not entry.name.startswith(".") and entry.name != "models" \
                        and os.path.isfile(os.path.join(entry.path, "meta.yaml")):
                    yield Path(entry.path), deleted

    def _run_dirs(self) -> Iterator[tuple[Path, bool]]:
        for exp, deleted in self._experiments():
            try:
                entries = list(os.scandir(exp))
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir() and os.path.isfile(os.path.join(entry.path, "meta.yaml")):
                    yield Path(entry.path), deleted

    def _read(self, folder: Path, deleted_experiment: bool) -> RunData | None:
        meta = _yaml(folder / "meta.yaml")
        if meta is None:
            return None
        status = meta.get("status")
        status_text = _STATUS_BY_NUMBER.get(status, str(status)) if isinstance(status, int) \
            else str(status or "")
        params = {k: _text(p) for k, p in _files(folder / "params")}
        tags = {k: _text(p) for k, p in _files(folder / "tags")}
        metrics: dict[str, float] = {}
        for k, p in _files(folder / "metrics"):
            value = _latest_metric(p)
            if value is not None:
                metrics[k] = value
        lifecycle = "deleted" if deleted_experiment else str(meta.get("lifecycle_stage")
                                                             or "active")
        return RunData(
            run_id=str(meta.get("run_id") or meta.get("run_uuid") or folder.name),
            experiment_id=str(meta.get("experiment_id") or folder.parent.name),
            run_name=str(meta["run_name"]) if meta.get("run_name") else tags.get("mlflow.runName"),
            status=status_text, start_time=_int(meta.get("start_time")),
            end_time=_int(meta.get("end_time")), lifecycle_stage=lifecycle,
            artifact_uri=str(meta["artifact_uri"]) if meta.get("artifact_uri") else None,
            params=params, metrics=metrics, tags=tags)

    def recent(self, since_ms: int) -> list[RunData]:
        out = []
        # A run's meta.yaml is rewritten when it starts, resumes and ends: older files are
        # skipped by their mtime (with a margin for coarse file-system clocks) without parsing.
        floor_ns = (since_ms - 2000) * 1_000_000
        for folder, deleted in self._run_dirs():
            try:
                if (folder / "meta.yaml").stat().st_mtime_ns < floor_ns:
                    continue
            except OSError:
                continue
            run = self._read(folder, deleted)
            if run is not None and ((run.start_time or 0) >= since_ms
                                    or (run.end_time or 0) >= since_ms):
                out.append(run)
        return out

    def tagged(self, key: str, value: str) -> list[RunData]:
        out = []
        for folder, deleted in self._run_dirs():
            tag = folder / "tags" / key
            if tag.is_file() and _text(tag) == value:
                run = self._read(folder, deleted)
                if run is not None:
                    out.append(run)
        return out

    def get(self, run_id: str) -> RunData | None:
        if not run_id or "/" in run_id or run_id.startswith("."):
            return None
        for exp, deleted in self._experiments():
            folder = exp / run_id
            if (folder / "meta.yaml").is_file():
                return self._read(folder, deleted)
        return None


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


# ---------------------------------------------------------------------------- REST


class RestReader(StoreReader):
    """A tracking server read through its REST API (GET, and POST for the search endpoints)."""

    def __init__(self, uri: str) -> None:
        parsed = urllib.parse.urlsplit(uri)
        self._auth: str | None = None
        if parsed.username is not None:
            pair = f"{urllib.parse.unquote(parsed.username)}:" \
                   f"{urllib.parse.unquote(parsed.password or '')}"
            self._auth = "Basic " + base64.b64encode(pair.encode()).decode()
            netloc = parsed.hostname or ""
            if parsed.port:
                netloc += f":{parsed.port}"
            parsed = parsed._replace(netloc=netloc)
        self.uri = urllib.parse.urlunsplit(parsed).rstrip("/")
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        user = os.environ.get("MLFLOW_TRACKING_USERNAME")
        if self._auth is None and token:
            self._auth = f"Bearer {token}"
        elif self._auth is None and user:
            pair = f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}"
            self._auth = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            self._timeout = float(os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT", "10"))
        except ValueError:
            self._timeout = 10.0

    def _call(self, endpoint: str, body: Mapping[str, Any] | None = None,
              query: Mapping[str, str] | None = None) -> Any:
        import urllib.error  # urllib.request costs ~20 ms at import: only for a server
        import urllib.request

        url = f"{self.uri}/api/2.0/mlflow/{endpoint}"
        if query:
            url += "?" + urllib.parse.urlencode(query)

        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method="POST" if data else "GET")  # noqa: S310
        req.add_header("Content-Type", "application/json")
        if self._auth:
            req.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:  # noqa: S310
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise StoreReadError(f"MLflow server {self.uri} answered {exc.code} on {endpoint}",
                                 hint="check the tracking URI and its credentials") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise StoreReadError(f"cannot reach MLflow server {self.uri} ({exc})",
                                 hint="is the server running?") from None

    def exists(self) -> bool:
        return True

    def _experiment_ids(self) -> list[str]:
        ids: list[str] = []
        token: str | None = None
        while True:
            body: dict[str, Any] = {"max_results": 1000, "view_type": "ALL"}
            if token:
                body["page_token"] = token
            page = self._call("experiments/search", body) or {}
            ids.extend(str(e["experiment_id"]) for e in page.get("experiments", []))
            token = page.get("next_page_token")
            if not token:
                return ids

    def _search(self, flt: str) -> list[RunData]:
        ids = self._experiment_ids()
        out: list[RunData] = []
        for i in range(0, len(ids), 100):
            token: str | None = None
            while True:
                body: dict[str, Any] = {"experiment_ids": ids[i:i + 100], "filter": flt,
                                        "run_view_type": "ALL", "max_results": 1000}
                if token:
                    body["page_token"] = token
                page = self._call("runs/search", body) or {}
                out.extend(_rest_run(r) for r in page.get("runs", []))
                token = page.get("next_page_token")
                if not token:
                    break
        return out

    def recent(self, since_ms: int) -> list[RunData]:
        found = {r.run_id: r for r in self._search(f"attributes.start_time >= {since_ms}")}
        # end_time is searchable on recent servers only; older ones answer 400.
        with contextlib.suppress(StoreReadError):
            found.update({r.run_id: r for r in
                          self._search(f"attributes.end_time >= {since_ms}")})
        return list(found.values())

    def tagged(self, key: str, value: str) -> list[RunData]:
        quoted = value.replace("'", "\\'")
        return self._search(f"tags.`{key}` = '{quoted}'")

    def get(self, run_id: str) -> RunData | None:
        doc = self._call("runs/get", query={"run_id": run_id})
        return _rest_run(doc["run"]) if isinstance(doc, Mapping) and "run" in doc else None


def _number(value: Any) -> float:
    if isinstance(value, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(
            value, float(value))
    return float(value)


def _rest_run(doc: Mapping[str, Any]) -> RunData:
    info = doc.get("info", {})
    data = doc.get("data", {})
    tags = {str(t["key"]): str(t.get("value", "")) for t in data.get("tags", [])}
    return RunData(
        run_id=str(info.get("run_id") or info.get("run_uuid")),
        experiment_id=str(info.get("experiment_id")),
        run_name=info.get("run_name") or tags.get("mlflow.runName"),
        status=str(info.get("status", "")), start_time=_int(info.get("start_time")),
        end_time=_int(info.get("end_time")),
        lifecycle_stage=str(info.get("lifecycle_stage") or "active"),
        artifact_uri=info.get("artifact_uri"),
        params={str(p["key"]): str(p.get("value", "")) for p in data.get("params", [])},
        metrics={str(m["key"]): _number(m.get("value", "NaN")) for m in data.get("metrics", [])},
        tags=tags)
