"""Fixtures of the ML-BOM tests: one recorded lineage per module."""

from tests.helpers.sbom import lineage

__all__ = ["lineage"]
