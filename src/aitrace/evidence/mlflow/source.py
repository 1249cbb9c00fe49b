"""``mlflow-run`` evidence: the user's own runs of a step, and aitrace's run for each step.

Two contributors share the kind:

* ``UserRunsSource`` comes early (right after the environment): it finds the runs the step's
  code created or resumed, read-only and without importing MLflow
  (``aitrace.evidence.mlflow.observe``), and adds their links, their params and metrics
  (namespaced ``mlflow.``) and their artifact folders as products — before the ML-BOM, which
  describes those model folders, and before the step run, which records the final values;
* ``MlflowSource`` comes last: it writes the step run in aitrace's store. For ``aitrace run``
  it opens that store on a thread from the moment the step starts, so MLflow's import overlaps
  the user's command — unless the run can be written into the embedded store without MLflow
  (``aitrace.evidence.mlflow.sqlwrite``: an existing store at a known schema), which takes
  milliseconds. Neither sets anything in the user's environment.

MLflow trouble is a warning, never a lost step. Links live in the step's ``mlflow`` field, each
with a digest of the run's params, metrics and tags, so a later edit of the run is detected
(``aitrace.evidence.mlflow.link.check_links``).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aitrace.evidence.interface import EvidenceSource
from aitrace.hooks.handle import Contribution, FinishingStep
from aitrace.record.stages import EVIDENCE_MLFLOW

if TYPE_CHECKING:
    from aitrace.evidence.mlflow.link import PreparedStore


class _Prepare:
    """``prepare_store`` on a daemon thread; ``result()`` joins it and re-raises its error."""

    def __init__(self, step: FinishingStep) -> None:
        self._step = step
        self._value: PreparedStore | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="aitrace-mlflow", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from aitrace.evidence.mlflow.link import prepare_store

        try:
            self._value = prepare_store(self._step.workspace)
        except BaseException as exc:  # noqa: BLE001 - re-raised by result()
            self._error = exc

    def result(self) -> PreparedStore:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None  # noqa: S101 - set whenever no error is
        return self._value


class MlflowSource(EvidenceSource):
    """MLflow runs linked to steps (tracking URI, experiment, run id, data digest)."""

    kind = EVIDENCE_MLFLOW
    media_type = "application/vnd.aitrace.mlflow-run-data+json"
    title = "MLflow run"

    def __init__(self) -> None:
        self._prepared: _Prepare | None = None

    def begin(self, step: FinishingStep) -> Mapping[str, str]:
        """Start opening aitrace's store when the user's code runs in another process."""
        # In-process, the user's code may import MLflow on the main thread at the same time;
        # the store is opened at the end there instead.
        if self.applies(step) and step.launch is not None:
            from aitrace.evidence.mlflow.link import direct_store

            if direct_store(step.workspace) is None:  # else MLflow is not needed at all
                self._prepared = _Prepare(step)
        return {}

    def applies(self, step: FinishingStep) -> bool:
        """MLflow on, and aitrace's own step runs not switched off (``mlflow.step_runs``).

        ``mlflow: {step_runs: false}`` in ``aitrace.yaml`` keeps linking the user's own runs
        (which never imports MLflow) but writes no step run, which is what costs a step the
        import of MLflow and the opening of aitrace's store.
        """
        return step.options.mlflow and \
            bool(step.workspace.config.section("mlflow").get("step_runs", True))

    def contribute(self, step: FinishingStep) -> Contribution:
        from aitrace.evidence.mlflow.link import log_step_run, log_step_run_direct, prepare_store

        if self._prepared is None:
            link = log_step_run_direct(step.step, step.workspace)
            if link is not None:
                return Contribution(mlflow=(link,))
        prepared = self._prepared.result() if self._prepared is not None else \
            prepare_store(step.workspace)
        return Contribution(mlflow=(log_step_run(prepared, step.step, step.workspace),))

    def warning(self, stage: str, error: str) -> str:
        return f"MLflow run not linked ({error})"


class UserRunsSource(EvidenceSource):
    """The user's own MLflow runs of a step, found read-only in the user's store."""

    kind = EVIDENCE_MLFLOW
    media_type = MlflowSource.media_type
    title = "MLflow runs of the step's code"

    def applies(self, step: FinishingStep) -> bool:
        return step.options.mlflow

    def contribute(self, step: FinishingStep) -> Contribution:
        from aitrace.evidence.mlflow.observe import observe_user_runs

        obs = observe_user_runs(step)
        for problem in obs.problems:
            print(f"aitrace: warning: MLflow runs not observed: {problem}", file=sys.stderr)
        return Contribution(mlflow=tuple(obs.links), params=obs.params, metrics=obs.metrics,
                            outputs=tuple(obs.outputs))

    def warning(self, stage: str, error: str) -> str:
        return f"the {stage} step's own MLflow runs not linked ({error})"
