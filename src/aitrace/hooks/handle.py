"""The faces of a step in progress, and the seam through which evidence sources plug in.

* ``StepHandle`` — what code running inside a step may do with it: declare inputs and outputs,
  log values, attach evidence, run a data check. Both the in-process recorder
  (``aitrace.stage()``) and the child's handle under ``aitrace run`` satisfy it, so evidence code
  written against it works in either place.
* ``FinishingStep`` — the read-only picture of a step as it ends (its content so far, where it
  lives, its options), handed to every ``StepContributor``; a contributor answers with a
  ``Contribution`` (evidence, the environment summary, MLflow links, values) that the tracker
  applies. Contributors never reach into the recorder.

The hooks know contributors only through this protocol. The evidence sources that implement it
live above the hooks (``aitrace.evidence``), so they are *wired in* by the package root at import
(``wire``): the hooks never import evidence, and a caller may pass its own contributors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from aitrace.record.models import Artifact, Environment, EvidenceRef, MlflowLink, Step
    from aitrace.record.stages import StageId
    from aitrace.store.workspace import Workspace


@runtime_checkable
class StepHandle(Protocol):
    """What the code of a running step may do with it (in-process or in ``aitrace run``'s child).

    Inputs are hashed when declared (in-process) or when the command ends (child); outputs are
    hashed when the step ends, whatever they hold then.
    """

    @property
    def id(self) -> str:
        """The step's id (time-ordered hex)."""
        ...

    @property
    def stage(self) -> StageId:
        """The stage this step records."""
        ...

    @property
    def record_id(self) -> str:
        """The record the step belongs to."""
        ...

    @property
    def workspace(self) -> Workspace:
        """The workspace the step is recorded in."""
        ...

    def input(self, *paths: str | os.PathLike[str], origin: str | None = None,
              license: str | None = None, role: str | None = None,
              sha256: str | None = None) -> Sequence[Artifact] | None:
        """Declare inputs (``origin`` marks a declared external source).

        In-process the inputs are hashed now and returned; the child's handle returns ``None``
        (its parent hashes them when the command ends).
        """
        ...

    def output(self, *paths: str | os.PathLike[str], license: str | None = None,
               role: str | None = None) -> None:
        """Declare outputs."""
        ...

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record parameters."""
        ...

    def log_param(self, key: str, value: Any) -> None:
        """Record one parameter."""
        ...

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Record metrics (finite numbers)."""
        ...

    def log_metric(self, key: str, value: float) -> None:
        """Record one metric."""
        ...

    def describe(self, text: str) -> None:
        """A free-text description of the step."""
        ...

    def attach(self, kind: str, data: bytes | Mapping[str, Any] | list[Any], *,
               media_type: str, summary: Mapping[str, Any] | None = None,
               name: str | None = None, subject: str | os.PathLike[str] | None = None,
               subject_sha256: str | None = None) -> EvidenceRef:
        """Store evidence content-addressed and reference it from the step."""
        ...

    def check(self, data: Any,
              suite: str | os.PathLike[str] | Mapping[str, Any] | None = None, *,
              pack: str | None = None, path: str | os.PathLike[str] | None = None,
              **options: Any) -> Any:
        """Validate data with Great Expectations and attach the result."""
        ...


@dataclass(frozen=True)
class StepOptions:
    """How a step was asked to be recorded (``aitrace.stage(mlflow=..., sbom=...)``)."""

    mlflow: bool = True
    sbom: bool | None = None  # None: the configuration decides
    sbom_models: tuple[str, ...] | None = None  # outputs an explicit ``step.sbom()`` describes


@dataclass(frozen=True)
class Launch:
    """The command ``aitrace run`` starts, as sources need it to observe what it did.

    Kept in memory only: ``env`` is the child's whole environment (secrets included) and is
    never written anywhere; sources record what they derive from it, redacted.
    """

    argv: tuple[str, ...]
    cwd: str  # the command's working directory, absolute
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FinishingStep:
    """A step as it ends, as contributors see it: never the recorder itself.

    ``step`` is the step's content so far, with declared outputs hashed; its ``seq`` and
    ``prev`` are provisional (the chain position is taken under the append lock later).
    """

    step: Step
    workspace: Workspace
    options: StepOptions = field(default_factory=StepOptions)
    mlflow_stores: tuple[str, ...] = ()  # tracking URIs user runs were started against here
    launch: Launch | None = None  # the command, when the step is ``aitrace run``'s


@dataclass(frozen=True)
class Attachment:
    """Evidence a contributor adds: stored content-addressed, referenced from the step.

    ``data`` is the document's bytes, or a JSON document the tracker encodes the one way aitrace
    stores JSON evidence (``aitrace.record.jsonio.document_bytes``: RFC 8785).
    """

    kind: str
    data: bytes | Mapping[str, Any] | list[Any]
    media_type: str
    name: str | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    subject_path: str | None = None  # workspace-relative path or URI of the data it is about
    subject_sha256: str | None = None


@dataclass(frozen=True)
class FoundOutput:
    """A file or folder a contributor found the step produced (the tracker hashes it)."""

    path: str
    role: str | None = None


@dataclass(frozen=True)
class Contribution:
    """What a contributor adds to a finishing step; the tracker applies it in order."""

    evidence: tuple[Attachment, ...] = ()
    outputs: tuple[FoundOutput, ...] = ()
    environment: Environment | None = None
    mlflow: tuple[MlflowLink, ...] = ()
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)


@runtime_checkable
class StepContributor(Protocol):
    """Something that adds to every step it applies to as the step ends (an evidence source).

    A fresh contributor is made for each step, so ``begin`` may start slow work (on a thread)
    that ``contribute`` collects.
    """

    @property
    def kind(self) -> str:
        """The kind of evidence it adds."""
        ...

    def begin(self, step: FinishingStep) -> Mapping[str, str]:
        """Called as the step starts; returns environment variables its code should see."""
        ...

    def applies(self, step: FinishingStep) -> bool:
        """Whether this contributor adds anything to ``step``."""
        ...

    def contribute(self, step: FinishingStep) -> Contribution:
        """What it adds to ``step`` (only called when ``applies``)."""
        ...

    def warning(self, stage: str, error: str) -> str:
        """The warning shown when it could not add its evidence (the step is kept)."""
        ...


DataChecker = Callable[..., Any]
"""``checker(step, data, suite, *, pack, path, **options)``: runs a GX check into ``step``."""


LicenseReader = Callable[[str], tuple[str, str | None]]
"""``reader(text) -> (value to record, problem or None)``: normalises a declared licence."""


@dataclass
class _Wiring:
    contributors: Callable[[], Sequence[StepContributor]] | None = None
    checker: DataChecker | None = None
    licenses: LicenseReader | None = None


_WIRING = _Wiring()


def wire(*, contributors: Callable[[], Sequence[StepContributor]],
         checker: DataChecker, licenses: LicenseReader | None = None) -> None:
    """Install the default contributors, data checker and licence reader (``aitrace/__init__``)."""
    _WIRING.contributors = contributors
    _WIRING.checker = checker
    if licenses is not None:
        _WIRING.licenses = licenses


def read_license(text: str) -> tuple[str, str | None]:
    """A declared licence as the record keeps it (SPDX when it is one) and its problem, if any."""
    if _WIRING.licenses is None:  # pragma: no cover - aitrace/__init__ always wires
        return text, None
    return _WIRING.licenses(text)


def default_contributors() -> Sequence[StepContributor]:
    """Fresh instances of the wired contributors, in the order they run."""
    if _WIRING.contributors is None:  # pragma: no cover - aitrace/__init__ always wires
        return ()
    return _WIRING.contributors()


def data_checker() -> DataChecker:
    """The wired data checker (Great Expectations)."""
    if _WIRING.checker is None:  # pragma: no cover - aitrace/__init__ always wires
        raise RuntimeError("aitrace's evidence sources were not wired; import aitrace first")
    return _WIRING.checker
