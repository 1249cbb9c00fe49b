"""Environment evidence: the interpreter, the machine and the installed Python distributions.

The package list is large and shared by many steps, so it is one content-addressed evidence
object (``aitrace.environment/v1``) that steps reference by digest from their ``environment``
summary. The scan starts on a thread when the step begins (``EnvironmentSource.begin``) so it
overlaps the user's work. Variables come from an allow-list and pass ``aitrace.hooks.redact``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from aitrace.errors import WorkspaceError
from aitrace.evidence.interface import EvidenceSource
from aitrace.evidence.licenses import distribution_license
from aitrace.hooks.handle import Attachment, Contribution, FinishingStep
from aitrace.hooks.redact import redact_env, strip_url_credentials
from aitrace.record.jsonio import pretty_bytes, read_json_file
from aitrace.record.models import Environment
from aitrace.record.stages import EVIDENCE_ENVIRONMENT

R = TypeVar("R")

ENVIRONMENT_FORMAT = "aitrace.environment/v1"
ENVIRONMENT_MEDIA_TYPE = "application/vnd.aitrace.environment+json"

# Variables that shape a run's numerics or placement and hold no secrets.
DEFAULT_ENV_ALLOW: tuple[str, ...] = (
    "CUDA_VISIBLE_DEVICES", "CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED", "OMP_NUM_THREADS",
    "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "TF_DETERMINISTIC_OPS",
    "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV", "CONDA_DEFAULT_ENV", "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "CI",
)




def _memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _sys_path_state() -> list[Any]:
    """What the installed set depends on: the interpreter and each import directory's mtime.

    Installing, upgrading or removing a distribution creates or deletes its ``*.dist-info``
    directory (and editable installs add ``.pth`` files), which changes the mtime of the
    directory that holds it.
    """
    state: list[Any] = [sys.executable, sys.version]
    cwd = os.getcwd()
    for entry in sys.path:
        try:
            st = os.stat(entry or ".")
        except OSError:
            continue
        if os.path.abspath(entry or ".") == cwd and os.path.isdir(cwd):
            # The working directory (on sys.path under ``python -m``) changes whenever a step
            # writes a file there; only the metadata directories in it matter.
            state.append([entry, sorted(n for n in os.listdir(cwd)
                                        if n.endswith((".dist-info", ".egg-info", ".egg")))])
            continue
        state.append([entry, st.st_mtime_ns, st.st_ino])
    return state


def installed_distributions(cache_dir: Path | None = None) -> list[dict[str, Any]]:
    """Installed Python distributions: name, version, licence, summary, homepage (sorted).

    With ``cache_dir``, the list is reused while no import directory changed (reading a few
    hundred METADATA files is the slowest part of recording a step).
    """
    import json

    cache = cache_dir / "distributions.json" if cache_dir is not None else None
    key = _sys_path_state()
    if cache is not None:
        try:
            cached = read_json_file(cache, error=WorkspaceError, hint="")
            if cached.get("key") == key:
                return list(cached["distributions"])
        except (WorkspaceError, KeyError, AttributeError, TypeError):
            pass  # no cache, or a damaged one: scan again
    dists = _scan_distributions()
    if cache is not None:
        from aitrace.store.files import atomic_write

        # A cache we cannot write is only a lost speed-up.
        with contextlib.suppress(OSError):
            atomic_write(cache, json.dumps({"key": key, "distributions": dists}).encode())
    return dists


def _scan_distributions() -> list[dict[str, Any]]:
    from importlib import metadata

    seen: dict[str, dict[str, Any]] = {}
    for dist in metadata.distributions():
        meta: Any = dist.metadata
        name = meta.get("Name")
        if not name:
            continue
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        entry: dict[str, Any] = {"name": name, "version": dist.version}
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
        seen[key] = entry
    return sorted(seen.values(), key=lambda d: d["name"].lower())


def capture_environment(
        env_allow: Iterable[str] = (),
        distributions: list[dict[str, Any]] | None = None) -> tuple[Environment, dict[str, Any]]:
    """The machine summary for the step, and the full environment evidence document.

    ``distributions`` may be passed in when the (slow) package scan already ran elsewhere.
    """
    names = sorted(set(DEFAULT_ENV_ALLOW) | set(env_allow))
    variables = redact_env(names)
    doc: dict[str, Any] = {
        "format": ENVIRONMENT_FORMAT,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count() or 1,
        "memory_bytes": _memory_bytes(),
        "distributions": installed_distributions() if distributions is None else distributions,
    }
    env = Environment(
        python=doc["python"], implementation=doc["implementation"], platform=doc["platform"],
        machine=doc["machine"], cpu_count=doc["cpu_count"], memory_bytes=doc["memory_bytes"],
        variables=variables,
    )
    return env, doc


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
        self._scan: _Background[list[dict[str, Any]]] | None = None

    def begin(self, step: FinishingStep) -> Mapping[str, str]:
        cache = step.workspace.dir / "cache"
        # The package scan (~0.1 s for a few hundred distributions) overlaps the user's work.
        self._scan = _Background(lambda: installed_distributions(cache))
        return {}

    def applies(self, step: FinishingStep) -> bool:
        return True

    def contribute(self, step: FinishingStep) -> Contribution:
        allow = step.workspace.config.section("capture").get("env_allow") or ()
        dists = self._scan.result() if self._scan is not None else None
        env, doc = capture_environment(allow, distributions=dists)
        data = pretty_bytes(doc)
        import hashlib

        summary = {"python": env.python, "distributions": len(doc["distributions"])}
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
        return {k: doc.get(k) for k in ("python", "implementation", "platform", "machine",
                                        "cpu_count", "memory_bytes")
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
