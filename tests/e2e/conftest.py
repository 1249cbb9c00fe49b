"""Fixtures of the end-to-end tests: a recorded project and its bundle (tests.helpers.bundle),
and an application's MLflow traces with personal data (tests.helpers.monitoring)."""

from tests.helpers.bundle import bundle_path, keys, project
from tests.helpers.monitoring import app_store

__all__ = ["app_store", "bundle_path", "keys", "project"]
