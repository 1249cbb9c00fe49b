"""What a record must contain to pass: a YAML policy, evaluated as composable checks.

A policy file (``schemas/policy.schema.json``)::

    format: aitrace.policy/v1
    name: release-gate
    required_stages: [problem, collection, cleaning, training, evaluation, deployment]
    required_evidence:            # stage -> evidence kinds its succeeded steps must carry
      collection: [gx-validation]
      deployment: [cyclonedx-sbom]
    gx_must_pass: true            # the latest GX results of every stage must have succeeded
    metrics:                      # thresholds on the latest evaluation metrics (shorthand)
      accuracy: ">= 0.9"
    thresholds:                   # the long form, any stage
      - {stage: optimization, metric: accuracy_after, op: ">=", value: 0.85}
    meets_success_criteria: true  # evaluation meets the problem stage's success criteria
    assessments_complete: true    # every risk rated with mitigation + owner, every strategy
                                  # aspect of the self-check assessed (templates are not enough)
    licenses:
      deny: ["CC-BY-NC-*", "*-NC-*", "NOASSERTION"]
      allow: []                   # when non-empty, every licence must match one of these
      require_known: true         # declared external sources must name a licence
    keys:                         # which key may act in which role (key ids, 64 hex)
      release: [<key id of the release key>]      # may sign the attestation (verify --key)
      approvers: [<key id of a reviewer key>, ...] # may sign approvals (--approver-key)
    approvals:
      - {stage: deployment, count: 2, keyids: [<sha256 of a reviewer key>, ...]}
    max_age_days: 365             # since the bundle's created_at (its last step)
    min_completeness: 80          # aitrace.record.completeness score, 0-100
    refuse_unsafe_models: true    # released model files must not be flagged by the model scan
    allow_unsafe_pickles: [models/legacy.pkl]   # explicit, visible exceptions (globs)

**Success criteria** are recorded at the problem stage as step params named
``success.<metric>`` whose value is a comparison, e.g. ``success.accuracy: ">= 0.85"``
(``rec.log_params({"success.accuracy": ">= 0.85"})``); ``meets_success_criteria`` holds each one
against the latest evaluation metric of that name.

**Licences** are checked on every licence the record declares — materials' and products'
``license`` and the data and base-model licences summarised by SBOM evidence. Patterns are
shell-style globs, case-insensitive. A licence *expression* (``MIT OR Apache-2.0``) is split
into its ids: any id matching ``deny`` fails; with ``allow`` set, every id must match it.

**Key roles.** ``verify --key`` names release keys (what may sign the attestation) and
``--approver-key`` approver keys (what may sign approvals); a key acts only in the role it was
given, so a reviewer's key cannot sign a release. A policy can pin the roles by key id: with
``keys.release`` only those keys may sign the attestation, with ``keys.approvers`` only those
may approve, and a key the policy names as an approver (in ``keys.approvers`` or an approval
rule's ``keyids``) but not as a release key fails ``policy.key-roles`` when it signs the
attestation.

**Approvals** are reviewers' signed approvals of the latest succeeded step of a stage
(``aitrace approve``), verified with ``approvals.verify_approvals`` against the approver keys
given to ``verify`` (``--approver-key``, never the release keys). With ``keyids`` only those
keys count; ``count`` distinct keys must have approved, and a rejection by any counted key
fails the rule.

**Model scans** (``refuse_unsafe_models``): every deployment model file whose ``model-scan``
evidence says ``unsafe`` (a dangerous import or call) or ``error`` (not scanned to its end)
fails, naming the file and the findings; a path matching ``allow_unsafe_pickles`` passes as a
named exception (``aitrace.verify.scan_rule``).

Evaluation (``aitrace.verify.rules``): each rule is a ``Rule`` (a protocol: ``evaluate(ctx) ->
list[Check]``); ``AllOf`` and ``AnyOf`` combine rules, and ``Policy.rule()`` builds the ``AllOf``
of what a file asks for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from aitrace.errors import InputError
from aitrace.record._model import field, from_json, json_schema, model
from aitrace.record.jsonio import brief
from aitrace.record.stages import STAGE_IDS, StageId
from aitrace.verify.checks import Check
from aitrace.verify.roles import KeyRoles, RolesRespected
from aitrace.verify.rules import (
    _COMPARISON,
    AllOf,
    ApprovalRule,
    Approvals,
    GxPassed,
    LicenseRules,
    Licenses,
    MaxAge,
    MetricThreshold,
    MetricThresholds,
    MinCompleteness,
    PolicyContext,
    RequiredEvidence,
    RequiredStages,
    Rule,
    SuccessCriteria,
)
from aitrace.verify.scan_rule import UnsafeModels

if TYPE_CHECKING:
    pass


POLICY_FORMAT: Literal["aitrace.policy/v1"] = "aitrace.policy/v1"
POLICY_SCHEMA = "https://aitrace.dev/schemas/policy/v1"


DEFAULT_POLICY_FILE = "default.yaml"
POLICY_HINT = ("policies are written by hand: every key and its type is in "
               "schemas/policy.schema.json, and the README's 'Policies' section shows each one "
               "(aitrace/policies/default.yaml is a starting point)")






@model
class Policy:
    """What a record must contain to pass ``aitrace verify``."""

    format: Literal["aitrace.policy/v1"] = POLICY_FORMAT
    name: str = "policy"
    description: str | None = None
    required_stages: tuple[StageId, ...] = field(
        default=(), description="stages that must have a succeeded step")
    required_evidence: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict, description="stage -> evidence kinds its succeeded steps carry")
    gx_must_pass: bool = field(
        default=False, description="the latest GX results of every stage must have succeeded")
    metrics: Mapping[str, str] = field(
        default_factory=dict, description="evaluation metric -> comparison, e.g. '>= 0.9'")
    thresholds: tuple[MetricThreshold, ...] = ()
    meets_success_criteria: bool = field(
        default=False, description="evaluation meets the problem stage's success.<metric> "
                                   "params")
    assessments_complete: bool = field(
        default=False, description="the risk register rates every item with mitigation and "
                                   "owner; the self-check assesses every strategy aspect")
    licenses: LicenseRules | None = None
    keys: KeyRoles | None = field(
        default=None, description="which key ids may sign releases and which approvals")
    approvals: tuple[ApprovalRule, ...] = ()
    max_age_days: float | None = field(default=None, description="days since created_at")
    min_completeness: int | None = field(default=None, description="0-100")
    refuse_unsafe_models: bool = field(
        default=False, description="deployment model files must not be flagged unsafe (or "
                                   "incompletely scanned) by their model-scan evidence")
    allow_unsafe_pickles: tuple[str, ...] = field(
        default=(), description="recorded paths (globs) of deployment model files allowed "
                                "despite the model scan: explicit exceptions, named in every "
                                "verification")

    def rule(self) -> AllOf:
        """The composite rule this policy asks for."""
        rules: list[Rule] = []
        if self.required_stages:
            rules.append(RequiredStages(self.required_stages))
        if self.required_evidence:
            rules.append(RequiredEvidence(self.required_evidence))
        if self.gx_must_pass:
            rules.append(GxPassed())
        thresholds = [MetricThreshold(metric=k, **_parse_comparison(v, f"metrics.{k}", ""))
                      for k, v in self.metrics.items()]
        thresholds.extend(self.thresholds)
        if thresholds:
            rules.append(MetricThresholds(tuple(thresholds)))
        if self.meets_success_criteria:
            rules.append(SuccessCriteria())
        if self.assessments_complete:
            from aitrace.verify.rules_governance import AssessmentsComplete

            rules.append(AssessmentsComplete())
        if self.licenses is not None:
            rules.append(Licenses(self.licenses))
        approvers = tuple(sorted({k for a in self.approvals for k in a.keyids}
                                 | set(self.keys.approvers if self.keys else ())))
        if self.keys is not None or approvers:
            rules.append(RolesRespected(self.keys, approvers))
        for a in self.approvals:
            rules.append(Approvals(a, self.keys))
        if self.max_age_days is not None:
            rules.append(MaxAge(self.max_age_days))
        if self.min_completeness is not None:
            rules.append(MinCompleteness(self.min_completeness))
        if self.refuse_unsafe_models:
            rules.append(UnsafeModels(self.allow_unsafe_pickles))
        return AllOf(tuple(rules))

    def evaluate(self, ctx: PolicyContext) -> list[Check]:
        """Every check of this policy against ``ctx``."""
        checks = self.rule().evaluate(ctx)
        if not checks:
            return [Check("policy", f"The record meets policy '{self.name}'", "passed",
                          "the policy asks for nothing")]
        return checks


def policy_schema() -> dict[str, Any]:
    """JSON Schema of a policy file (``schemas/policy.schema.json``)."""
    return json_schema(Policy, schema_id=POLICY_SCHEMA, title="aitrace verification policy")


def _parse_comparison(text: str, where: str, source: str) -> dict[str, Any]:
    m = _COMPARISON.match(text) if isinstance(text, str) else None
    if m is None:
        src = f" in {source}" if source else ""
        raise InputError(f"invalid policy{src}: field '{where}' must be a comparison like "
                         f"'>= 0.9' (got {text!r})",
                         hint="use one of >=, >, <=, <, ==, != followed by a number")
    return {"op": m.group(1), "value": float(m.group(2))}


def parse_policy(data: Any, source: str) -> Policy:
    """Parse and check a policy document; ``InputError`` names ``source`` and the field."""
    if data is None:
        data = {}
    try:
        pol = from_json(Policy, data, source=source, hint=POLICY_HINT)
    except InputError as exc:
        raise InputError(exc.message.replace("invalid document in", "invalid policy in", 1),
                         hint=exc.hint) from None

    def bad(where: str, what: str, hint: str) -> InputError:
        return InputError(f"invalid policy in {source}: field '{where}' {what}", hint=hint)

    for stage, kinds in pol.required_evidence.items():
        if stage not in STAGE_IDS:
            raise bad(f"required_evidence.{stage}", "is not a stage",
                      "use one of: " + ", ".join(STAGE_IDS))
        if not kinds:
            raise bad(f"required_evidence.{stage}", "is empty", "list evidence kinds")
    for k, v in pol.metrics.items():
        _parse_comparison(v, f"metrics.{k}", source)
    for i, a in enumerate(pol.approvals):
        if a.count < 1:
            raise bad(f"approvals[{i}].count", f"must be at least 1 (got {a.count})",
                      "ask for one approval or more")
        for j, kid in enumerate(a.keyids):
            if not re.fullmatch(r"[0-9a-f]{64}", kid):
                raise bad(f"approvals[{i}].keyids[{j}]", "is not a key id (64 hex characters)",
                          "`aitrace keygen` prints the key id of a key")
    for role in ("release", "approvers"):
        for j, kid in enumerate(getattr(pol.keys, role) if pol.keys else ()):
            if not re.fullmatch(r"[0-9a-f]{64}", kid):
                raise bad(f"keys.{role}[{j}]", "is not a key id (64 hex characters)",
                          "`aitrace keygen` prints the key id of a key")
    if pol.min_completeness is not None and not 0 <= pol.min_completeness <= 100:
        raise bad("min_completeness", f"must be 0-100 (got {brief(pol.min_completeness, 20)})",
                  "give a percentage")
    for i, pattern in enumerate(pol.allow_unsafe_pickles):
        if not pattern.strip():
            raise bad(f"allow_unsafe_pickles[{i}]", "is empty",
                      "give the recorded path of a model file, e.g. models/legacy.pkl")
    if pol.max_age_days is not None and pol.max_age_days <= 0:
        raise bad("max_age_days", f"must be positive (got {pol.max_age_days:g})",
                  "give a number of days")
    return pol


SHIPPED_POLICIES = {"default": DEFAULT_POLICY_FILE, "complete-record": DEFAULT_POLICY_FILE,
                    "partial": "partial.yaml", "partial-record": "partial.yaml"}
"""Policies shipped with aitrace, by the name ``--policy`` accepts instead of a file."""


def shipped_policy(name: str) -> Policy:
    """A policy shipped with aitrace (``aitrace/policies/``), by name: see ``SHIPPED_POLICIES``."""
    from importlib.resources import files

    import yaml

    file = SHIPPED_POLICIES[name]
    text = (files("aitrace") / "policies" / file).read_text(encoding="utf-8")
    return parse_policy(yaml.safe_load(text), f"aitrace/policies/{file}")


def load_policy(path: Path) -> Policy:
    """Read a YAML (or JSON) policy file, or a shipped policy by name (``partial``).

    A file of that name wins over a shipped policy, so a project's own ``partial`` file is read.

    Raises:
        InputError: the file is missing, not YAML, or a field is wrong (naming file and field).
    """
    from aitrace.store.config import read_yaml

    if not Path(path).exists() and str(path) in SHIPPED_POLICIES:
        return shipped_policy(str(path))
    path = Path(path)
    data = read_yaml(path, missing_hint="check the --policy path, or name a policy shipped with "
                                        "aitrace: " + ", ".join(sorted(SHIPPED_POLICIES)))
    if data is not None and not isinstance(data, dict):
        raise InputError(f"invalid policy in {path}: field '$' must be a mapping",
                         hint=POLICY_HINT)
    return parse_policy(data, str(path))


def default_policy() -> Policy:
    """The "complete record" policy shipped with aitrace (``aitrace/policies/default.yaml``)."""
    return shipped_policy("default")


# =========================================================================== context




