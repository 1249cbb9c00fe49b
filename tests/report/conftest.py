"""Fixtures of the report tests: one pipeline bundled twice; a monitored record."""

from tests.helpers.monitoring import app_store, monitored
from tests.helpers.pipeline import pipeline

__all__ = ["app_store", "monitored", "pipeline"]
