"""Governance evidence: the risk register and the self-check table (表1) of the source guide.

The guide's chapter 3 names seven risk items every generative-AI project must weigh (fairness,
privacy, security, intellectual property, explainability, accuracy & reliability, organisational
impact incl. energy/ESG); its table 1 asks for a self-check of six strategy aspects and of the
readiness of four adoption routes. Here each becomes a typed, schema'd JSON document stored as
evidence on a step of the record (kinds ``EVIDENCE_RISK`` and ``EVIDENCE_CHECKLIST``), so a
reviewer sees — signed, in the bundle — what the team assessed and what it left unassessed.

Teams write them as YAML (``template_yaml`` prints a commented template) or answer prompts; the
parsers here turn either into the models and name the file and field of every mistake.
"""

from __future__ import annotations

import datetime
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from aitrace.errors import InputError
from aitrace.record._model import field, from_json, json_schema, model, to_json
from aitrace.record.models import SHA256_HEX
from aitrace.record.stages import EVIDENCE_CHECKLIST, EVIDENCE_RISK, STAGE_IDS, is_stage

if TYPE_CHECKING:
    from aitrace.record.models import EvidenceRef, Step
    from aitrace.store.workspace import Workspace

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


# --------------------------------------------------------------------------- parsing YAML


class _Doc:
    """Field-path aware access to one user document, for error messages naming file + field."""

    def __init__(self, source: str, kind: str) -> None:
        self.source = source
        self.kind = kind

    def error(self, path: str, what: str, hint: str | None = None) -> InputError:
        return InputError(f"{self.source}: field '{path}' {what}",
                          hint=hint or f"see `aitrace assess {self.kind} --template` for the "
                                       "format")

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(path, f"must be a mapping (got {type(value).__name__})")
        for key in value:
            if not isinstance(key, str):
                raise self.error(f"{path}.{key}", "has a key that is not text")
        return value

    def text(self, value: Any, path: str) -> str:
        if value is None:
            return ""
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()  # YAML reads an unquoted 2026-11-28 as a date
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.error(path, f"must be text (got {type(value).__name__})")
        return str(value).strip()

    def choice(self, value: Any, path: str, allowed: tuple[str, ...], default: str) -> str:
        if value is None:
            return default
        if isinstance(value, str):
            norm = value.strip().lower().replace(" ", "_").replace("-", "_")
            if norm in allowed:
                return norm
        raise self.error(path, f"must be one of {', '.join(allowed)} (got {value!r})")

    def known_keys(self, value: Mapping[str, Any], path: str, allowed: tuple[str, ...]) -> None:
        for key in value:
            if key not in allowed:
                where = f"{path}.{key}" if path else key
                raise self.error(where, "is not a known field",
                                 hint=f"known fields here: {', '.join(allowed)}")


def _load_yaml(path: Path) -> Any:
    from aitrace.store.config import read_yaml

    return read_yaml(path, missing_hint="create it from `aitrace assess ... --template`")


_SHA_LINK = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")


def _link(doc: _Doc, value: Any, path: str) -> EvidenceLink:
    if isinstance(value, str):
        text = value.strip()
        m = _SHA_LINK.match(text)
        if m:
            return EvidenceLink(sha256=m.group(1))
        if "://" in text:
            return EvidenceLink(uri=text)
        if is_stage(text):  # a bare stage id: that stage's evidence as a whole
            return EvidenceLink(stage=text)
        kind, _, stage = text.partition("@")
        if stage and not is_stage(stage):
            raise doc.error(path, f"names unknown stage '{stage}'",
                            hint="write KIND@STAGE with one of: " + ", ".join(STAGE_IDS))
        if not kind:
            raise doc.error(path, "is empty")
        return EvidenceLink(kind=kind, stage=stage or None)
    m_ = doc.mapping(value, path)
    doc.known_keys(m_, path, ("kind", "stage", "sha256", "uri", "note"))
    kind_s = doc.text(m_.get("kind"), f"{path}.kind") or None
    stage_s = doc.text(m_.get("stage"), f"{path}.stage") or None
    if stage_s and not is_stage(stage_s):
        raise doc.error(f"{path}.stage", f"must be one of {', '.join(STAGE_IDS)} "
                        f"(got {stage_s!r})")
    sha = doc.text(m_.get("sha256"), f"{path}.sha256") or None
    if sha:
        sha = sha.removeprefix("sha256:")
        if not re.fullmatch(SHA256_HEX, sha):
            raise doc.error(f"{path}.sha256", "must be 64 lowercase hex characters")
    uri = doc.text(m_.get("uri"), f"{path}.uri") or None
    if not (kind_s or sha or uri):
        raise doc.error(path, "needs at least one of kind, sha256 or uri")
    return EvidenceLink(kind=kind_s, stage=stage_s, sha256=sha, uri=uri,
                        note=doc.text(m_.get("note"), f"{path}.note") or None)


def _links(doc: _Doc, value: Any, path: str) -> tuple[EvidenceLink, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, Mapping)):
        value = [value]
    if not isinstance(value, list):
        raise doc.error(path, "must be a list of evidence links")
    return tuple(_link(doc, v, f"{path}[{i}]") for i, v in enumerate(value))


def _header(doc: _Doc, data: Mapping[str, Any], fmt: str) -> None:
    found = data.get("format")
    if found is not None and found != fmt:
        raise doc.error("format", f"must be {fmt!r} (got {found!r})",
                        hint="this file is a different kind of document")


def parse_risk_register(data: Any, *, source: str) -> RiskRegister:
    """Turn a parsed YAML document into a ``RiskRegister``.

    Items left out of the file are recorded as ``not_assessed`` (the honest default), so the
    register always lists all seven.

    Raises:
        InputError: naming ``source`` and the field at fault.
    """
    doc = _Doc(source, "risk")
    top = doc.mapping(data, "$")
    doc.known_keys(top, "", ("format", "assessed_by", "assessed_at", "scope", "risks"))
    _header(doc, top, RISK_FORMAT)
    risks = doc.mapping(top.get("risks"), "risks")
    doc.known_keys(risks, "risks", RISK_IDS)
    items = []
    for rid in RISK_IDS:
        path = f"risks.{rid}"
        raw = risks.get(rid)
        if isinstance(raw, str):  # shorthand: `privacy: high`
            raw = {"rating": raw}
        entry = doc.mapping(raw, path)
        doc.known_keys(entry, path, ("rating", "description", "mitigation", "owner",
                                     "evidence"))
        rating = doc.choice(entry.get("rating"), f"{path}.rating", RISK_RATINGS,
                            "not_assessed")
        items.append(RiskItem(
            id=rid, rating=rating,  # type: ignore[arg-type]
            description=doc.text(entry.get("description"), f"{path}.description"),
            mitigation=doc.text(entry.get("mitigation"), f"{path}.mitigation"),
            owner=doc.text(entry.get("owner"), f"{path}.owner"),
            evidence=_links(doc, entry.get("evidence"), f"{path}.evidence")))
    return RiskRegister(
        format=RISK_FORMAT, items=tuple(items),
        assessed_by=doc.text(top.get("assessed_by"), "assessed_by") or None,
        assessed_at=doc.text(top.get("assessed_at"), "assessed_at") or None,
        scope=doc.text(top.get("scope"), "scope") or None)


def parse_checklist(data: Any, *, source: str) -> SelfCheck:
    """Turn a parsed YAML document into a ``SelfCheck`` (aspects left out: ``not_assessed``).

    Raises:
        InputError: naming ``source`` and the field at fault.
    """
    doc = _Doc(source, "checklist")
    top = doc.mapping(data, "$")
    doc.known_keys(top, "", ("format", "assessed_by", "assessed_at", "strategy", "adoption"))
    _header(doc, top, CHECKLIST_FORMAT)
    strategy_in = doc.mapping(top.get("strategy"), "strategy")
    doc.known_keys(strategy_in, "strategy", STRATEGY_IDS)
    strategy = []
    for sid in STRATEGY_IDS:
        path = f"strategy.{sid}"
        raw = strategy_in.get(sid)
        if isinstance(raw, str):
            raw = {"status": raw}
        entry = doc.mapping(raw, path)
        doc.known_keys(entry, path, ("status", "note"))
        status = doc.choice(entry.get("status"), f"{path}.status", STRATEGY_STATUSES,
                            "not_assessed")
        strategy.append(StrategyAspect(id=sid, status=status,  # type: ignore[arg-type]
                                       note=doc.text(entry.get("note"), f"{path}.note")))
    adoption_in = doc.mapping(top.get("adoption"), "adoption")
    doc.known_keys(adoption_in, "adoption", ROUTE_IDS)
    routes = []
    for rid in ROUTE_IDS:
        path = f"adoption.{rid}"
        entry = doc.mapping(adoption_in.get(rid), path)
        doc.known_keys(entry, path, ("chosen", *READINESS_ASPECTS, "note"))
        chosen = entry.get("chosen", False)
        if not isinstance(chosen, bool):
            raise doc.error(f"{path}.chosen", f"must be true or false (got {chosen!r})")
        values = {a: doc.choice(entry.get(a), f"{path}.{a}", READINESS_VALUES, "not_assessed")
                  for a in READINESS_ASPECTS}
        routes.append(AdoptionRoute(id=rid, chosen=chosen,
                                    note=doc.text(entry.get("note"), f"{path}.note"),
                                    **values))  # type: ignore[arg-type]
    return SelfCheck(
        format=CHECKLIST_FORMAT, strategy=tuple(strategy), adoption=tuple(routes),
        assessed_by=doc.text(top.get("assessed_by"), "assessed_by") or None,
        assessed_at=doc.text(top.get("assessed_at"), "assessed_at") or None)


def load_risk_register(path: Path) -> RiskRegister:
    """Read and parse a risk-register YAML file."""
    return parse_risk_register(_load_yaml(path), source=str(path))


def load_checklist(path: Path) -> SelfCheck:
    """Read and parse a self-check YAML file."""
    return parse_checklist(_load_yaml(path), source=str(path))


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


# --------------------------------------------------------------------------- recording


def record_governance(
    workspace: Workspace,
    stage: str,
    document: RiskRegister | SelfCheck,
    *,
    source_file: Path | None = None,
    description: str | None = None,
) -> tuple[Step, EvidenceRef]:
    """Record ``document`` as evidence on a new step of ``stage``.

    The YAML file it came from (if any) becomes the step's product, and the evidence is bound
    to those exact bytes, so a reader can tell the JSON evidence came from that file.

    Returns:
        The appended step and the evidence reference.

    Raises:
        InputError: an unknown stage.
    """
    from aitrace.hooks.tracker import stage as record_stage

    if not is_stage(stage):
        raise InputError(f"unknown stage '{stage}'", hint="use one of: " + ", ".join(STAGE_IDS))
    if isinstance(document, RiskRegister):
        kind, media, name, summary = (EVIDENCE_RISK, RISK_MEDIA_TYPE, "risk-register",
                                      risk_summary(document))
        what = "Risk register (7 risk items)"
    else:
        kind, media, name, summary = (EVIDENCE_CHECKLIST, CHECKLIST_MEDIA_TYPE, "self-check",
                                      checklist_summary(document))
        what = "Self-check table (表1)"
    ctx = record_stage(stage, workspace=workspace, mlflow=False, sbom=False,
                       description=description or what)
    with ctx as rec:
        if source_file is not None:
            rec.output(source_file, role="governance")
        ref = rec.attach(kind, to_json(document), media_type=media, name=name, summary=summary,
                         subject=source_file)
    assert ctx.step is not None  # noqa: S101 - set by a successful __exit__
    return ctx.step, ref


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


__all__ = [
    "AdoptionRoute", "EvidenceLink", "RiskItem", "RiskRegister", "SelfCheck", "StrategyAspect",
    "checklist_schema", "checklist_template", "load_checklist", "load_risk_register",
    "parse_checklist", "parse_risk_register", "record_governance", "risk_register_schema",
    "risk_template",
]
