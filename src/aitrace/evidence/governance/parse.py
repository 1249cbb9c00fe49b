"""Reading a risk register or self-check table from YAML, naming the file and field of errors."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aitrace.errors import InputError
from aitrace.evidence.governance.models import (
    CHECKLIST_FORMAT,
    READINESS_ASPECTS,
    READINESS_VALUES,
    RISK_FORMAT,
    RISK_IDS,
    RISK_RATINGS,
    ROUTE_IDS,
    STRATEGY_IDS,
    STRATEGY_STATUSES,
    AdoptionRoute,
    EvidenceLink,
    RiskItem,
    RiskRegister,
    SelfCheck,
    StrategyAspect,
)
from aitrace.record.refs import SHA256_HEX, is_uri
from aitrace.record.stages import ALL_STAGE_IDS, is_stage

if TYPE_CHECKING:
    pass


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
        if is_uri(text):
            return EvidenceLink(uri=text)
        if is_stage(text):  # a bare stage id: that stage's evidence as a whole
            return EvidenceLink(stage=text)
        kind, _, stage = text.partition("@")
        if stage and not is_stage(stage):
            raise doc.error(path, f"names unknown stage '{stage}'",
                            hint="write KIND@STAGE with one of: " + ", ".join(ALL_STAGE_IDS))
        if not kind:
            raise doc.error(path, "is empty")
        return EvidenceLink(kind=kind, stage=stage or None)
    m_ = doc.mapping(value, path)
    doc.known_keys(m_, path, ("kind", "stage", "sha256", "uri", "note"))
    kind_s = doc.text(m_.get("kind"), f"{path}.kind") or None
    stage_s = doc.text(m_.get("stage"), f"{path}.stage") or None
    if stage_s and not is_stage(stage_s):
        raise doc.error(f"{path}.stage", f"must be one of {', '.join(ALL_STAGE_IDS)} "
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




