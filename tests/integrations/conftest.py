"""Fixtures of the integration tests: GX data and an embedded MLflow store."""

from tests.helpers.gx import data_dir, gx_loaded
from tests.helpers.mlflow import store

__all__ = ["data_dir", "gx_loaded", "store"]
