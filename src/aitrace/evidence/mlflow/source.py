"""``mlflow-run`` evidence: each step's MLflow run, and the user's runs started inside the step.

The link is the step's last contribution (it needs the final status, values and end time);
MLflow is imported only when a step with MLflow enabled ends, and MLflow trouble is a warning,
never a lost step. Links live in the step's ``mlflow`` field, each with a digest of the run's
params, metrics and tags, so a later edit of the run is detected (``aitrace.evidence.mlflow.link``).
"""

from __future__ import annotations

from collections.abc import Mapping

from aitrace.evidence.interface import EvidenceSource
from aitrace.hooks.handle import Contribution, FinishingStep
from aitrace.record.stages import EVIDENCE_MLFLOW


class MlflowSource(EvidenceSource):
    """MLflow runs linked to steps (tracking URI, experiment, run id, data digest)."""

    kind = EVIDENCE_MLFLOW
    media_type = "application/vnd.aitrace.mlflow-run-data+json"
    title = "MLflow run"

    def begin(self, step: FinishingStep) -> Mapping[str, str]:
        """Where the step's own MLflow runs should go, when the user has not said."""
        if not step.options.mlflow:
            return {}
        from aitrace.evidence.mlflow.link import run_env

        return run_env(step.workspace)

    def applies(self, step: FinishingStep) -> bool:
        return step.options.mlflow

    def contribute(self, step: FinishingStep) -> Contribution:
        from aitrace.evidence.mlflow.link import link_step_runs

        return Contribution(mlflow=tuple(link_step_runs(step)))

    def warning(self, stage: str, error: str) -> str:
        return f"MLflow run not linked ({error})"
