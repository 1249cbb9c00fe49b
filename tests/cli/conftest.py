"""Fixtures of the command-level tests: the pillars' recorded projects and data."""

from tests.helpers.bundle import bundle_path, keys, project
from tests.helpers.gx import data_dir, gx_loaded
from tests.helpers.monitoring import app_store, monitored, released
from tests.helpers.pipeline import pipeline
from tests.helpers.sbom import lineage

__all__ = ["app_store", "bundle_path", "data_dir", "gx_loaded", "keys", "lineage", "monitored",
           "pipeline", "project", "released"]
