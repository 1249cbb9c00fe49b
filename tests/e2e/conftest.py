"""Fixtures of the end-to-end tests: an application's MLflow traces with personal data."""

from tests.helpers.monitoring import app_store

__all__ = ["app_store"]
