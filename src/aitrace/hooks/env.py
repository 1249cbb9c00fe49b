"""The environment variables that tell a process which step it runs inside.

``aitrace run`` sets them for its child; ``aitrace.current_step()`` in the child and MLflow's
run-context provider (``aitrace.integrations.mlflow_context``, which repeats the names so that
MLflow's import of it stays free of aitrace) read them. Documented in README "Integrations".
"""

from __future__ import annotations

from aitrace.store.workspace import ENV_WORKSPACE  # the store reads it too (Workspace.find)

ENV_RECORD_ID = "AITRACE_RECORD_ID"
ENV_STEP_ID = "AITRACE_STEP_ID"
ENV_STAGE = "AITRACE_STAGE"

__all__ = ["ENV_RECORD_ID", "ENV_STAGE", "ENV_STEP_ID", "ENV_WORKSPACE", "STEP_VARIABLES"]

STEP_VARIABLES = (ENV_RECORD_ID, ENV_STEP_ID, ENV_STAGE, ENV_WORKSPACE)
