"""What views show of an ML-BOM: its models (with model card), datasets and libraries.

The document comes from an untrusted bundle: every value is type-checked, lists are bounded,
and nothing but these facts is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aitrace.evidence.licenses import component_licenses
from aitrace.record.jsonio import as_list as _list
from aitrace.record.jsonio import as_map as _map
from aitrace.record.jsonio import brief as _short

MAX_ROWS = 500  # at most this many libraries per document in a view


def sbom_facts(doc: Any) -> dict[str, Any]:
    """The facts of a CycloneDX ML-BOM: models (with model card), datasets, libraries.

    Data components that are configuration, not datasets, are listed apart
    (``configurations``), so no view calls a config file a dataset.
    """
    if not isinstance(doc, Mapping):
        return {"error": "not a CycloneDX document"}
    comps = _list(doc.get("components"))
    top = _map(_map(doc.get("metadata")).get("component"))
    models: list[dict[str, Any]] = []
    datasets: list[dict[str, Any]] = []
    configurations: list[dict[str, Any]] = []
    libraries: list[dict[str, Any]] = []
    for c in ([top] if top else []) + comps:
        if not isinstance(c, Mapping):
            continue
        entry: dict[str, Any] = {
            "name": str(c.get("name") or "?"), "version": str(c.get("version") or ""),
            "licenses": component_licenses(c), "type": str(c.get("type") or "")}
        sha = next((h.get("content") for h in _list(c.get("hashes")) if isinstance(h, Mapping)
                    and str(h.get("alg", "")).upper() in ("SHA-256", "SHA256")), None)
        entry["sha256"] = sha if isinstance(sha, str) else None
        kind = entry["type"]
        if kind == "machine-learning-model":
            entry["model_card"] = _model_card(_map(c.get("modelCard")))
            if not any(m["name"] == entry["name"] and m["version"] == entry["version"]
                       for m in models):
                models.append(entry)
        elif kind == "data":
            # CycloneDX data components are datasets or configuration (aitrace writes both);
            # only datasets are data in a view's sense.
            inner = [d for d in _list(c.get("data")) if isinstance(d, Mapping)]
            data_type = str(inner[0].get("type") or "") if inner else "dataset"
            if data_type == "dataset":
                datasets.append(entry)
            else:
                configurations.append({**entry, "data_type": data_type})
        elif kind in ("library", "framework") and len(libraries) < MAX_ROWS:
            libraries.append(entry)
    return {"spec_version": str(doc.get("specVersion") or ""), "models": models,
            "datasets": datasets, "configurations": configurations, "libraries": libraries,
            "library_count": sum(1 for c in comps if isinstance(c, Mapping)
                                 and c.get("type") in ("library", "framework"))}


def _model_card(card: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    params = card.get("modelParameters")
    if isinstance(params, Mapping):
        for key in ("task", "architectureFamily", "modelArchitecture"):
            if isinstance(params.get(key), str):
                out[key] = params[key]
        approach = params.get("approach")
        if isinstance(approach, Mapping) and isinstance(approach.get("type"), str):
            out["approach"] = approach["type"]
    qa = card.get("quantitativeAnalysis")
    if isinstance(qa, Mapping) and isinstance(qa.get("performanceMetrics"), list):
        out["metrics"] = [
            {"type": str(m.get("type", "")), "value": str(m.get("value", "")),
             "slice": str(m.get("slice", "") or "")}
            for m in qa["performanceMetrics"][:50] if isinstance(m, Mapping)]
    cons = card.get("considerations")
    if isinstance(cons, Mapping):
        for key in ("users", "useCases", "technicalLimitations", "ethicalConsiderations"):
            val = cons.get(key)
            if isinstance(val, list) and val:
                out[key] = [_short(v if isinstance(v, str) else (v.get("name") if isinstance(
                    v, Mapping) else v), 160) for v in val[:10]]
    return out


