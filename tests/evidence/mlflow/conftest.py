"""Fixtures of the MLflow tests: one embedded store per module."""

from tests.helpers.mlflow import grep_tree, store, ws

__all__ = ["grep_tree", "store", "ws"]
