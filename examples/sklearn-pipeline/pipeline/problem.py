"""Stage 1 (problem): the problem statement and the success criteria, via the Python hooks."""

from pathlib import Path

import aitrace

STATEMENT = """\
# Wine cultivar classifier

**Problem.** Classify Italian wines into one of three cultivars from 13 chemical measurements,
so that the quality lab can route samples without a manual tasting panel.

**Objective.** A small, explainable model that runs on a laptop.

**Success criteria.** accuracy >= 0.85 and macro F1 >= 0.85 on a held-out test set.

**Owners.** Data science: ml-team. Business: quality-lab.
"""

with aitrace.stage("problem", outputs=["docs/problem.md"]) as step:
    Path("docs").mkdir(exist_ok=True)
    Path("docs/problem.md").write_text(STATEMENT, encoding="utf-8")
    # Success criteria the evaluation stage is held to (policy: "meets_success_criteria").
    step.log_params({"success.accuracy": ">= 0.85", "success.f1_macro": ">= 0.85",
                     "owner": "ml-team"})
    step.describe("Problem statement, objective and success criteria")
