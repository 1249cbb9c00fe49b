"""Fixtures for the ML-BOM tests: one recorded lineage shared per module."""

from __future__ import annotations

from typing import Any

import pytest
from sbom_helpers import record_lineage


@pytest.fixture(scope="module")
def lineage(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One recorded lineage shared by the read-only tests of a module."""
    root = tmp_path_factory.mktemp("lineage") / "project"
    root.mkdir()
    return record_lineage(root, data_license="CC-BY-NC-4.0", base_model=True,
                          extra_config="""
modelCard:
  considerations:
    users: [quality lab analysts]
    useCases: [wine cultivar classification]
    technicalLimitations: [trained on 178 samples]
    ethicalConsiderations: [{name: none known, mitigationStrategy: review yearly}]
    fairnessAssessments: [{groupAtRisk: none, benefits: faster grading}]
datasets:
  data/raw.csv: {owners: [data-team, owner@example.org], custodians: [it-ops],
                 classification: public}
""")
