"""Licences: the one place that reads them, from package metadata, ML-BOMs and expressions.

The source guide warns that of the open chat models it lists only one may be used commercially;
the record makes licences of data and base models visible. Everything that reads a licence —
the environment scan, the ML-BOM (writing and reading), the views and the licence policy — does
it through these functions, so they agree on what a licence says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_NON_COMMERCIAL = re.compile(r"(^|[-_ ])NC([-_ ]|$)|non[- ]?commercial|research[- ]only",
                             re.IGNORECASE)
# Model licences that restrict use (LLaMA's community licences, Gemma's terms): allowed for
# some uses only, so a human must look before a release.
_RESTRICTED = re.compile(r"llama|gemma", re.IGNORECASE)
_UNSPECIFIED = frozenset({"other", "unknown", "noassertion", "none", "proprietary", "custom"})
LICENSE_WORDS = frozenset({"AND", "OR", "WITH"})


# How people write Creative Commons licences on their own pages, as SPDX spells the parts.
_CC_WORDS = ((r"\bcreative\s+commons\b", "CC"), (r"\battribution\b", "BY"),
             (r"\bnon-?commercial\b", "NC"), (r"\bshare-?alike\b", "SA"),
             (r"\bno-?deriv(?:ative)?s\b", "ND"), (r"\binternational\b", ""),
             (r"\bpublic\s+license\b", ""), (r"\blicen[cs]e\b", ""), (r"\bversion\b", ""))


@dataclass(frozen=True)
class LicenseReading:
    """A licence as written, and as an SPDX expression when it is one (or plainly spells one).

    Attributes:
        given: the text as recorded.
        spdx: the normalised SPDX expression (``None``: the text is not one).
    """

    given: str
    spdx: str | None

    @property
    def value(self) -> str:
        """What to record and compare: the SPDX form when known, else the text as given."""
        return self.spdx or self.given

    @property
    def problem(self) -> str | None:
        """Why the text is not an SPDX licence, or ``None``."""
        if self.spdx is not None:
            return None
        return (f"licence {self.given!r} is not an SPDX licence id or expression, so policies "
                "cannot judge it reliably (e.g. CC-BY-4.0, MIT, Apache-2.0 OR MIT; "
                "https://spdx.org/licenses/)")


MAX_LICENSE_TEXT = 512  # longer values (from untrusted bundles) are not parsed


@cache
def _spdx_ids() -> frozenset[str]:
    """The SPDX ids ``license-expression`` knows, read from its index without importing it.

    Building its licensing object costs ~50 ms per process; a licence already written as an
    exact SPDX id (what records hold once recorded) needs none of it. ``LicenseRef-`` keys, old
    aliases and exceptions (valid only after ``WITH``) still go through the library.
    ``tests/evidence/test_licenses.py`` checks every id against the library's own reading.
    """
    import importlib.util
    import json

    spec = importlib.util.find_spec("license_expression")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        index = Path(root) / "data" / "scancode-licensedb-index.json"
        try:
            entries = json.loads(index.read_bytes())
        except (OSError, ValueError):
            continue
        return frozenset(str(e["spdx_license_key"]) for e in entries
                         if isinstance(e, dict) and isinstance(e.get("spdx_license_key"), str)
                         and not e["spdx_license_key"].startswith("LicenseRef-")
                         and not e.get("is_exception"))
    return frozenset()


def _spdx(text: str) -> str | None:
    if len(text) > MAX_LICENSE_TEXT:
        return None
    if text in _spdx_ids():
        return text
    from license_expression import get_spdx_licensing

    licensing = _licensing(get_spdx_licensing)
    try:
        result = licensing.validate(text)
    except Exception:  # noqa: BLE001 - license-expression 30.x raises on some bad characters
        return None
    return str(result.normalized_expression) if not result.errors else None


@cache
def _licensing(factory: Any) -> Any:
    return factory()


@cache
def read_license(text: str) -> LicenseReading:
    """Read a licence through ``license-expression``'s SPDX knowledge (ids, case, old aliases).

    Before that, a single licence written as people write it on licence pages is spelled the
    SPDX way: spaces become hyphens and Creative Commons' words become SPDX's parts, so
    ``CC BY-NC 4.0`` and ``Creative Commons Attribution-NonCommercial 4.0 International`` are
    ``CC-BY-NC-4.0``. Anything still not SPDX is kept as given (``spdx`` is ``None``).
    """
    given = text.strip()
    if not given:
        return LicenseReading(text, None)
    found = _spdx(given)
    if found is None and not re.search(r"\b(AND|OR|WITH)\b|[()]", given):
        words = given
        for pattern, replacement in _CC_WORDS:
            words = re.sub(pattern, replacement, words, flags=re.IGNORECASE)
        candidate = re.sub(r"[\s_,-]+", "-", words.strip(" -,")).strip("-")
        for option in (candidate, re.sub(r"-v?(\d)", r"-\1", candidate)):
            if option and (found := _spdx(option)) is not None:
                break
    return LicenseReading(given, found)


def license_ids(expression: str) -> list[str]:
    """The licence ids of an expression (``(MIT OR Apache-2.0)`` -> both), SPDX-spelt if known."""
    normal = read_license(expression).value
    tokens = re.split(r"[\s()]+", normal)
    return [t for t in tokens if t and t.upper() not in LICENSE_WORDS]


def flag_reason(license_text: str | None) -> str | None:
    """Why a data or base-model licence needs a human look, or ``None`` when it does not."""
    if license_text is None or not license_text.strip():
        return "unknown"
    text = read_license(license_text).value
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
