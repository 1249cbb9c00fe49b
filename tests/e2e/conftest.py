"""Fixtures of the end-to-end tests: a recorded project and its bundle (tests.helpers.bundle)."""

from tests.helpers.bundle import bundle_path, keys, project

__all__ = ["bundle_path", "keys", "project"]
