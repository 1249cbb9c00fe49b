"""``gx-validation`` evidence: Great Expectations validation results, as GX writes them.

Results are attached by explicit checks (``aitrace check``, ``step.check()``, the GX checkpoint
action); when a step ends this source adds the step-wide ``gx.checks``, ``gx.success`` and
``gx.failed_expectations`` metrics over every GX result the step holds, from whichever process
attached it. Views read per-expectation status and observed aggregates — never row-level values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aitrace.evidence.interface import Badge, EvidenceSource
from aitrace.hooks.handle import Contribution, FinishingStep
from aitrace.record.jsonio import as_list, as_map, as_number, brief
from aitrace.record.stages import EVIDENCE_GX

if TYPE_CHECKING:
    from aitrace.record.models import EvidenceRef

MEDIA_TYPE = "application/vnd.great-expectations.validation-result+json"
MAX_ROWS = 500  # at most this many expectations per result in a view


class GxSource(EvidenceSource):
    """Great Expectations validation results bound to the bytes they checked."""

    kind = EVIDENCE_GX
    media_type = MEDIA_TYPE
    title = "Great Expectations validation"

    def applies(self, step: FinishingStep) -> bool:
        return any(e.kind == self.kind for e in step.step.evidence)

    def contribute(self, step: FinishingStep) -> Contribution:
        """The step-wide GX metrics: how many checks, whether all passed, failed expectations."""
        results = [e for e in step.step.evidence if e.kind == self.kind]
        failed = sum(int(as_number(e.summary.get("failed")) or 0) for e in results)
        # A result that evaluated nothing is no pass (and says so in views and policy): the step
        # passed when what was checked passed and something was checked.
        checked = [e for e in results if self.emptiness(e) is None]
        success = bool(checked) and all(bool(e.summary.get("success")) for e in checked)
        return Contribution(metrics={"gx.checks": float(len(results)),
                                     "gx.success": 1.0 if success else 0.0,
                                     "gx.failed_expectations": float(failed)})

    def summary(self, doc: Any) -> Mapping[str, Any]:
        stats = as_map(as_map(doc).get("statistics"))
        return {"success": bool(as_map(doc).get("success")),
                "evaluated": as_number(stats.get("evaluated_expectations")),
                "successful": as_number(stats.get("successful_expectations")),
                "suite_name": str(as_map(doc).get("suite_name") or "")}

    def facts(self, doc: Any) -> Mapping[str, Any] | None:
        """Per expectation its status and observed value; only aggregates, never rows."""
        if not isinstance(doc, Mapping):
            return {"error": "not a GX validation result"}
        stats = as_map(doc.get("statistics"))
        rows = []
        for res in as_list(doc.get("results"))[:MAX_ROWS]:
            if not isinstance(res, Mapping):
                continue
            cfg = as_map(res.get("expectation_config"))
            kwargs = as_map(cfg.get("kwargs"))
            result = as_map(res.get("result"))
            shown = {k: v for k, v in kwargs.items()
                     if k not in ("column", "batch_id", "result_format")}
            observed = result.get("observed_value")
            rows.append({
                "type": str(cfg.get("type") or cfg.get("expectation_type") or "?"),
                "column": str(kwargs["column"]) if "column" in kwargs else None,
                "kwargs": brief(shown, 120) if shown else "",
                "success": bool(res.get("success")),
                "observed": None if observed is None else brief(observed),
                "element_count": as_number(result.get("element_count")),
                "unexpected_count": as_number(result.get("unexpected_count")),
                "unexpected_percent": as_number(result.get("unexpected_percent")),
                "exception": bool(as_map(res.get("exception_info")).get("raised_exception")),
            })
        return {
            "success": bool(doc.get("success")),
            "suite": str(doc.get("suite_name") or as_map(doc.get("meta")).get(
                "expectation_suite_name") or ""),
            "evaluated": as_number(stats.get("evaluated_expectations")),
            "successful": as_number(stats.get("successful_expectations")),
            "expectations": rows,
        }

    def badge(self, ref: EvidenceRef, facts: Mapping[str, Any] | None) -> Badge | None:
        facts = facts or {}
        success = facts.get("success", ref.summary.get("success"))
        ev, ok = facts.get("evaluated"), facts.get("successful")
        pack = ref.summary.get("pack")
        label = f"GX {pack}" if isinstance(pack, str) and pack else "GX"
        if (ev is not None and int(ev) == 0) or self.emptiness(ref) is not None:
            # Nothing was checked (e.g. a privacy scan of data without text columns): say so
            # instead of showing a green pass.
            return (f"{label}: nothing checked (0 expectations)", "warn")
        count = f" {int(ok)}/{int(ev)}" if ev is not None and ok is not None else ""
        return (f"{label} pass{count}", "ok") if success else (f"{label} FAIL{count}", "bad")

    def emptiness(self, ref: EvidenceRef) -> str | None:
        evaluated = as_number(ref.summary.get("evaluated"))
        if evaluated is not None and int(evaluated) == 0:
            return "nothing checked (0 expectations evaluated)"
        return None

    def validate(self, doc: Any) -> str | None:
        if not isinstance(doc, Mapping):
            return "is not a GX validation result (a JSON object)"
        if not isinstance(doc.get("success"), bool) or not isinstance(doc.get("results"), list):
            return "is not a GX validation result (no 'success' and 'results')"
        return None
