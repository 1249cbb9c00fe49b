"""Fixtures of the bundle tests (defined in tests/helpers/bundle.py)."""

from tests.helpers.bundle import bundle_path, keys, project

__all__ = ["bundle_path", "keys", "project"]
