"""Commented YAML templates of the risk register and the self-check table, to fill in."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from aitrace.evidence.governance.models import (
    CHECKLIST_FORMAT,
    READINESS_ASPECTS,
    READINESS_VALUES,
    RISK_FORMAT,
    RISK_IDS,
    RISK_LABELS,
    RISK_RATINGS,
    ROUTE_IDS,
    ROUTE_LABELS,
    STRATEGY_IDS,
    STRATEGY_LABELS,
    STRATEGY_STATUSES,
)

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------- templates


def _comment(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, width=96, initial_indent=indent + "# ",
                         subsequent_indent=indent + "#   ")


def risk_template() -> str:
    """A commented YAML template for ``aitrace assess risk --file``."""
    lines = [
        "# aitrace risk register — the seven risk items of the generative-AI guide (ch. 3,",
        "# 風險管理項目). Fill in each item; an item left out is recorded as not_assessed.",
        "# Record it with:  aitrace assess risk --stage problem --file risk.yaml",
        "#",
        "# Per item:",
        "#   rating:      " + " | ".join(RISK_RATINGS) + "   (未評估 / 低 / 中 / 高)",
        "#   description: the risk as it applies to this system",
        "#   mitigation:  what is done about it",
        "#   owner:       who answers for it",
        "#   evidence:    a list of links to evidence in the record, each one of",
        "#                  KIND            an evidence kind, e.g. gx-validation, cyclonedx-sbom",
        "#                  KIND@STAGE      that kind on one stage, e.g. gx-validation@collection",
        "#                  STAGE           a stage's evidence as a whole, e.g. evaluation",
        "#                  sha256:HEX      an exact evidence object, step or artifact digest",
        "#                  https://...     an external document",
        "#                or a mapping {kind:, stage:, sha256:, uri:, note:}",
        f"format: {RISK_FORMAT}",
        'scope: ""          # what system / use the register covers',
        'assessed_by: ""    # who assessed',
        'assessed_at: ""    # when, e.g. 2026-11-28',
        "risks:",
    ]
    examples = {
        "privacy": "e.g. [gx-validation@collection]  (the privacy pack's GX result)",
        "intellectual_property": "e.g. [cyclonedx-sbom@deployment]  (licences of data, models)",
        "explainability": "e.g. [cyclonedx-sbom@deployment]  (the model's SBOM)",
        "accuracy_reliability": "e.g. [gx-validation@cleaning]",
    }
    for rid in RISK_IDS:
        label = RISK_LABELS[rid]
        hint = f"    # {examples[rid]}" if rid in examples else None
        lines += [
            *_comment(f"{label.en} / {label.zh}: {label.asks}", "  "),
            f"  {rid}:",
            "    rating: not_assessed",
            '    description: ""',
            '    mitigation: ""',
            '    owner: ""',
            *([hint] if hint else []),
            "    evidence: []",
        ]
    return "\n".join(lines) + "\n"


def checklist_template() -> str:
    """A commented YAML template for ``aitrace assess checklist --file``."""
    lines = [
        "# aitrace self-check table — table 1 of the generative-AI guide (表1 自我查核表).",
        "# Record it with:  aitrace assess checklist --stage problem --file checklist.yaml",
        "#",
        "# strategy (導入策略): each aspect is one of",
        "#   " + " | ".join(STRATEGY_STATUSES) + "   (未評估 / 評估中 / 已有方案)",
        "#   written as `aspect: status` or `aspect: {status: ..., note: ...}`",
        f"format: {CHECKLIST_FORMAT}",
        'assessed_by: ""',
        'assessed_at: ""',
        "strategy:",
    ]
    for sid in STRATEGY_IDS:
        label = STRATEGY_LABELS[sid]
        lines += [*_comment(f"{label.en} / {label.zh}: {label.asks}", "  "),
                  f"  {sid}: {{status: not_assessed, note: \"\"}}"]
    lines += [
        "# adoption (技術整備度): for each of the four routes, `chosen: true` if this project",
        "# takes it, and the readiness of budget (預算編列), technology (技術), data (資料),",
        "# process inventory (流程盤查) and regulatory compliance (監理規範), each one of",
        "#   " + " | ".join(READINESS_VALUES) + "   (未評估 / 評估中 / 已就緒 / 不適用)",
        "adoption:",
    ]
    for rid in ROUTE_IDS:
        label = ROUTE_LABELS[rid]
        lines += [f"  # {label.en} / {label.zh}", f"  {rid}:", "    chosen: false"]
        lines += [f"    {a}: not_assessed" for a in READINESS_ASPECTS]
        lines.append('    note: ""')
    return "\n".join(lines) + "\n"
