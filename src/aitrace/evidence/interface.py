"""The one interface every kind of evidence implements: ``EvidenceSource``.

A source knows one *kind* of evidence (``gx-validation``, ``cyclonedx-sbom``, …) end to end:

* **recording** — as a ``StepContributor`` (``aitrace.hooks.handle``): ``begin`` when a step
  starts (start slow work early), ``applies`` / ``contribute`` when it ends (what it adds:
  evidence documents, the environment summary, MLflow links, values). Sources whose evidence is
  added by explicit calls (a GX check, a risk register) contribute nothing automatically;
* **reading** — ``summary`` (the few values kept in the step's evidence reference), ``facts``
  (what views show; never raw rows or personal data), ``badge`` (the label a view prints);
* **checking** — ``validate(doc)`` returns the problem with a document, or ``None``: errors as
  values, never raised. A source with a ``check_id`` names the verification check its
  validation feeds (``evidence.sbom-schema``).

Built-in sources live beside this module; ``aitrace.evidence.registry`` maps kinds to them and
adds third-party sources published under the ``aitrace.plugins`` entry point group, which
implement this same class (``aitrace.plugins`` re-exports it). ``ModelDescriber`` is the kind of
source that describes model objects and files (e.g. the scikit-learn plug-in).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from aitrace.hooks.handle import Contribution, FinishingStep
from aitrace.record.stages import EVIDENCE_MODEL_DESCRIPTION

if TYPE_CHECKING:
    from aitrace.record.models import EvidenceRef

Badge = tuple[str, str]
"""(text, tone) of a view's badge; tone is ``ok``, ``bad``, ``warn`` or ``info``."""


class EvidenceSource(ABC):  # noqa: B024 - every method has a sensible default
    """A kind of evidence: how it is recorded, read and checked (see the module docstring).

    Instances are cheap; the registry makes a fresh one for every step it records, so state
    kept between ``begin`` and ``contribute`` belongs to that one step.
    """

    kind: ClassVar[str]
    media_type: ClassVar[str]
    title: ClassVar[str] = ""
    check_id: ClassVar[str | None] = None
    check_title: ClassVar[str] = ""

    # ------------------------------------------------------------------ recording

    def begin(self, step: FinishingStep) -> Mapping[str, str]:
        """The step starts: begin slow work; return variables the step's code should see."""
        return {}

    def applies(self, step: FinishingStep) -> bool:
        """Whether this source adds evidence to ``step`` as it ends (default: never)."""
        return False

    def contribute(self, step: FinishingStep) -> Contribution:
        """What this source adds to ``step`` as it ends (called only when ``applies``)."""
        return Contribution()

    def warning(self, stage: str, error: str) -> str:
        """The warning shown when this source could not add its evidence (the step is kept)."""
        return f"{self.kind} evidence not added to the {stage} step ({error})"

    # ------------------------------------------------------------------ reading

    def summary(self, doc: Any) -> Mapping[str, Any]:
        """The few values a step's evidence reference keeps about ``doc``."""
        return {}

    def facts(self, doc: Any) -> Mapping[str, Any] | None:
        """What views show of ``doc`` (parsed JSON from an untrusted bundle: check types)."""
        return None

    def badge(self, ref: EvidenceRef, facts: Mapping[str, Any] | None) -> Badge | None:
        """The badge a view shows for one piece of this evidence (None: no badge)."""
        return (ref.kind, "info")

    def emptiness(self, ref: EvidenceRef) -> str | None:
        """Why this evidence, though attached, shows nothing (``None``: it holds something).

        Empty is not evidence: a check that evaluated nothing or a template left unfilled is
        listed as what it is, but never satisfies a required kind, a passing check or the
        completeness score. Judged from the step's own (signed) summary of the document.
        """
        return None

    # ------------------------------------------------------------------ checking

    def validate(self, doc: Any) -> str | None:
        """The problem with ``doc`` as this kind of evidence, or ``None`` when it is valid."""
        return None


@dataclass(frozen=True)
class DescribeContext:
    """Where a described model lives: its recorded path and the step asking, when known."""

    path: str | None = None
    stage: str | None = None
    step_id: str | None = None


class ModelDescriptionSource(EvidenceSource):
    """``model-description`` evidence: what plug-ins said about a model object or file."""

    kind = EVIDENCE_MODEL_DESCRIPTION
    media_type = "application/vnd.aitrace.model-description+json"
    title = "Model description"

    def summary(self, doc: Any) -> Mapping[str, Any]:
        if not isinstance(doc, Mapping):
            return {}
        plugins = doc.get("plugins")
        return {"path": doc.get("path"),
                "plugins": list(plugins) if isinstance(plugins, list) else []}

    def facts(self, doc: Any) -> Mapping[str, Any] | None:
        if not isinstance(doc, Mapping):
            return {"error": "not a model description"}
        card = doc.get("modelCard")
        props = doc.get("properties")
        plugins = doc.get("plugins")
        return {"path": doc.get("path") if isinstance(doc.get("path"), str) else None,
                "model_card": card if isinstance(card, Mapping) else {},
                "properties": {str(k): str(v) for k, v in props.items()}
                if isinstance(props, Mapping) else {},
                "plugins": [str(p) for p in plugins] if isinstance(plugins, list) else []}

    def validate(self, doc: Any) -> str | None:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("modelCard", {}), Mapping):
            return "is not a model description (an object with a modelCard mapping)"
        return None


class ModelDescriber(ModelDescriptionSource):
    """A plug-in that knows a model family: describes live model objects or model files.

    ``describe_model`` returns ``None`` when the subject is not its kind, else a mapping with
    optional keys ``"modelCard"`` (a CycloneDX 1.6 ``modelCard`` fragment) and ``"properties"``
    (``{name: value}`` strings). It must never deserialise an untrusted file.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = ""

    @abstractmethod
    def describe_model(self, subject: object,
                       context: DescribeContext) -> Mapping[str, Any] | None:
        """Describe ``subject`` (a model object or a ``pathlib.Path``), or return ``None``."""
