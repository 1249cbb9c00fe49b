"""Model-description plug-ins: third-party code that knows a model family better than we do.

A plug-in is any object with a ``name`` and a ``describe_model(subject, context)`` method (the
``ModelDescriber`` protocol), published as an entry point in the group ``aitrace.plugins``::

    [project.entry-points."aitrace.plugins"]
    sklearn = "aitrace_sklearn:PLUGIN"

``subject`` is either a live model object handed over by the user's code (the fitted estimator in
the training process) or a ``pathlib.Path`` to a model file when only the file is known (SBOM
generation). A plug-in returns ``None`` when the subject is not its kind, else a mapping with
optional keys:

* ``"modelCard"``: a fragment of a CycloneDX 1.6 ``modelCard`` (e.g. ``modelParameters`` with
  ``approach``, ``task``, ``architectureFamily``, ``modelArchitecture``, ``inputs``), and
* ``"properties"``: a ``{name: value}`` mapping of extra facts (strings).

Plug-ins must never deserialise untrusted files. A plug-in that fails to load, raises, or returns
something malformed is reported as a ``PluginWarning`` and ignored: a plug-in never breaks a step.

In-process code hands a model object to the current step with ``describe(step, model, path)``;
the description is stored as evidence (kind ``model-description``) bound to the model file, so the
step's ML-BOM — and every later BOM of the same bytes — carries it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from aitrace.hooks.tracker import StepRecorder
    from aitrace.record.models import EvidenceRef

ENTRY_POINT_GROUP = "aitrace.plugins"
EVIDENCE_MODEL_DESCRIPTION = "model-description"
MODEL_DESCRIPTION_MEDIA_TYPE = "application/vnd.aitrace.model-description+json"
MODEL_DESCRIPTION_FORMAT = "aitrace.model-description/v1"


class PluginWarning(UserWarning):
    """A plug-in could not be loaded or failed; the step goes on without its description."""


@dataclass(frozen=True)
class DescribeContext:
    """Where the subject lives: its recorded path and the step asking, when known."""

    path: str | None = None
    stage: str | None = None
    step_id: str | None = None


@runtime_checkable
class ModelDescriber(Protocol):
    """The plug-in interface (see the module docstring for the returned mapping)."""

    name: str

    def describe_model(self, subject: object,
                       context: DescribeContext) -> Mapping[str, Any] | None:
        """Describe ``subject`` (a model object or a ``Path``), or return ``None``."""
        ...


@dataclass(frozen=True)
class LoadedPlugin:
    """A discovered plug-in and where it came from."""

    name: str
    version: str
    plugin: ModelDescriber


@dataclass(frozen=True)
class Description:
    """The merged contribution of every plug-in that described a subject."""

    model_card: Mapping[str, Any]
    properties: Mapping[str, str]
    plugins: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The stored form (inside the ``model-description`` evidence document)."""
        return {"modelCard": dict(self.model_card), "properties": dict(self.properties),
                "plugins": list(self.plugins)}


def _warn(msg: str) -> None:
    warnings.warn(msg, PluginWarning, stacklevel=3)


@cache
def discover() -> tuple[LoadedPlugin, ...]:
    """Load every ``aitrace.plugins`` entry point once; a broken one is warned about, skipped."""
    from importlib.metadata import entry_points

    found: list[LoadedPlugin] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
            if isinstance(obj, type):
                obj = obj()
        except Exception as exc:  # noqa: BLE001 - third-party code: any failure is a warning
            _warn(f"aitrace plug-in '{ep.name}' ({ep.value}) failed to load: "
                  f"{type(exc).__name__}: {exc}")
            continue
        if not isinstance(obj, ModelDescriber):
            _warn(f"aitrace plug-in '{ep.name}' ({ep.value}) has no describe_model(); ignored")
            continue
        version = ep.dist.version if ep.dist is not None else "unknown"
        found.append(LoadedPlugin(name=ep.name, version=version, plugin=obj))
    return tuple(found)


def _as_loaded(plugins: Iterable[ModelDescriber | LoadedPlugin] | None) -> list[LoadedPlugin]:
    if plugins is None:
        return list(discover())
    out = []
    for p in plugins:
        out.append(p if isinstance(p, LoadedPlugin) else
                   LoadedPlugin(name=getattr(p, "name", type(p).__name__),
                                version=str(getattr(p, "version", "")),
                                plugin=p))
    return out


def _merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(v, Mapping) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        elif isinstance(v, Mapping):
            into[k] = {}
            _merge(into[k], v)
        elif k not in into:
            into[k] = v


def describe_subject(subject: object, context: DescribeContext, *,
                     plugins: Iterable[ModelDescriber | LoadedPlugin] | None = None,
                     ) -> Description | None:
    """Ask every plug-in about ``subject``; merge what they say (first plug-in wins a key)."""
    from aitrace.evidence.sbom.build import model_card_error

    card: dict[str, Any] = {}
    props: dict[str, str] = {}
    names: list[str] = []
    for lp in _as_loaded(plugins):
        try:
            got = lp.plugin.describe_model(subject, context)
        except Exception as exc:  # noqa: BLE001 - third-party code: any failure is a warning
            _warn(f"aitrace plug-in '{lp.name}' failed to describe "
                  f"{context.path or type(subject).__name__}: {type(exc).__name__}: {exc}")
            continue
        if got is None:
            continue
        fragment, extra, problem = _check_result(got)
        if problem is None and fragment:
            problem = model_card_error(fragment)
        if problem is not None:
            _warn(f"aitrace plug-in '{lp.name}' returned an invalid description "
                  f"({problem}); ignored")
            continue
        _merge(card, fragment)
        for k, v in extra.items():
            props.setdefault(k, v)
        names.append(f"{lp.name} {lp.version}".strip())
    if not names:
        return None
    return Description(model_card=card, properties=dict(sorted(props.items())),
                       plugins=tuple(names))


def _check_result(got: Any) -> tuple[dict[str, Any], dict[str, str], str | None]:
    if not isinstance(got, Mapping):
        return {}, {}, f"expected a mapping, got {type(got).__name__}"
    unknown = set(got) - {"modelCard", "properties"}
    if unknown:
        return {}, {}, f"unknown key(s) {sorted(unknown)}"
    card = got.get("modelCard") or {}
    props = got.get("properties") or {}
    if not isinstance(card, Mapping):
        return {}, {}, "modelCard must be a mapping"
    if not isinstance(props, Mapping) or not all(isinstance(k, str) for k in props):
        return {}, {}, "properties must map names to values"
    import json

    try:  # JSON-safe, and detached from the plug-in's objects
        card_json = json.loads(json.dumps(card, allow_nan=False))
    except (TypeError, ValueError) as exc:
        return {}, {}, f"modelCard is not JSON-safe ({exc})"
    return card_json, {k: str(v) for k, v in props.items()}, None


def describe(rec: StepRecorder, model: object, path: str | os.PathLike[str] | None = None, *,
             plugins: Sequence[ModelDescriber | LoadedPlugin] | None = None,
             ) -> EvidenceRef | None:
    """Describe a live model object with the plug-ins and attach it to the step ``rec``.

    ``path`` is the file the model was (or will be) saved to; when it exists now the evidence is
    bound to its bytes. The description also goes to ``rec.extra["models"][path]`` so this
    step's ML-BOM uses it. Returns the evidence, or ``None`` when no plug-in knew the object.
    Never raises for a plug-in's fault.
    """
    rel = rec.workspace.relpath(path) if path is not None else None
    ctx = DescribeContext(path=rel, stage=rec.stage, step_id=rec.id)
    desc = describe_subject(model, ctx, plugins=plugins)
    if desc is None:
        return None
    models: dict[str, Any] = rec.extra.setdefault("models", {})
    models[rel or f"object:{type(model).__name__}"] = desc
    doc = {"format": MODEL_DESCRIPTION_FORMAT, "path": rel, **desc.to_json()}
    exists = path is not None and Path(os.fspath(path)).exists()
    return rec.attach(EVIDENCE_MODEL_DESCRIPTION, doc, media_type=MODEL_DESCRIPTION_MEDIA_TYPE,
                      name=f"model-description:{rel}" if rel else "model-description",
                      summary={"path": rel, "plugins": list(desc.plugins)},
                      subject=path if exists else None)


def describe_path(path: Path, context: DescribeContext) -> Description | None:
    """Ask the installed plug-ins about a model file (used while building an ML-BOM)."""
    if not discover():
        return None
    return describe_subject(path, context)


__all__ = [
    "ENTRY_POINT_GROUP", "EVIDENCE_MODEL_DESCRIPTION", "DescribeContext", "Description",
    "LoadedPlugin", "ModelDescriber", "PluginWarning", "describe", "describe_path",
    "describe_subject", "discover",
]
