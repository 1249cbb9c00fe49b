"""Parameters and metrics as the record keeps them, whichever hook received them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aitrace.errors import InputError
from aitrace.hooks.redact import redact_params


def clean_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Parameters as the record keeps them: strings, secrets removed.

    A parameter whose key names a secret (``api_key``, ``password``) keeps its key with the
    value ``[REDACTED]``; every other value is scrubbed of URL credentials, provider tokens and
    known secret values. The step's MLflow run gets these same values.
    """
    return redact_params({str(k): str(v) for k, v in params.items()})


def clean_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Metrics as the record keeps them: finite floats (JSON has no NaN or infinity)."""
    out: dict[str, float] = {}
    for k, v in metrics.items():
        try:
            value = float(v)
        except (TypeError, ValueError):
            raise InputError(f"metric '{k}' must be a number, got {v!r}") from None
        if not math.isfinite(value):
            raise InputError(f"metric '{k}' is {value}; JSON cannot hold NaN or infinity",
                             hint="log a finite number or leave the metric out")
        out[str(k)] = value
    return out


def flatten_numbers(doc: Any, prefix: str = "") -> dict[str, float]:
    """The numbers of a nested mapping, keys joined with ``.`` (``{"a": {"b": 1}}`` → ``a.b``).

    Booleans, strings, lists and non-finite numbers are left out: they are not metrics.
    """
    out: dict[str, float] = {}
    if not isinstance(doc, Mapping):
        return out
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_numbers(value, name + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and \
                math.isfinite(float(value)):
            out[name] = float(value)
    return out


def read_metrics_file(path: Path) -> dict[str, float]:
    """Metrics from a JSON or YAML file the command wrote (``aitrace run --metrics FILE``)."""
    import json

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"metrics file {path}: cannot read it ({exc})") from None
    import yaml

    try:
        doc = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InputError(f"metrics file {path} is not valid JSON or YAML "
                         f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})",
                         hint='write an object of numbers, e.g. {"test_mae": 1.2}') from None
    if not isinstance(doc, Mapping):
        raise InputError(f"metrics file {path} holds no mapping of metrics",
                         hint="write an object of numbers, e.g. {\"test_mae\": 1.2}")
    return flatten_numbers(doc)


def parse_assignment(text: str, *, option: str) -> tuple[str, str]:
    """``KEY=VALUE`` of ``--param``/``--metric``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"{option} {text!r} is not KEY=VALUE",
                         hint=f"write e.g. {option} test_mae=1.25")
    return key.strip(), value
