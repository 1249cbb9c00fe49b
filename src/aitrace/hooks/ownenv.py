"""Variables aitrace sets in its own process, which the user's command must not inherit.

aitrace switches MLflow's telemetry off for itself (``MLFLOW_DISABLE_TELEMETRY``,
``DO_NOT_TRACK``) by setting them in ``os.environ`` — where a child process would inherit
them. The child of ``aitrace run`` gets the user's environment as it was, plus the
``AITRACE_*`` step variables and nothing else: :func:`user_environ` leaves out what aitrace
added here. Cheap on purpose (imported by ``aitrace --help``).
"""

from __future__ import annotations

import os

_ADDED: set[str] = set()


def set_own_default(name: str, value: str) -> None:
    """Set ``name`` for aitrace's own process unless the user set it (then it is theirs)."""
    if name not in os.environ:
        os.environ[name] = value
        _ADDED.add(name)


def user_environ() -> dict[str, str]:
    """``os.environ`` without the variables aitrace added for itself."""
    return {k: v for k, v in os.environ.items() if k not in _ADDED}
