"""aitrace: an AI production record for every model.

The story, in four parts (one package each):

1. **Record** — each of the ten stages (``aitrace.record.stages``) leaves immutable,
   hash-chained steps in a store (``aitrace.store``): inputs and outputs by SHA-256, command,
   code version and actor. Scripts are wrapped with ``aitrace.stage()`` or ``aitrace run -- cmd``
   (``aitrace.hooks``).
2. **Evidence** — real tools' native outputs attached to steps (``aitrace.evidence``): Great
   Expectations validation results, CycloneDX ML-BOMs, MLflow runs, the environment, governance
   documents; every kind implements one ``EvidenceSource`` interface, as plug-ins do
   (``aitrace.plugins``).
3. **Bundle** — a deterministic ZIP with a manifest (``aitrace.bundle``), signed as a DSSE
   envelope over an in-toto Statement (``aitrace.signing``).
4. **Verify** — signatures, digests, hash chain, chain of custody and policy, offline, every
   check reported as data (``aitrace.verify``), with terminal, JSON and HTML views for auditors
   (``aitrace.report``). The command line (``aitrace.cli``) only parses, calls and formats.

Imports flow one way: cli → report → verify → bundle/signing → evidence → hooks → store →
record. The hooks know evidence sources only through ``aitrace.hooks.handle``; this package
root wires the registry's sources in below (the composition root), lazily, so importing
aitrace stays cheap and mlflow or Great Expectations load only when a step needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aitrace._version import __version__
from aitrace.errors import user_facing as _user_facing
from aitrace.hooks import handle as _handle

if TYPE_CHECKING:
    from aitrace.hooks.child import ChildStep
    from aitrace.hooks.handle import StepContributor
    from aitrace.hooks.recorder import StepRecorder
    from aitrace.hooks.tracker import StageContext


def _contributors() -> Sequence[StepContributor]:
    from aitrace.evidence.registry import contributors

    return contributors()


def _check(step: Any, data: Any, suite: Any = None, **options: Any) -> Any:
    from aitrace.evidence.gx.quality import check_into_step

    return check_into_step(step, data, suite, **options)


def _license(text: str) -> tuple[str, str | None]:
    from aitrace.evidence.licenses import read_license

    reading = read_license(text)
    return reading.value, reading.problem


_handle.wire(contributors=_contributors, checker=_check, licenses=_license)


@_user_facing
def stage(stage: str, **kwargs: Any) -> StageContext:
    """Record a stage; see ``aitrace.hooks.tracker.stage``."""
    from aitrace.hooks.tracker import stage as _stage

    return _stage(stage, **kwargs)


@_user_facing
def current_step() -> StepRecorder | ChildStep | None:
    """The step being recorded here, or, under ``aitrace run``, the parent's step; else None."""
    from aitrace.hooks.tracker import current_step as _current

    return _current()


__all__ = ["__version__", "current_step", "stage"]
