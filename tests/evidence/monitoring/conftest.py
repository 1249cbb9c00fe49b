"""Fixtures of the monitoring evidence tests: an application's traces and a released record."""

from tests.helpers.monitoring import app_store, released

__all__ = ["app_store", "released"]
