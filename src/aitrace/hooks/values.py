"""Parameters and metrics as the record keeps them, whichever hook received them."""

from __future__ import annotations

import math
from collections.abc import Mapping
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
