"""The risk register and the self-check table (表1) of the source guide, as typed documents.

The guide's chapter 3 names seven risk items every generative-AI project must weigh (fairness,
privacy, security, intellectual property, explainability, accuracy & reliability, organisational
impact incl. energy/ESG); its table 1 asks for a self-check of six strategy aspects and of the
readiness of four adoption routes. Each becomes a typed, schema'd JSON document stored as
evidence on a step, so a reviewer sees — signed, in the bundle — what the team assessed and what
it left unassessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from aitrace.errors import InputError
from aitrace.record._model import field, from_json, json_schema, model
from aitrace.record.refs import SHA256_HEX

if TYPE_CHECKING:
    pass


RISK_FORMAT: Literal["aitrace.risk-register/v1"] = "aitrace.risk-register/v1"
CHECKLIST_FORMAT: Literal["aitrace.self-check/v1"] = "aitrace.self-check/v1"
RISK_SCHEMA_ID = "https://aitrace.dev/schemas/risk-register/v1"
CHECKLIST_SCHEMA_ID = "https://aitrace.dev/schemas/self-check/v1"
RISK_MEDIA_TYPE = "application/vnd.aitrace.risk-register+json"
CHECKLIST_MEDIA_TYPE = "application/vnd.aitrace.self-check+json"

RiskId = Literal["fairness", "privacy", "security", "intellectual_property", "explainability",
                 "accuracy_reliability", "organisational_impact"]
RiskRating = Literal["not_assessed", "low", "medium", "high"]
StrategyId = Literal["organisation", "technology", "data", "talent", "management", "policy"]
StrategyStatus = Literal["not_assessed", "assessing", "plan_in_place"]
RouteId = Literal["software_tool", "external_model_api", "fine_tune_open_model",
                  "train_own_model"]
Readiness = Literal["not_assessed", "assessing", "ready", "not_applicable"]
ReadinessAspect = Literal["budget", "technology", "data", "process_inventory",
                          "regulatory_compliance"]

RISK_IDS: tuple[RiskId, ...] = get_args(RiskId)
RISK_RATINGS: tuple[RiskRating, ...] = get_args(RiskRating)
STRATEGY_IDS: tuple[StrategyId, ...] = get_args(StrategyId)
STRATEGY_STATUSES: tuple[StrategyStatus, ...] = get_args(StrategyStatus)
ROUTE_IDS: tuple[RouteId, ...] = get_args(RouteId)
READINESS_VALUES: tuple[Readiness, ...] = get_args(Readiness)
READINESS_ASPECTS: tuple[ReadinessAspect, ...] = get_args(ReadinessAspect)


@dataclass(frozen=True)
class Label:
    """Display names of one item: English, the guide's Chinese, and what it asks."""

    en: str
    zh: str
    asks: str = ""


# The guide's wording (ch. 3 §1 for risks, table 1 for the self-check), condensed.
RISK_LABELS: dict[str, Label] = {
    "fairness": Label("Fairness", "公平性",
                      "No unfair outcome or bias by race, gender, age, religion or sexual "
                      "orientation; fair access to and use of training data."),
    "privacy": Label("Privacy", "隱私性",
                     "Which protected data may train the model, who is authorised to use it, "
                     "privacy-enhancing techniques (encryption, anonymisation)."),
    "security": Label("Security", "安全性",
                      "Intrusion, adversarial attacks, malicious output; authentication, "
                      "encryption, patching, monitoring, regular security tests."),
    "intellectual_property": Label("Intellectual property", "智慧財產權（IP）確認和授權",
                                   "Licences and IP of the training data, base models and "
                                   "generated output; the vendor's restrictions."),
    "explainability": Label("Explainability", "可解釋性",
                            "How the model reaches its results; XAI methods and an SBOM that "
                            "opens the black box (data, libraries, base model)."),
    "accuracy_reliability": Label("Accuracy & reliability", "準確性與可靠性",
                                  "Accurate, consistent results; data bias; monitoring and "
                                  "regular review of outputs, investigation of errors."),
    "organisational_impact": Label("Organisational impact (incl. energy / ESG)", "企業組織影響",
                                   "Energy use and greener compute; new skills and training "
                                   "for staff; workflows, policy and oversight (ESG)."),
}
RATING_LABELS: dict[str, Label] = {
    "not_assessed": Label("Not assessed", "未評估"),
    "low": Label("Low", "低"),
    "medium": Label("Medium", "中"),
    "high": Label("High", "高"),
}
STRATEGY_LABELS: dict[str, Label] = {
    "organisation": Label("Organisation", "組織面",
                          "Goals, priorities, resources, roadmap, ethics and accountability."),
    "technology": Label("Technology", "技術面",
                        "Model choice, data sufficiency, security, deployment monitoring, "
                        "user feedback."),
    "data": Label("Data", "資料面",
                  "Data governance over the life cycle: privacy, security, compliance, bias."),
    "talent": Label("Talent", "人才面", "A skilled AI team, training, partners."),
    "management": Label("Management", "管理面",
                        "Milestones, monitoring, regular system audits and risk assessments."),
    "policy": Label("Policy", "政策面",
                    "Responsible-AI rules, work with regulators, transparent communication."),
}
STRATEGY_STATUS_LABELS: dict[str, Label] = {
    "not_assessed": Label("Not assessed", "未評估"),
    "assessing": Label("Assessing", "評估中"),
    "plan_in_place": Label("Plan in place", "已有方案"),
}
ROUTE_LABELS: dict[str, Label] = {
    "software_tool": Label("Use a software tool", "直接使用軟體工具"),
    "external_model_api": Label("Call an external model API", "透過API串接外部模型"),
    "fine_tune_open_model": Label("Fine-tune an open model", "針對開源模型微調"),
    "train_own_model": Label("Train an own model", "自行訓練企業的內部模型"),
}
READINESS_ASPECT_LABELS: dict[str, Label] = {
    "budget": Label("Budget", "預算編列"),
    "technology": Label("Technology", "技術"),
    "data": Label("Data", "資料"),
    "process_inventory": Label("Process inventory", "流程盤查"),
    "regulatory_compliance": Label("Regulatory compliance", "監理規範"),
}
READINESS_LABELS: dict[str, Label] = {
    "not_assessed": Label("Not assessed", "未評估"),
    "assessing": Label("Assessing", "評估中"),
    "ready": Label("Ready", "已就緒"),
    "not_applicable": Label("Not applicable", "不適用"),
}


# --------------------------------------------------------------------------- models


@model
class EvidenceLink:
    """A pointer from a governance item to the evidence that supports it."""

    kind: str | None = field(default=None,
                             description="an evidence kind, e.g. gx-validation, cyclonedx-sbom")
    stage: str | None = field(default=None, description="the stage whose evidence is meant")
    sha256: str | None = field(default=None, pattern=SHA256_HEX,
                               description="an exact evidence object, step or artifact digest")
    uri: str | None = field(default=None, description="an external document")
    note: str | None = None


@model
class RiskItem:
    """One of the guide's seven risk items, as assessed."""

    id: RiskId
    rating: RiskRating
    description: str = ""
    mitigation: str = ""
    owner: str = ""
    evidence: tuple[EvidenceLink, ...] = ()


@model
class RiskRegister:
    """The risk register: all seven risk items of the guide (ch. 3), each rated."""

    format: Literal["aitrace.risk-register/v1"]
    items: tuple[RiskItem, ...] = field(description="the seven items, in the guide's order")
    assessed_by: str | None = None
    assessed_at: str | None = field(default=None, description="date or RFC 3339 time")
    scope: str | None = field(default=None, description="what system or use the register covers")


@model
class StrategyAspect:
    """One strategy aspect of the self-check table (表1, 導入策略)."""

    id: StrategyId
    status: StrategyStatus
    note: str = ""


@model
class AdoptionRoute:
    """One adoption route of the self-check table (表1, 技術整備度) and its readiness."""

    id: RouteId
    chosen: bool = field(default=False, description="whether this project takes this route")
    budget: Readiness = "not_assessed"
    technology: Readiness = "not_assessed"
    data: Readiness = "not_assessed"
    process_inventory: Readiness = "not_assessed"
    regulatory_compliance: Readiness = "not_assessed"
    note: str = ""


@model
class SelfCheck:
    """The self-check table (表1): six strategy aspects and four adoption routes."""

    format: Literal["aitrace.self-check/v1"]
    strategy: tuple[StrategyAspect, ...] = field(description="the six aspects, in order")
    adoption: tuple[AdoptionRoute, ...] = field(description="the four routes, in order")
    assessed_by: str | None = None
    assessed_at: str | None = None


def risk_register_schema() -> dict[str, Any]:
    """JSON Schema of the risk register (``schemas/risk-register.schema.json``)."""
    return json_schema(RiskRegister, schema_id=RISK_SCHEMA_ID, title="aitrace risk register")


def checklist_schema() -> dict[str, Any]:
    """JSON Schema of the self-check table (``schemas/self-check.schema.json``)."""
    return json_schema(SelfCheck, schema_id=CHECKLIST_SCHEMA_ID,
                       title="aitrace self-check table")


# --------------------------------------------------------------------------- summaries


def risk_summary(reg: RiskRegister) -> dict[str, Any]:
    """The short summary stored beside the evidence (counts per rating, the high ones)."""
    counts = {r: 0 for r in RISK_RATINGS}
    for item in reg.items:
        counts[item.rating] += 1
    return {"items": len(reg.items), "ratings": counts,
            "high": [i.id for i in reg.items if i.rating == "high"],
            "not_assessed": [i.id for i in reg.items if i.rating == "not_assessed"]}


def checklist_summary(check: SelfCheck) -> dict[str, Any]:
    """The short summary stored beside the evidence."""
    counts = {s: 0 for s in STRATEGY_STATUSES}
    for aspect in check.strategy:
        counts[aspect.status] += 1
    return {"strategy": counts, "routes_chosen": [r.id for r in check.adoption if r.chosen]}




def risk_gaps(reg: RiskRegister) -> list[str]:
    """What the register leaves open: unassessed items, ratings without mitigation or owner.

    An unassessed item is not an assessment; a rating nobody owns or mitigates is half of one.
    The default policy requires none of these (``assessments_complete``).
    """
    gaps = []
    for item in reg.items:
        if item.rating == "not_assessed":
            gaps.append(f"{item.id}: not assessed")
            continue
        lacking = [name for name, value in (("mitigation", item.mitigation),
                                            ("owner", item.owner)) if not value.strip()]
        if lacking:
            gaps.append(f"{item.id}: rated {item.rating} but no {' or '.join(lacking)}")
    return gaps


def checklist_gaps(check: SelfCheck) -> list[str]:
    """The strategy aspects of the self-check table left ``not_assessed``."""
    return [f"strategy.{a.id}: not assessed" for a in check.strategy
            if a.status == "not_assessed"]


# --------------------------------------------------------------------------- reading evidence


def risk_register_from_json(data: Any, *, source: str) -> RiskRegister:
    """Parse stored risk-register evidence (untrusted JSON, e.g. from a bundle)."""
    reg = from_json(RiskRegister, data, source=source)
    _no_duplicates([i.id for i in reg.items], source, "items")
    return reg


def checklist_from_json(data: Any, *, source: str) -> SelfCheck:
    """Parse stored self-check evidence (untrusted JSON, e.g. from a bundle)."""
    check = from_json(SelfCheck, data, source=source)
    _no_duplicates([a.id for a in check.strategy], source, "strategy")
    _no_duplicates([r.id for r in check.adoption], source, "adoption")
    return check


def _no_duplicates(ids: list[str], source: str, where: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(ids):
        if value in seen:
            raise InputError(f"invalid document in {source}: field '{where}[{i}].id' repeats "
                             f"'{value}'", hint="each item may appear once")
        seen.add(value)




