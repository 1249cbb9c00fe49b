"""Fixtures of the GX evidence tests: GX loaded once, a project with data."""

from tests.helpers.gx import data_dir, gx_loaded

__all__ = ["data_dir", "gx_loaded"]
