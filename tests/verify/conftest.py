"""Fixtures of the verification tests: a recorded project and its bundle; a monitored record."""

from tests.helpers.bundle import bundle_path, keys, project
from tests.helpers.monitoring import app_store, monitored

__all__ = ["app_store", "bundle_path", "keys", "monitored", "project"]
