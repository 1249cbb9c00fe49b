"""MLflow run-context provider: tags runs that user code starts inside an aitrace step.

MLflow loads this class through its own plug-in mechanism (the ``mlflow.run_context_provider``
entry point in ``pyproject.toml``) and asks it, for every ``mlflow.start_run()`` in any process
of this environment, whether it is "in context" and which tags to add. It is in context when

* a step is being recorded in this process (``with aitrace.stage(...)``), or
* the process is the child of ``aitrace run`` (``AITRACE_STEP_ID`` … in the environment).

Runs tagged this way are found and linked to the step when it ends
(``aitrace.evidence.mlflow``), together with the store each run went to (reported to the step:
in-process, or through the child's report file). Outside aitrace the provider does nothing.
MLflow imports this module for every run, so it stays cheap: no aitrace module beyond this one is
imported at import time, the in-process check only looks at ``aitrace.hooks.tracker`` if it is
already loaded, and ``aitrace.hooks.child`` is imported only in a child of ``aitrace run``.
Without aitrace in the child's interpreter its runs are still found (by the step's time window).
"""

from __future__ import annotations

import os
import sys
from typing import Any

# Must equal aitrace.hooks.env.ENV_* (a test checks); duplicated so MLflow's import of this module
# never pulls in the tracker.
ENV_RECORD_ID = "AITRACE_RECORD_ID"
ENV_STEP_ID = "AITRACE_STEP_ID"
ENV_STAGE = "AITRACE_STAGE"
ENV_WORKSPACE = "AITRACE_WORKSPACE"

TAG_RECORD_ID = "aitrace.record_id"
TAG_STEP_ID = "aitrace.step_id"
TAG_STAGE = "aitrace.stage"
TAG_WORKSPACE = "aitrace.workspace"


def _current_recorder() -> Any:
    """The in-process ``StepRecorder``, without importing the tracker when nothing uses it."""
    tracker = sys.modules.get("aitrace.hooks.tracker")
    if tracker is None:
        return None
    return tracker.current_step()


def context_tags() -> dict[str, str]:
    """The aitrace tags for a run started now (empty outside any step)."""
    rec = _current_recorder()
    if rec is not None:
        return {TAG_RECORD_ID: str(rec.record_id), TAG_STEP_ID: str(rec.id),
                TAG_STAGE: str(rec.stage), TAG_WORKSPACE: str(rec.workspace.root)}
    step_id = os.environ.get(ENV_STEP_ID)
    if not step_id:
        return {}
    tags = {TAG_STEP_ID: step_id}
    for env, tag in ((ENV_RECORD_ID, TAG_RECORD_ID), (ENV_STAGE, TAG_STAGE),
                     (ENV_WORKSPACE, TAG_WORKSPACE)):
        value = os.environ.get(env)
        if value:
            tags[tag] = value
    return tags


def _provider_class() -> type:
    """Build the provider class; MLflow's base class is imported only now (see ``__getattr__``)."""
    from mlflow.tracking.context.abstract_context import RunContextProvider

    class AitraceRunContextProvider(RunContextProvider):  # type: ignore[misc]
        """Tags runs started inside a recorded step with the record, step, stage and workspace."""

        def in_context(self) -> bool:
            """Whether a step is being recorded here or in the parent ``aitrace run``."""
            return _current_recorder() is not None or bool(os.environ.get(ENV_STEP_ID))

        def tags(self) -> dict[str, str]:
            """The step's tags; also tells the step which store the run goes to."""
            rec = _current_recorder()
            if rec is None and os.environ.get(ENV_STEP_ID):
                rec = _child_step()
            if rec is not None:
                _note_tracking_uri(rec)
            return context_tags()

    AitraceRunContextProvider.__module__ = __name__
    return AitraceRunContextProvider


def __getattr__(name: str) -> Any:
    """``AitraceRunContextProvider``, created on first access.

    Importing MLflow's base class at module level would be circular whenever this module is
    imported before MLflow: importing ``mlflow`` loads its context-provider registry, which loads
    this entry point while this module is still half-initialised. Deferring the class makes the
    import order irrelevant and keeps this module free of MLflow until MLflow asks for it.
    """
    if name == "AitraceRunContextProvider":
        cls = _provider_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _child_step() -> Any:
    """The parent's step under ``aitrace run`` (imported only then: the run is in a step)."""
    try:
        from aitrace.hooks.child import child_step

        return child_step()
    except Exception:  # noqa: BLE001 - tagging must never break the user's run
        return None


def _note_tracking_uri(rec: Any) -> None:
    """Tell the step which store the user's run goes to (MLflow is loaded: it is calling us).

    A relative store (``sqlite:///mlflow.db``, ``./mlruns``) is the working directory's now,
    so it is made absolute here, where that directory is known.
    """
    try:
        import mlflow

        uri = str(mlflow.get_tracking_uri())
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            uri = "sqlite:///" + os.path.abspath(uri[len("sqlite:///"):])
        elif "://" not in uri and not uri.startswith(("file:", "databricks")):
            uri = "file://" + os.path.abspath(uri)
        rec.note_mlflow_store(uri)
    except Exception:  # noqa: BLE001 - tagging must never break the user's run
        return
