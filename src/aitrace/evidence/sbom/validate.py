"""CycloneDX 1.6 schema validation of ML-BOMs and model-card fragments (errors as values).

One validator for every BOM aitrace writes (before it is written) and reads (in a bundle), and
for the model-card fragments plug-ins return. It is CycloneDX's own 1.6 schema as shipped in
cyclonedx-python-lib, compiled once per process with jsonschema-rs; the schemas it ``$ref``s
(SPDX licence ids, JSF signatures, cryptography definitions) are the library's bundled copies,
so validation never fetches anything. Formats (``date-time``, ``iri-reference``, ``email``) are
checked — the pure-Python validator skips them unless extra packages are installed, and then
costs seconds per BOM.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from aitrace.errors import MissingDependencyError
from aitrace.record.validation import compiled_validator, first_error

SPEC_VERSION = "1.6"
CYCLONEDX_MEDIA_TYPE = "application/vnd.cyclonedx+json"

_SCHEMA_BASE = "http://cyclonedx.org/schema/"
_BOM_SCHEMA = "bom-1.6.SNAPSHOT.schema.json"
_REFERENCED = ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json",
               "cryptography-defs.SNAPSHOT.schema.json")


def _bundled(name: str) -> Any:
    """One schema file bundled with cyclonedx-python-lib (``cyclonedx/schema/_res``)."""
    from importlib.resources import files

    try:
        return json.loads((files("cyclonedx.schema") / "_res" / name).read_text("utf-8"))
    except (ImportError, OSError, ValueError) as exc:
        raise MissingDependencyError(
            f"the CycloneDX schema {name} could not be read from cyclonedx-python-lib ({exc})",
            hint="reinstall aitrace's dependencies: pip install --force-reinstall "
                 "'cyclonedx-python-lib>=11.12,<12'") from None


@cache
def _validator() -> Any:
    return compiled_validator(_bundled(_BOM_SCHEMA),
                              [(_SCHEMA_BASE + n, _bundled(n)) for n in _REFERENCED])


def bom_text_error(text: str) -> str | None:
    """The first CycloneDX 1.6 schema error of a JSON text (with its JSON path), or None."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return f"at $: not JSON ({exc})"
    return validate_bom(doc)


def validate_bom(doc: Mapping[str, Any]) -> str | None:
    """The first CycloneDX 1.6 schema violation of ``doc`` (with its JSON path), or ``None``."""
    try:
        return first_error(_validator(), doc if isinstance(doc, dict) else dict(doc))
    except (TypeError, ValueError):
        # Not plain JSON values (a plug-in's fragment with non-string keys, say): check the
        # JSON it would be written as.
        try:
            plain = json.loads(json.dumps(doc))
        except (TypeError, ValueError) as exc:
            return f"at $: not JSON ({exc})"
        return first_error(_validator(), plain)


def model_card_error(fragment: Mapping[str, Any]) -> str | None:
    """Why a (partial) ``modelCard`` is not valid CycloneDX 1.6, or ``None`` when it is."""
    return component_error({"type": "machine-learning-model", "name": "x",
                            "modelCard": dict(fragment)})


def component_error(component: Mapping[str, Any]) -> str | None:
    """Why one component is not valid CycloneDX 1.6 (path relative to it), or ``None``."""
    doc = {"bomFormat": "CycloneDX", "specVersion": SPEC_VERSION, "version": 1,
           "components": [dict(component)]}
    err = validate_bom(doc)
    return err.replace("at components/0/", "at ") if err else None


def check_bom(doc: Mapping[str, Any]) -> None:
    """Refuse to hand out an invalid BOM: that would be a bug in aitrace, not the user's fault."""
    err = validate_bom(doc)
    if err is not None:
        raise RuntimeError(f"internal error: the generated ML-BOM is not valid CycloneDX "
                           f"{SPEC_VERSION} ({err}); please report it")
