"""Licences: the one place that reads them, from package metadata, ML-BOMs and expressions.

The source guide warns that of the open chat models it lists only one may be used commercially;
the record makes licences of data and base models visible. Everything that reads a licence —
the environment scan, the ML-BOM (writing and reading), the views and the licence policy — does
it through these functions, so they agree on what a licence says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_NON_COMMERCIAL = re.compile(r"(^|[-_ ])NC([-_ ]|$)|non[- ]?commercial|research[- ]only",
                             re.IGNORECASE)
# Model licences that restrict use (LLaMA's community licences, Gemma's terms): allowed for
# some uses only, so a human must look before a release.
_RESTRICTED = re.compile(r"llama|gemma", re.IGNORECASE)
_UNSPECIFIED = frozenset({"other", "unknown", "noassertion", "none", "proprietary", "custom"})
LICENSE_WORDS = frozenset({"AND", "OR", "WITH"})


def license_ids(expression: str) -> list[str]:
    """The licence ids of an SPDX expression (``(MIT OR Apache-2.0)`` -> both)."""
    tokens = re.split(r"[\s()]+", expression)
    return [t for t in tokens if t and t.upper() not in LICENSE_WORDS]


def flag_reason(license_text: str | None) -> str | None:
    """Why a data or base-model licence needs a human look, or ``None`` when it does not."""
    if license_text is None or not license_text.strip():
        return "unknown"
    text = license_text.strip()
    if text.lower() in _UNSPECIFIED or text.lower().startswith("licenseref-"):
        return "unspecified"
    if _NON_COMMERCIAL.search(text):
        return "non-commercial"
    if _RESTRICTED.search(text):
        return "restricted-use"
    return None


def component_licenses(component: Mapping[str, Any]) -> list[str]:
    """The licences a CycloneDX component names: ids, names and expressions, in order.

    The component may come from an untrusted bundle: entries of the wrong shape are skipped.
    """
    out: list[str] = []
    entries = component.get("licenses")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping):
            continue
        if isinstance(entry.get("expression"), str):
            out.append(entry["expression"])
        inner = entry.get("license")
        if isinstance(inner, Mapping):
            name = inner.get("id") or inner.get("name")
            if isinstance(name, str) and name:
                out.append(name)
    return out


def component_license_text(component: Mapping[str, Any]) -> str | None:
    """A component's licences as one expression (``A AND B``), or ``None`` when it names none."""
    texts = component_licenses(component)
    return " AND ".join(texts) if texts else None


def distribution_license(meta: Any) -> str | None:
    """The licence an installed distribution's metadata declares (expression, field, classifier).

    Core metadata 2.4's ``License-Expression`` wins; a short ``License`` field comes next (long
    ones are licence texts); else the first ``License ::`` trove classifier.
    """
    expr = meta.get("License-Expression")
    if expr:
        return str(expr).strip()
    lic = meta.get("License")
    if lic and len(lic) < 100 and "\n" not in lic:
        return str(lic).strip()
    classifiers = [c.split("::")[-1].strip() for c in (meta.get_all("Classifier") or [])
                   if c.startswith("License ::")]
    return classifiers[0] if classifiers else None
