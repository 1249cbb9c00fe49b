"""The production record's data model: steps, artifacts, evidence references, MLflow links.

A *record* is one model lineage; it is an append-only, hash-chained list of *steps*. A step is an
immutable fact ("this stage ran, with these inputs, produced these outputs, with this
evidence") and its type is frozen to say so. Each step stores ``prev``, the SHA-256 of the
previous step's canonical JSON (see ``aitrace.record.jsonio``), so editing any step breaks the chain
at the next one even before anything is signed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from aitrace.record._model import JSONValue, field, from_json, json_schema, model, to_json
from aitrace.record.jsonio import canonical_digest
from aitrace.record.refs import SHA256_HEX
from aitrace.record.stages import StageId

STEP_SCHEMA = "https://aitrace.dev/schemas/step/v1"
RECORD_SCHEMA = "https://aitrace.dev/schemas/record/v1"
STEP_FORMAT: Literal["aitrace.step/v1"] = "aitrace.step/v1"
RECORD_FORMAT: Literal["aitrace.record/v1"] = "aitrace.record/v1"

StepStatus = Literal["succeeded", "failed", "interrupted"]
ArtifactType = Literal["file", "directory", "uri"]


@model
class Actor:
    """Who ran the step: the OS user and the host."""

    user: str
    host: str


@model
class Command:
    """The command a step ran (``aitrace run``, or the process of an in-process step), redacted."""

    argv: tuple[str, ...]
    exit_code: int | None = field(default=None, description="None while it never finished")
    cwd: str | None = None
    script: Subject | None = field(
        default=None, description="the Python file run as __main__ and its sha256 "
                                  "(steps recorded in-process by the Python hooks)")


@model
class CodeVersion:
    """The git state of the working tree when the step started."""

    commit: str | None = None
    branch: str | None = None
    dirty: bool = False
    diff_sha256: str | None = field(default=None, pattern=SHA256_HEX,
                                    description="SHA-256 of `git diff HEAD` when dirty")
    remote: str | None = field(default=None, description="origin URL, credentials stripped")


@model
class Environment:
    """The machine and interpreter; the full package list is evidence referenced by digest."""

    python: str
    implementation: str
    platform: str
    machine: str
    cpu_count: int
    memory_bytes: int | None = None
    distributions_sha256: str | None = field(
        default=None, pattern=SHA256_HEX,
        description="digest of the environment evidence object listing installed distributions")
    variables: Mapping[str, str] = field(
        default_factory=dict, description="allow-listed environment variables, secrets redacted")


@model
class Artifact:
    """An input (material) or output (product) of a step, identified by content."""

    path: str = field(description="POSIX path relative to the workspace root, or a URI")
    type: ArtifactType
    sha256: str | None = field(default=None, pattern=SHA256_HEX,
                               description="file bytes, or the directory manifest digest")
    size: int | None = field(default=None, description="bytes (a directory: sum of its files)")
    origin: str | None = field(
        default=None,
        description="where an external source came from; set = declared external source")
    license: str | None = field(default=None, description="SPDX licence id or expression")
    role: str | None = field(default=None, description="e.g. dataset, model, config, code")


@model
class Subject:
    """The exact bytes a piece of evidence is about."""

    path: str
    sha256: str = field(pattern=SHA256_HEX)


@model
class EvidenceRef:
    """A piece of evidence stored content-addressed under ``objects/sha256/``."""

    kind: str = field(description="see aitrace.record.stages.EvidenceKind (plug-ins add kinds)")
    media_type: str
    sha256: str = field(pattern=SHA256_HEX)
    size: int
    name: str | None = None
    summary: Mapping[str, JSONValue] = field(default_factory=dict)
    subject: Subject | None = field(default=None, description="the data the evidence checked")
    bound: bool | None = field(
        default=None,
        description="whether subject is among the step's materials or products")


@model
class MlflowLink:
    """An MLflow run linked to the step, with a digest of its data at the step's end."""

    tracking_uri: str = field(description="credentials stripped")
    experiment_id: str
    run_id: str
    role: Literal["step", "user"] = "step"
    run_name: str | None = None
    data_sha256: str | None = field(
        default=None, pattern=SHA256_HEX,
        description="sha256 of canonical {params, metrics, tags} of the run at the step's end")


@model
class Step:
    """One immutable execution of a stage."""

    format: Literal["aitrace.step/v1"]
    id: str
    record_id: str
    seq: int = field(description="1-based position in the chain")
    stage: StageId
    status: StepStatus
    started_at: str = field(description="UTC, RFC 3339")
    ended_at: str = field(description="UTC, RFC 3339")
    actor: Actor
    prev: str | None = field(pattern=SHA256_HEX,
                             description="sha256 of the previous step's canonical JSON")
    command: Command | None = None
    code: CodeVersion | None = None
    environment: Environment | None = None
    materials: tuple[Artifact, ...] = ()
    products: tuple[Artifact, ...] = ()
    evidence: tuple[EvidenceRef, ...] = ()
    mlflow: tuple[MlflowLink, ...] = ()
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    description: str | None = None
    error: str | None = field(default=None, description="why a step failed, when known")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (what is written to disk)."""
        d: dict[str, Any] = to_json(self)
        if self.prev is None:
            d["prev"] = None  # always present, so the first step is explicit
        return d

    @property
    def digest(self) -> str:
        """SHA-256 of this step's canonical JSON: what the next step's ``prev`` holds."""
        return canonical_digest(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "") -> Step:
        """Parse an untrusted step document."""
        return from_json(cls, data, source=source)

    def with_(self, **changes: Any) -> Step:
        """A copy with fields changed (steps are never mutated in place)."""
        return replace(self, **changes)


@model
class Record:
    """The record's identity, written once by ``aitrace init``."""

    format: Literal["aitrace.record/v1"]
    id: str
    name: str
    created_at: str

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "") -> Record:
        """Parse an untrusted record document."""
        return from_json(cls, data, source=source)


def step_schema() -> dict[str, Any]:
    """JSON Schema of a step (checked in as ``schemas/step.schema.json``)."""
    return json_schema(Step, schema_id=STEP_SCHEMA, title="aitrace production-record step")


def record_schema() -> dict[str, Any]:
    """JSON Schema of the record identity (``schemas/record.schema.json``)."""
    return json_schema(Record, schema_id=RECORD_SCHEMA, title="aitrace production record")
