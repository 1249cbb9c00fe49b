"""Evidence sources: Great Expectations (quality), CycloneDX (sbom), MLflow (runs), plug-ins.

Each source is its own module and is imported only when used; this package's top level stays
import-free so the tracker can ask cheap questions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aitrace.hooks.tracker import StepRecorder

SBOM_STAGES = ("training", "optimization", "deployment")


def sbom_applies(rec: StepRecorder) -> bool:
    """Whether a step gets an automatic ML-BOM: model stages with outputs, unless turned off."""
    if rec.stage not in SBOM_STAGES or rec.status != "succeeded":
        return False
    if rec.sbom_auto is not None:
        return rec.sbom_auto
    if not rec.products:
        return False
    return bool(rec.workspace.config.section("sbom").get("auto", True))
