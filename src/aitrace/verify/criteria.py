"""Rules on a model's numbers: metric thresholds and the problem stage's success criteria.

Both read the metrics a step declared or its user MLflow run logged
(``aitrace.verify.order.metric_value``). Success criteria must be registered before the
evaluation they judge (``aitrace.verify.order.registered_criteria``); the thresholds of a
policy are the policy's own and need no registration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from aitrace.verify.checks import Check
from aitrace.verify.order import SUCCESS_PREFIX, metric_value, registered_criteria
from aitrace.verify.rules import MetricThreshold, PolicyContext, compare, parse_comparison

if TYPE_CHECKING:
    from aitrace.record.models import Step


@dataclass(frozen=True)
class MetricThresholds:
    """Each metric of the latest succeeded step of its stage meets its bound."""

    thresholds: tuple[MetricThreshold, ...]

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """One check per threshold."""
        out: list[Check] = []
        title = "Metric thresholds are met"
        for t in self.thresholds:
            want = f"{t.stage} {t.metric} {t.op} {t.value:g}"
            got = ctx.latest_metric(t.stage, t.metric)
            if got is None:
                out.append(Check("policy.metrics", title, "failed",
                                 f"{want}: no succeeded {t.stage} step logged {t.metric}"))
                continue
            step, value = got
            status: Literal["passed", "failed"] = (
                "passed" if compare(t.op, value, t.value) else "failed")
            out.append(Check("policy.metrics", title, status,
                             f"{want}: step {step.seq} has {t.metric} = {value:g}",
                             ctx.step_member(step)))
        return out


def criteria_of(ctx: PolicyContext) -> tuple[Step | None, dict[str, str]]:
    """The problem step holding the success criteria, and ``{metric: comparison}``.

    A problem stage may have several steps (statement, risk register, self-check): the criteria
    are those of the latest one that records any.
    """
    problems = ctx.succeeded("problem")
    problem = next((s for s in reversed(problems)
                    if any(k.startswith(SUCCESS_PREFIX) for k in s.params)),
                   problems[-1] if problems else None)
    if problem is None:
        return None, {}
    return problem, {k[len(SUCCESS_PREFIX):]: v for k, v in sorted(problem.params.items())
                     if k.startswith(SUCCESS_PREFIX)}


@dataclass(frozen=True)
class SuccessCriteria:
    """Evaluation metrics meet the success criteria registered before them at the problem stage.

    Each ``success.<metric>`` is the one recorded before the evaluation that logged the metric
    (``aitrace.verify.order.registered_criteria``): criteria set or changed afterwards do not
    count, and verification's ``chain.preregistration`` check names them.
    """

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """One check per criterion; a failure when none is recorded."""
        cid, title = "policy.success-criteria", "Evaluation meets the problem's success criteria"
        reg = registered_criteria(ctx.steps)
        if not reg.criteria:
            problems = ctx.succeeded("problem")
            if not problems:
                return [Check(cid, title, "failed", "no succeeded problem step records success "
                              "criteria")]
            return [Check(cid, title, "failed",
                          f"problem step {problems[-1].seq} records no success criteria "
                          f"(params '{SUCCESS_PREFIX}<metric>' such as '{SUCCESS_PREFIX}"
                          "accuracy: \">= 0.9\"')", ctx.step_member(problems[-1]))]
        out = []
        for c in reg.criteria:
            if c.problem is None or c.text is None:
                seq = c.evaluation.seq if c.evaluation else "?"
                out.append(Check(cid, title, "failed",
                                 f"success criterion {c.metric}: none was recorded before "
                                 f"evaluation step {seq}, which it would judge (set afterwards:"
                                 " not pre-registered)",
                                 ctx.step_member(c.evaluation) if c.evaluation else None))
                continue
            member = ctx.step_member(c.problem)
            parsed = parse_comparison(c.text)
            if parsed is None:
                out.append(Check(cid, title, "failed",
                                 f"problem step {c.problem.seq} param '{SUCCESS_PREFIX}"
                                 f"{c.metric}' = {c.text!r} is not a comparison like '>= 0.9'",
                                 member))
                continue
            op, bound = parsed
            value = metric_value(c.evaluation, c.metric) if c.evaluation else None
            if c.evaluation is None or value is None:
                out.append(Check(cid, title, "failed",
                                 f"success criterion {c.metric} {op} {bound:g}: no succeeded "
                                 f"evaluation step logged {c.metric}"))
                continue
            ok = compare(op, value, bound)
            out.append(Check(cid, title, "passed" if ok else "failed",
                             f"success criterion {c.metric} {op} {bound:g}: evaluation step "
                             f"{c.evaluation.seq} has {value:g}",
                             ctx.step_member(c.evaluation)))
        return out
