"""Environment evidence: the interpreter that ran the step's code, its packages, the machine.

In-process (``aitrace.stage()``) the code runs in aitrace's own interpreter. Under ``aitrace
run`` it does not: the command's interpreter is found from its command line
(``aitrace.evidence.interpreter``) and asked, with a stdlib-only probe, for its Python version
and installed distributions — a project's venv with an older MLflow is recorded as such, never
aitrace's own. A command that is not a Python program records its program (path and digest)
and says so.

The package list is large and shared by many steps, so it is one content-addressed evidence
object (``aitrace.environment/v1``) that steps reference by digest from their ``environment``
summary. Its fields: ``python``/``implementation`` (absent for a non-Python command),
``executable`` (workspace-relative path or ``file:`` URI), ``detected_by``, ``interpreter``
(``prefix``, ``base_prefix``, ``virtualenv``), ``command`` (``program``, its ``sha256``),
``launcher`` (``mlflow run``'s own Python), ``note``, the machine (``platform``, ``machine``,
``cpu_count``, ``memory_bytes``) and ``distributions`` (``name``, ``version``, ``license``,
``summary``, ``homepage``). The scan starts on a thread when the step begins and overlaps the
user's work; it is cached per interpreter while no import folder changes. Variables come from an
allow-list and pass ``aitrace.hooks.redact``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from aitrace.errors import WorkspaceError
from aitrace.evidence import _probe
from aitrace.evidence.interface import EvidenceSource
from aitrace.evidence.interpreter import Found, ProbeError, find_interpreter, probe
from aitrace.evidence.licenses import distribution_license
from aitrace.hooks.handle import Attachment, Contribution, FinishingStep, Launch
from aitrace.hooks.redact import redact_env, strip_url_credentials
from aitrace.record.jsonio import document_bytes, read_json_file
from aitrace.record.models import Environment
from aitrace.record.stages import EVIDENCE_ENVIRONMENT

R = TypeVar("R")

ENVIRONMENT_FORMAT = "aitrace.environment/v1"
ENVIRONMENT_MEDIA_TYPE = "application/vnd.aitrace.environment+json"

# Variables that shape a run's numerics or placement and hold no secrets.
DEFAULT_ENV_ALLOW: tuple[str, ...] = (
    "CUDA_VISIBLE_DEVICES", "CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED", "OMP_NUM_THREADS",
    "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "TF_DETERMINISTIC_OPS",
    "LANG", "LC_ALL", "TZ", "CONDA_DEFAULT_ENV", "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID", "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE", "CI",
)


def _memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


class _Meta:
    """Raw probe fields read like package metadata (``get`` / ``get_all``) for the licence."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw

    def get(self, key: str) -> Any:
        value = self._raw.get(key)
        return value if isinstance(value, str) else None

    def get_all(self, key: str) -> list[str] | None:
        value = self._raw.get(key)
        return [str(v) for v in value] if isinstance(value, list) else None


def normalise(raw: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Probe entries as the evidence keeps them: name, version, licence, summary, homepage."""
    out: list[dict[str, Any]] = []
    for r in raw:
        name = r.get("Name")
        if not isinstance(name, str) or not name:
            continue
        meta = _Meta(r)
        entry: dict[str, Any] = {"name": name, "version": str(r.get("Version", ""))}
        lic = distribution_license(meta)
        if lic:
            entry["license"] = lic
        if meta.get("Summary"):
            entry["summary"] = str(meta.get("Summary"))[:300]
        home = meta.get("Home-page")
        if not home:
            for url in meta.get_all("Project-URL") or []:
                label, _, link = url.partition(",")
                if label.strip().lower() in ("homepage", "home", "source", "repository"):
                    home = link.strip()
                    break
        if home:
            entry["homepage"] = strip_url_credentials(home)
        out.append(entry)
    return sorted(out, key=lambda d: d["name"].lower())


def _cached_scan(cache: Path | None, run: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """A probe answer with ``distributions`` normalised, reusing ``cache`` while it matches."""
    cached: Mapping[str, Any] | None = None
    if cache is not None:
        try:
            doc = read_json_file(cache, error=WorkspaceError, hint="")
            cached = doc if isinstance(doc, dict) and "key" in doc else None
        except WorkspaceError:
            cached = None  # no cache, or a damaged one: scan again
    answer = run(cached["key"] if cached else None)
    if answer.get("distributions") is None and cached is not None:
        return {**answer, "distributions": list(cached.get("distributions") or [])}
    answer = {**answer, "distributions": normalise(answer.get("distributions") or [])}
    if cache is not None:
        from aitrace.store.files import atomic_write

        # A cache we cannot write is only a lost speed-up.
        with contextlib.suppress(OSError):
            cache.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(cache, json.dumps({"key": answer["key"],
                                            "distributions": answer["distributions"]}).encode())
    return answer


def current_interpreter(cache_dir: Path | None = None) -> dict[str, Any]:
    """Aitrace's own interpreter (the step's code runs in this process)."""
    cache = cache_dir / "distributions.json" if cache_dir is not None else None
    return _cached_scan(cache, _probe.scan)


def installed_distributions(cache_dir: Path | None = None) -> list[dict[str, Any]]:
    """This process's installed distributions: name, version, licence, summary, homepage."""
    return list(current_interpreter(cache_dir)["distributions"])


def command_interpreter(interpreter: Path, launch: Launch,
                        cache_dir: Path | None) -> dict[str, Any]:
    """Another interpreter's answer (the command's), from its probe or the cache."""
    if Path(os.path.abspath(sys.executable)) == interpreter:
        return current_interpreter(cache_dir)
    name = hashlib.sha256(str(interpreter).encode()).hexdigest()[:32]
    cache = cache_dir / "interpreters" / f"{name}.json" if cache_dir is not None else None
    return _cached_scan(cache, lambda key: probe(interpreter, launch.env, Path(launch.cwd),
                                                 known_key=key))


def _machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count() or 1, "memory_bytes": _memory_bytes()}


def capture_environment(
        env_allow: Iterable[str] = (),
        distributions: list[dict[str, Any]] | None = None) -> tuple[Environment, dict[str, Any]]:
    """Aitrace's own process as an environment: the summary and the evidence document.

    ``distributions`` may be passed in when the (slow) package scan already ran elsewhere.
    """
    answer = current_interpreter() if distributions is None else \
        {**_probe.scan(), "distributions": distributions}
    return _environment(env_allow, answer, detected_by="process", found=None,
                        rel=lambda p: Path(p).as_uri())


def _environment(env_allow: Iterable[str], answer: Mapping[str, Any] | None, *,
                 detected_by: str | None, found: Found | None,
                 rel: Callable[[str], str]) -> tuple[Environment, dict[str, Any]]:
    names = sorted(set(DEFAULT_ENV_ALLOW) | set(env_allow))
    variables = redact_env(names)
    doc: dict[str, Any] = {"format": ENVIRONMENT_FORMAT}
    if answer is not None:
        prefix, base = str(answer.get("prefix", "")), str(answer.get("base_prefix", ""))
        doc.update({
            "python": answer.get("python"), "implementation": answer.get("implementation"),
            "executable": rel(str(found.interpreter)) if found and found.interpreter
            else rel(str(answer.get("executable"))),
            "detected_by": detected_by,
            "interpreter": {"prefix": rel(prefix), "base_prefix": rel(base),
                            "virtualenv": prefix != base},
        })
    if found is not None:
        if found.program is not None:
            doc["command"] = {"program": rel(str(found.program)),
                              "sha256": _file_sha256(found.program)}
            if answer is None:
                doc["executable"] = doc["command"]["program"]
        if found.launcher is not None and found.launcher != found.interpreter:
            doc["launcher"] = rel(str(found.launcher))
        if found.note:
            doc["note"] = found.note
    doc.update(_machine())
    doc["distributions"] = list(answer["distributions"]) if answer is not None else []
    env = Environment(
        python=doc.get("python"), implementation=doc.get("implementation"),
        executable=doc.get("executable"), detected_by=doc.get("detected_by"),
        platform=doc["platform"], machine=doc["machine"], cpu_count=doc["cpu_count"],
        memory_bytes=doc["memory_bytes"], variables=variables)
    return env, doc


def _file_sha256(path: Path) -> str | None:
    from aitrace.store.digest import hash_file

    try:
        return hash_file(path)[0]
    except OSError:
        return None


class _Background(Generic[R]):
    """A function run on a daemon thread; ``result()`` joins it (or runs it inline on error)."""

    def __init__(self, fn: Callable[[], R]) -> None:
        self._fn = fn
        self._value: R | None = None
        self._done = False
        self._thread = threading.Thread(target=self._run, name="aitrace-env-scan", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
            self._done = True
        except Exception:  # noqa: BLE001, S110 - result() retries inline and reports it
            pass

    def result(self) -> R:
        self._thread.join()
        if not self._done:
            return self._fn()
        return self._value  # type: ignore[return-value]


class EnvironmentSource(EvidenceSource):
    """Every step's environment: the summary in the step, the package list as evidence."""

    kind = EVIDENCE_ENVIRONMENT
    media_type = ENVIRONMENT_MEDIA_TYPE
    title = "Environment (interpreter, machine, installed distributions)"

    def __init__(self) -> None:
        self._scan: _Background[dict[str, Any] | None] | None = None
        self._found: Found | None = None

    def begin(self, step: FinishingStep) -> Mapping[str, str]:
        cache = step.workspace.dir / "cache"
        launch = step.launch
        if launch is None:
            self._scan = _Background(lambda: current_interpreter(cache))
            return {}
        found = find_interpreter(launch.argv, launch.env, Path(launch.cwd))
        self._found = found
        interpreter = found.interpreter
        # The scan (~0.1–0.3 s: an interpreter start and a few hundred METADATA files)
        # overlaps the user's command.
        self._scan = _Background(lambda: self._ask(interpreter, launch, cache))
        return {}

    def _ask(self, interpreter: Path | None, launch: Launch,
             cache: Path) -> dict[str, Any] | None:
        """The interpreter's answer; one that cannot be asked is said so in the note."""
        if interpreter is None:
            return None
        try:
            return command_interpreter(interpreter, launch, cache)
        except ProbeError as exc:
            if self._found is not None:
                self._found = replace(self._found, note=exc.message)
            return None

    def applies(self, step: FinishingStep) -> bool:
        return True

    def contribute(self, step: FinishingStep) -> Contribution:
        allow = step.workspace.config.section("capture").get("env_allow") or ()
        if self._scan is None:  # begin() was not called: describe this process
            self.begin(step)
        assert self._scan is not None  # noqa: S101 - begin() sets it
        answer = self._scan.result()
        how = "process" if step.launch is None else \
            (self._found.detected_by if self._found else None)
        env, doc = _environment(allow, answer, detected_by=how, found=self._found,
                                rel=step.workspace.relpath)
        data = document_bytes(doc)
        summary: dict[str, Any] = {"python": env.python,
                                   "distributions": len(doc["distributions"])}
        if doc.get("note"):
            summary["note"] = doc["note"]
        return Contribution(
            evidence=(Attachment(kind=self.kind, data=data, media_type=self.media_type,
                                 name="environment", summary=summary),),
            environment=Environment(**{**env.__dict__,
                                       "distributions_sha256": hashlib.sha256(data).hexdigest()}))

    def facts(self, doc: Any) -> Mapping[str, Any] | None:
        """Interpreter, platform and distributions (name, version, licence)."""
        if not isinstance(doc, Mapping):
            return {"error": "not an environment document"}
        dists = doc.get("distributions")
        rows = [{"name": str(d.get("name", "?")), "version": str(d.get("version", "")),
                 "license": str(d["license"]) if isinstance(d.get("license"), str) else None}
                for d in (dists if isinstance(dists, list) else []) if isinstance(d, Mapping)]
        return {k: doc.get(k) for k in ("python", "implementation", "executable", "detected_by",
                                        "note", "platform", "machine", "cpu_count",
                                        "memory_bytes")
                if isinstance(doc.get(k), (str, int))} | {"distributions": rows}

    def badge(self, ref: Any, facts: Mapping[str, Any] | None) -> tuple[str, str] | None:
        return None  # shown as the step's environment, not as a badge

    def validate(self, doc: Any) -> str | None:
        if not isinstance(doc, Mapping) or doc.get("format") != ENVIRONMENT_FORMAT:
            return f"is not an {ENVIRONMENT_FORMAT} document"
        if not isinstance(doc.get("distributions"), list):
            return "has no list of distributions"
        return None

    def warning(self, stage: str, error: str) -> str:
        return f"environment not captured: {error}"
