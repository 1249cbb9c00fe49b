"""CycloneDX 1.6 schema validation of ML-BOMs and model-card fragments (errors as values).

One validator for every BOM aitrace writes (before it is written) and reads (in a bundle), and
for the model-card fragments plug-ins return; cyclonedx-python-lib's strict JSON validator is
built once per process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

SPEC_VERSION = "1.6"
CYCLONEDX_MEDIA_TYPE = "application/vnd.cyclonedx+json"


@cache
def _validator() -> Any:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6)


def bom_text_error(text: str) -> str | None:
    """The first CycloneDX 1.6 strict-schema error of a JSON text (with its JSON path), or None."""
    err = _validator().validate_str(text)
    if err is None:
        return None
    inner = getattr(err, "data", None)
    path = "/".join(str(p) for p in getattr(inner, "absolute_path", ())) or "$"
    return f"at {path}: {getattr(inner, 'message', str(err))}"


def validate_bom(doc: Mapping[str, Any]) -> str | None:
    """The first CycloneDX 1.6 schema violation of ``doc`` (with its JSON path), or ``None``."""
    return bom_text_error(json.dumps(doc))


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
