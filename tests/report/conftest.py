"""Fixtures of the report tests: one pipeline bundled twice."""

from tests.helpers.pipeline import pipeline

__all__ = ["pipeline"]
