"""Recording a governance document as evidence on a new step of a stage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aitrace.errors import InputError
from aitrace.evidence.governance.models import (
    CHECKLIST_MEDIA_TYPE,
    RISK_MEDIA_TYPE,
    RiskRegister,
    SelfCheck,
    checklist_summary,
    risk_summary,
)
from aitrace.record._model import to_json
from aitrace.record.stages import ALL_STAGE_IDS, EVIDENCE_CHECKLIST, EVIDENCE_RISK, is_stage

if TYPE_CHECKING:
    from aitrace.record.models import EvidenceRef, Step
    from aitrace.store.workspace import Workspace


# --------------------------------------------------------------------------- recording


def record_governance(
    workspace: Workspace,
    stage: str,
    document: RiskRegister | SelfCheck,
    *,
    source_file: Path | None = None,
    description: str | None = None,
) -> tuple[Step, EvidenceRef]:
    """Record ``document`` as evidence on a new step of ``stage``.

    The YAML file it came from (if any) becomes the step's product, and the evidence is bound
    to those exact bytes, so a reader can tell the JSON evidence came from that file.

    Returns:
        The appended step and the evidence reference.

    Raises:
        InputError: an unknown stage.
    """
    from aitrace.hooks.tracker import stage as record_stage

    if not is_stage(stage):
        raise InputError(f"unknown stage '{stage}'", hint="use one of: " + ", ".join(ALL_STAGE_IDS))
    if isinstance(document, RiskRegister):
        kind, media, name, summary = (EVIDENCE_RISK, RISK_MEDIA_TYPE, "risk-register",
                                      risk_summary(document))
        what = "Risk register (7 risk items)"
    else:
        kind, media, name, summary = (EVIDENCE_CHECKLIST, CHECKLIST_MEDIA_TYPE, "self-check",
                                      checklist_summary(document))
        what = "Self-check table (表1)"
    ctx = record_stage(stage, workspace=workspace, mlflow=False, sbom=False,
                       description=description or what)
    with ctx as rec:
        if source_file is not None:
            rec.output(source_file, role="governance")
        ref = rec.attach(kind, to_json(document), media_type=media, name=name, summary=summary,
                         subject=source_file)
    assert ctx.step is not None  # noqa: S101 - set by a successful __exit__
    return ctx.step, ref




