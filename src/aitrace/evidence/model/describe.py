"""Model descriptions: what plug-ins say about a model object or a model file.

A plug-in (``aitrace.evidence.interface.ModelDescriber``, re-exported by ``aitrace.plugins``)
is published as an entry point in the group ``aitrace.plugins``::

    [project.entry-points."aitrace.plugins"]
    sklearn = "aitrace_sklearn:PLUGIN"

``subject`` is either a live model object handed over by the user's code (the fitted estimator in
the training process) or a ``pathlib.Path`` to a model file when only the file is known (SBOM
generation). Plug-ins must never deserialise untrusted files. A plug-in that fails to load,
raises, or returns something malformed is reported as a ``PluginWarning`` and ignored: a plug-in
never breaks a step. Objects that only have a ``name`` and ``describe_model`` (the 0.1 protocol)
are accepted too.

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

from aitrace.evidence.interface import (
    DescribeContext,
    EvidenceSource,
    ModelDescriber,
    ModelDescriptionSource,
)
from aitrace.evidence.sbom.validate import model_card_error
from aitrace.record.jsonio import plain_json
from aitrace.record.stages import EVIDENCE_MODEL_DESCRIPTION

if TYPE_CHECKING:
    from aitrace.hooks.handle import StepHandle
    from aitrace.record.models import EvidenceRef


@runtime_checkable
class _DuckDescriber(Protocol):
    """The 0.1 plug-in protocol: any object with ``name`` and ``describe_model``."""

    name: str

    def describe_model(self, subject: object,
                       context: DescribeContext) -> Mapping[str, Any] | None: ...


ENTRY_POINT_GROUP = "aitrace.plugins"
MODEL_DESCRIPTION_MEDIA_TYPE = ModelDescriptionSource.media_type
MODEL_DESCRIPTION_FORMAT = "aitrace.model-description/v1"


class PluginWarning(UserWarning):
    """A plug-in could not be loaded or failed; the step goes on without its description."""


Describer = ModelDescriber | _DuckDescriber


@dataclass(frozen=True)
class LoadedPlugin:
    """A discovered plug-in and where it came from."""

    name: str
    version: str
    plugin: Describer | EvidenceSource

    @property
    def describer(self) -> Describer | None:
        """The plug-in as a model describer, when it is one."""
        p = self.plugin
        return p if isinstance(p, (ModelDescriber, _DuckDescriber)) else None


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
    """Load every ``aitrace.plugins`` entry point once; a broken one is warned about, skipped.

    A plug-in is an ``EvidenceSource`` (a ``ModelDescriber`` or a source of its own kind of
    evidence) or, as in aitrace 0.1, any object with ``name`` and ``describe_model``.
    """
    from aitrace.evidence.model._entry_points import group_entry_points

    found: list[LoadedPlugin] = []
    for ep in sorted(group_entry_points(ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
            if isinstance(obj, type):
                obj = obj()
        except Exception as exc:  # noqa: BLE001 - third-party code: any failure is a warning
            _warn(f"aitrace plug-in '{ep.name}' ({ep.value}) failed to load: "
                  f"{type(exc).__name__}: {exc}")
            continue
        if not isinstance(obj, (EvidenceSource, _DuckDescriber)):
            _warn(f"aitrace plug-in '{ep.name}' ({ep.value}) is neither an EvidenceSource nor "
                  "has describe_model(); ignored")
            continue
        version = ep.dist_version or "unknown"
        found.append(LoadedPlugin(name=ep.name, version=version, plugin=obj))
    return tuple(found)


def plugin_sources() -> tuple[EvidenceSource, ...]:
    """Discovered plug-ins that are evidence sources of a kind of their own."""
    return tuple(lp.plugin for lp in discover() if isinstance(lp.plugin, EvidenceSource)
                 and not isinstance(lp.plugin, ModelDescriptionSource))


def _as_loaded(plugins: Iterable[Describer | LoadedPlugin] | None) -> list[LoadedPlugin]:
    if plugins is None:
        return [lp for lp in discover() if lp.describer is not None]
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
                     plugins: Iterable[Describer | LoadedPlugin] | None = None,
                     ) -> Description | None:
    """Ask every plug-in about ``subject``; merge what they say (first plug-in wins a key)."""
    card: dict[str, Any] = {}
    props: dict[str, str] = {}
    names: list[str] = []
    for lp in _as_loaded(plugins):
        try:
            describer = lp.describer
            if describer is None:
                continue
            got = describer.describe_model(subject, context)
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
    try:  # JSON-safe, and detached from the plug-in's objects
        card_json = plain_json(card)
    except ValueError as exc:
        return {}, {}, f"modelCard is not JSON-safe ({exc})"
    return card_json, {k: str(v) for k, v in props.items()}, None


def describe(step: StepHandle, model: object, path: str | os.PathLike[str] | None = None, *,
             plugins: Sequence[Describer | LoadedPlugin] | None = None,
             ) -> EvidenceRef | None:
    """Describe a live model object with the plug-ins and attach it to ``step``.

    ``path`` is the file the model was (or will be) saved to; when it exists now the evidence is
    bound to its bytes, and the step's ML-BOM (and every later BOM of the same bytes) uses it.
    Returns the evidence, or ``None`` when no plug-in knew the object. Never raises for a
    plug-in's fault.
    """
    rel = step.workspace.relpath(path) if path is not None else None
    ctx = DescribeContext(path=rel, stage=step.stage, step_id=step.id)
    desc = describe_subject(model, ctx, plugins=plugins)
    if desc is None:
        return None
    doc = {"format": MODEL_DESCRIPTION_FORMAT, "path": rel, **desc.to_json()}
    exists = path is not None and Path(os.fspath(path)).exists()
    return step.attach(EVIDENCE_MODEL_DESCRIPTION, doc, media_type=MODEL_DESCRIPTION_MEDIA_TYPE,
                       name=f"model-description:{rel}" if rel else "model-description",
                       summary={"path": rel, "plugins": list(desc.plugins)},
                       subject=path if exists else None)


def describe_path(path: Path, context: DescribeContext) -> Description | None:
    """Ask the installed plug-ins about a model file (used while building an ML-BOM)."""
    if not any(lp.describer is not None for lp in discover()):
        return None
    return describe_subject(path, context)


