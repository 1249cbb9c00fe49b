"""Assembling a CycloneDX 1.6 document with cyclonedx-python-lib, completed as JSON.

The library models components, hashes, licences, purls, dependencies and metadata; what it does
not model yet (``modelCard``, component ``data``, ``formulation``) is injected into its JSON.
The serial number is derived from the document's canonical digest, so the same parts always
give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aitrace._version import __version__
from aitrace.errors import InputError
from aitrace.evidence.sbom import _mlbom as mb
from aitrace.evidence.sbom.validate import check_bom, component_error
from aitrace.hooks.redact import scrub
from aitrace.record.jsonio import document_digest, pretty_bytes
from aitrace.record.models import Artifact
from aitrace.record.refs import is_uri

HASH_NOTE = ("SHA-256 of a model or data component covers the file's bytes (a directory: the "
             "aitrace.dir/v1 manifest digest). Library components carry no hash: installed "
             "distributions keep no wheel hash.")
_DIR_NOTE = "aitrace.dir/v1 directory manifest digest"


if TYPE_CHECKING:
    pass


@dataclass
class ModelPart:
    """A model component to be: its artifact, bom-ref, model card and properties."""

    artifact: Artifact
    ref: str
    card: dict[str, Any]
    properties: dict[str, str]


@dataclass
class DataPart:
    """A data (or base-model) component to be, with where its licence came from."""

    artifact: Artifact
    ref: str
    kind: str
    stage: str
    license: str | None
    license_source: str | None
    config: Mapping[str, Any]
    role: str = "input"


@dataclass
class BomParts:
    """Everything one ML-BOM is assembled from."""

    timestamp: datetime
    models: list[ModelPart]
    data: list[DataPart] = field(default_factory=list)
    base_models: list[DataPart] = field(default_factory=list)
    libraries: list[dict[str, Any]] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    formulation: dict[str, Any] | None = None
    record_name: str | None = None




# =========================================================================== assembly

@cache
def _license_factory() -> Any:
    from cyclonedx.contrib.license.factories import LicenseFactory

    return LicenseFactory()


def _licenses(text: str | None) -> list[Any]:
    if not text or not text.strip():
        return []
    return [_license_factory().make_from_string(text.strip()[:200])]


def libraries_from_env(env_doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Library components from environment evidence (one per distribution name)."""
    out = []
    seen: set[str] = set()
    for d in env_doc.get("distributions") or []:
        if not isinstance(d, Mapping) or not d.get("name") or not d.get("version"):
            continue
        key = _normalise(str(d["name"]))
        if key in seen:
            continue
        seen.add(key)
        out.append(dict(d))
    return out


def _normalise(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def display_path(p: Path) -> str:
    """How a model file given on the command line is named in a BOM (relative when possible)."""
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.resolve().as_posix()


def _props(mapping: Mapping[str, str]) -> list[Any]:
    from cyclonedx.model import Property

    return [Property(name=k, value=str(v)) for k, v in sorted(mapping.items())]


def _hashes(sha256: str | None) -> list[Any]:
    from cyclonedx.model import HashAlgorithm, HashType

    return [HashType(alg=HashAlgorithm.SHA_256, content=sha256)] if sha256 else []


def _artifact_props(a: Artifact, extra: Mapping[str, str]) -> dict[str, str]:
    props = {"aitrace:path": a.path, **extra}
    if a.sha256:
        props["aitrace:sha256-covers"] = _DIR_NOTE if a.type == "directory" else "file bytes"
    if a.dirHash:  # CycloneDX has no directory hash: the in-toto dirHash is a property
        props["aitrace:dirHash"] = a.dirHash
    if a.size is not None:
        props["aitrace:size"] = str(a.size)
    if a.origin:
        props["aitrace:origin"] = scrub(a.origin)
    return props


def _external_refs(a: Artifact) -> list[Any]:
    from cyclonedx.model import ExternalReference, ExternalReferenceType, XsUri

    urls = []
    if a.type == "uri":
        urls.append(a.path)
    origin = scrub(a.origin) if a.origin else None
    if origin and is_uri(origin) and origin not in urls:
        urls.append(origin)
    return [ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(u),
                              comment="source", hashes=_hashes(a.sha256)) for u in urls]


def assemble(parts: BomParts) -> dict[str, Any]:
    """Build with cyclonedx-python-lib, add what it cannot model, validate, set the serial."""
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    model_comps = []
    for m in parts.models:
        props = _artifact_props(m.artifact, m.properties)
        if parts.record_name:
            props["aitrace:record-name"] = parts.record_name
        model_comps.append(Component(
            type=ComponentType.MACHINE_LEARNING_MODEL, name=Path(m.artifact.path).name,
            bom_ref=m.ref, hashes=_hashes(m.artifact.sha256),
            licenses=_licenses(m.artifact.license), properties=_props(props),
            description=f"model {m.artifact.path}"))
    data_comps = [Component(
        type=ComponentType.DATA, name=d.artifact.path, bom_ref=d.ref,
        hashes=_hashes(d.artifact.sha256), licenses=_licenses(d.license),
        external_references=_external_refs(d.artifact),
        properties=_props(_artifact_props(d.artifact, {
            "aitrace:stage": d.stage, "aitrace:direction": d.role,
            **({"aitrace:license-source": d.license_source} if d.license_source else {})})),
    ) for d in parts.data]
    base_comps = [Component(
        type=ComponentType.MACHINE_LEARNING_MODEL, name=b.artifact.path, bom_ref=b.ref,
        hashes=_hashes(b.artifact.sha256), licenses=_licenses(b.license),
        external_references=_external_refs(b.artifact),
        properties=_props(_artifact_props(b.artifact, {"aitrace:role": "base-model",
                                                      "aitrace:stage": b.stage})),
        description="base model") for b in parts.base_models]
    lib_comps = []
    for d in parts.libraries:
        purl = PackageURL(type="pypi", name=_normalise(str(d["name"])), version=str(d["version"]))
        ref = purl.to_string()
        lib_comps.append(Component(
            type=ComponentType.LIBRARY, name=str(d["name"]), version=str(d["version"]),
            bom_ref=ref, purl=purl, licenses=_licenses(d.get("license")),
            description=str(d["summary"])[:300] if d.get("summary") else None))
    tool = Component(type=ComponentType.APPLICATION, name="aitrace", version=__version__,
                     bom_ref="tool:aitrace", description="AI production records")
    top = model_comps[0] if model_comps else None
    others = model_comps[1:]
    bom = Bom(
        components=[*others, *base_comps, *data_comps, *lib_comps],
        metadata=BomMetaData(component=top, tools=ToolRepository(components=[tool]),
                             timestamp=parts.timestamp,
                             properties=_props({**parts.properties,
                                                "aitrace:hashes": HASH_NOTE})))
    for mc in model_comps:
        bom.register_dependency(mc, [*lib_comps, *data_comps, *base_comps])
    text = JsonV1Dot6(bom).output_as_string()
    doc: dict[str, Any] = json.loads(text)
    _inject(doc, parts)
    if parts.formulation is not None:
        doc["formulation"] = [parts.formulation]
    doc.pop("serialNumber", None)
    doc["serialNumber"] = _serial(doc)
    check_bom(doc)
    return doc


def _inject(doc: dict[str, Any], parts: BomParts) -> None:
    """Add ``modelCard`` and ``data`` (which the library does not model) by bom-ref."""
    by_ref: dict[str, dict[str, Any]] = {c["bom-ref"]: c for c in doc.get("components") or []}
    top = (doc.get("metadata") or {}).get("component")
    if top:
        by_ref[top["bom-ref"]] = top
    for m in parts.models:
        if m.card:
            by_ref[m.ref]["modelCard"] = m.card
    for d in parts.data:
        entry: dict[str, Any] = {"type": d.kind, "name": d.artifact.path,
                                 "contents": {"url": mb.iri(d.artifact.path)},
                                 "description": f"{d.stage} {d.role}"}
        cfg = d.config
        if cfg.get("classification"):
            entry["classification"] = str(cfg["classification"])
        if cfg.get("description"):
            entry["description"] = str(cfg["description"])
        if cfg.get("sensitiveData"):
            sens = cfg["sensitiveData"]
            entry["sensitiveData"] = [str(x) for x in (sens if isinstance(sens, list) else [sens])]
        gov = {k: mb.parties(cfg[k]) for k in ("owners", "custodians", "stewards") if cfg.get(k)}
        if gov:
            entry["governance"] = gov
        err = component_error({"type": "data", "name": "x", "data": [entry]})
        if err:
            raise InputError(f"aitrace.yaml: datasets.{d.artifact.path} is not valid CycloneDX "
                             f"data {err}", hint="owners/custodians/stewards are names, e-mail "
                             "addresses or {organization: {name: ...}} objects")
        by_ref[d.ref]["data"] = [entry]


def _serial(doc: Mapping[str, Any]) -> str:
    """``urn:uuid:`` from the SHA-256 of the canonical document (RFC 9562 version 8 layout)."""
    raw = bytearray(bytes.fromhex(document_digest(doc))[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"



def write_bom(doc: Mapping[str, Any]) -> bytes:
    """The BOM's bytes as ``aitrace sbom -o`` writes them (stable pretty JSON, for people)."""
    return pretty_bytes(doc)


