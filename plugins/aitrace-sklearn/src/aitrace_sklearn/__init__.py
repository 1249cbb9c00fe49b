"""aitrace plug-in for scikit-learn: a fitted estimator's class, hyper-parameters and features.

The description is taken from the live estimator object in the user's process (the only safe
place: a pickled model file is never loaded to describe it). It becomes part of the CycloneDX
``modelCard`` (``modelParameters``: approach, task, architectureFamily, modelArchitecture,
inputs/outputs) and ``sklearn:*`` properties.

Use ``record(step, estimator, path=...)`` inside an ``aitrace.stage(...)`` block, or
``aitrace.plugins.describe(step, estimator, path)``, which asks every installed plug-in.
scikit-learn is imported only when an object may be an estimator, so discovering this plug-in
costs nothing.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aitrace.plugins import DescribeContext, ModelDescriber

if TYPE_CHECKING:
    from aitrace.plugins import StepHandle
    from aitrace.record.models import EvidenceRef

__version__ = "0.1.0"

MAX_FEATURE_NAMES = 200
MAX_PARAM_CHARS = 4000


def _json_safe(value: Any) -> Any:
    """Hyper-parameter values as JSON: estimators by class name, other objects by repr."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if hasattr(value, "get_params"):
        return type(value).__name__
    if hasattr(value, "item") and hasattr(value, "dtype"):  # numpy scalars
        return _json_safe(value.item())
    return repr(value)[:200]


def _final(est: Any) -> Any:
    steps = getattr(est, "steps", None)
    if isinstance(steps, list) and steps:
        return _final(steps[-1][1])
    return est


def _architecture(est: Any) -> str:
    steps = getattr(est, "steps", None)
    if isinstance(steps, list) and steps:
        return type(est).__name__ + "(" + " -> ".join(_architecture(s) for _, s in steps) + ")"
    return type(est).__name__


def _task(est: Any) -> tuple[str | None, str | None]:
    """(task, learning approach) of the final estimator."""
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(est):
        return "classification", "supervised"
    if is_regressor(est):
        return "regression", "supervised"
    kind = getattr(est, "_estimator_type", None)
    try:  # scikit-learn >= 1.6 keeps the type in tags
        from sklearn.utils import get_tags

        kind = get_tags(est).estimator_type or kind
    except (ImportError, AttributeError, TypeError, ValueError):
        pass
    if kind == "clusterer":
        return "clustering", "unsupervised"
    if kind == "outlier_detector":
        return "outlier-detection", "unsupervised"
    return None, None


class SklearnDescriber(ModelDescriber):
    """The ``aitrace.plugins`` implementation for fitted scikit-learn estimators."""

    name = "sklearn"
    version = __version__

    def describe_model(self, subject: object, context: DescribeContext) -> dict[str, Any] | None:
        """Describe a live estimator; ``None`` for paths and non-estimators (never unpickles)."""
        if "sklearn" not in sys.modules:  # no estimator can exist without scikit-learn loaded
            return None
        from sklearn.base import BaseEstimator

        if not isinstance(subject, BaseEstimator):
            return None
        import sklearn

        final = _final(subject)
        task, approach = _task(final)
        family = type(final).__module__.split(".")
        mp: dict[str, Any] = {"modelArchitecture": _architecture(subject)}
        if len(family) > 1 and family[0] == "sklearn":
            mp["architectureFamily"] = family[1].lstrip("_").replace("_", " ")
        if task:
            mp["task"] = task
        if approach:
            mp["approach"] = {"type": approach}
        props: dict[str, str] = {
            "sklearn:class": f"{type(subject).__module__}.{type(subject).__qualname__}",
            "sklearn:version": sklearn.__version__,
        }
        params = json.dumps(_json_safe(subject.get_params(deep=True)), sort_keys=True)
        props["sklearn:params"] = params if len(params) <= MAX_PARAM_CHARS else \
            params[:MAX_PARAM_CHARS] + "...(truncated)"
        n_in = getattr(subject, "n_features_in_", None)
        names = getattr(subject, "feature_names_in_", None)
        if n_in is not None:
            props["sklearn:n_features_in"] = str(int(n_in))
            fmt = f"tabular: {int(n_in)} numeric features"
            if names is not None:
                listed = [str(n) for n in list(names)[:MAX_FEATURE_NAMES]]
                props["sklearn:feature_names_in"] = json.dumps(listed)
                fmt += " (" + ", ".join(listed[:20]) + (", ..." if len(listed) > 20 else "") + ")"
            mp["inputs"] = [{"format": fmt}]
        classes = getattr(final, "classes_", None)
        if classes is not None:
            labels = [str(_json_safe(c)) for c in list(classes)[:MAX_FEATURE_NAMES]]
            props["sklearn:classes"] = json.dumps(labels)
            mp["outputs"] = [{"format": f"class label, one of {len(labels)}: "
                                        + ", ".join(labels[:20])}]
        elif task == "regression":
            mp["outputs"] = [{"format": "continuous value"}]
        props["sklearn:fitted"] = str(n_in is not None or classes is not None).lower()
        return {"modelCard": {"modelParameters": mp}, "properties": props}


PLUGIN = SklearnDescriber()


def record(step: StepHandle, estimator: object,
           path: str | os.PathLike[str] | None = None) -> EvidenceRef | None:
    """Attach the description of ``estimator`` (saved at ``path``) to the current step.

    Works whether or not the plug-in is installed as an entry point; plug-in trouble is a
    warning, never an exception.
    """
    from aitrace.plugins import describe

    return describe(step, estimator, path, plugins=[PLUGIN])


__all__ = ["PLUGIN", "SklearnDescriber", "__version__", "record"]
