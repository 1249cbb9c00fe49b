"""Fixtures of the verification tests: a recorded project and its bundle."""

from tests.helpers.bundle import bundle_path, keys, project

__all__ = ["bundle_path", "keys", "project"]
