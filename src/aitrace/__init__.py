"""aitrace: an AI production record for every model.

The story, in four parts:

1. **Record** — each of the ten stages (``aitrace.stages``) leaves immutable, hash-chained
   steps in a workspace (``aitrace.workspace``): inputs and outputs by SHA-256
   (``aitrace.digest``), command, code version, environment and actor (``aitrace.capture``).
   Scripts are wrapped with ``aitrace.stage()`` or ``aitrace run -- cmd`` (``aitrace.tracker``).
2. **Evidence** — real tools' native outputs attached to steps (``aitrace.evidence``): Great
   Expectations validation results, CycloneDX ML-BOMs, MLflow runs.
3. **Bundle** — a deterministic ZIP with a manifest, signed as a DSSE envelope over an in-toto
   Statement (``aitrace.bundle``, ``aitrace.signing``).
4. **Verify** — signatures, digests, hash chain, chain of custody and policy, offline
   (``aitrace.verify``, ``aitrace.policy``), with terminal and HTML views for auditors.

Only the hooks are imported eagerly; everything else loads on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aitrace._version import __version__

if TYPE_CHECKING:
    from aitrace.hooks.child import ChildStep
    from aitrace.hooks.tracker import StageContext, StepRecorder


def stage(stage: str, **kwargs: Any) -> StageContext:
    """Record a stage; see ``aitrace.tracker.stage``."""
    from aitrace.hooks.tracker import stage as _stage

    return _stage(stage, **kwargs)


def current_step() -> StepRecorder | ChildStep | None:
    """The step being recorded here, or, under ``aitrace run``, the parent's step; else None."""
    from aitrace.hooks.tracker import current_step as _current

    return _current()


__all__ = ["__version__", "current_step", "stage"]
