"""The production record's data model: steps, artifacts, evidence references, MLflow links.

A *record* is one model lineage; it is an append-only, hash-chained list of *steps*. A step is an
immutable fact ("this stage ran, with these inputs, produced these outputs, with this
evidence") and its type is frozen to say so. Each step stores ``prev``, the digest of the
previous step, so editing any step breaks the chain at the next one even before anything is
signed.

Two step formats exist (README "Formats"):

* ``aitrace.step/v2`` (written today): the file holds the step's RFC 8785 canonical bytes and
  the step's digest is the plain SHA-256 of the file (``sha256sum steps/000001.json`` is the next
  step's ``prev``). A directory artifact carries in-toto's ``dirHash``.
* ``aitrace.step/v1`` (read, and appended to a workspace not yet migrated): pretty-printed; the
  digest is the SHA-256 of Python's canonical JSON of the parsed step
  (``aitrace.record.jsonio.legacy_canonical_bytes``); a directory's ``sha256`` is aitrace's
  ``aitrace.dir/v1`` manifest digest.

``aitrace migrate`` appends one *migration step* (stage ``migration``) that carries a v1 chain
over into v2; see ``Migration``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from functools import cached_property
from typing import Any, Literal

from aitrace.errors import InputError
from aitrace.record._model import JSONValue, field, from_json, json_schema, model, to_json
from aitrace.record.jsonio import canonical_bytes, legacy_canonical_digest, pretty_bytes
from aitrace.record.refs import DIR_HASH, SHA256, SHA256_HEX, DigestAlgorithm
from aitrace.record.stages import StageId

STEP_SCHEMA = "https://aitrace.dev/schemas/step/v2"
RECORD_SCHEMA = "https://aitrace.dev/schemas/record/v2"

StepFormat = Literal["aitrace.step/v1", "aitrace.step/v2"]
RecordFormat = Literal["aitrace.record/v1", "aitrace.record/v2"]
STEP_FORMAT_V1: Literal["aitrace.step/v1"] = "aitrace.step/v1"
STEP_FORMAT_V2: Literal["aitrace.step/v2"] = "aitrace.step/v2"
STEP_FORMAT: StepFormat = STEP_FORMAT_V2
"""The format new workspaces write."""
RECORD_FORMAT_V1: RecordFormat = "aitrace.record/v1"
RECORD_FORMAT_V2: RecordFormat = "aitrace.record/v2"
RECORD_FORMAT: RecordFormat = RECORD_FORMAT_V2

LEGACY_DIR_DIGEST = "aitrace.dir/v1"
"""How messages and custody name format v1's directory digest (never an in-toto key)."""

MIGRATION_STAGE: Literal["migration"] = "migration"
StepStage = Literal[StageId, "migration"]
"""A step's ``stage``: one of the ten, or ``migration`` for the step ``aitrace migrate`` appends
(which no stage-based rule counts: it is no stage of the model's life)."""

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
    """Who ran the step's code: its interpreter, and the machine; packages are evidence.

    For ``aitrace run`` the interpreter is the one that ran the command (a venv's python, a
    console script's ``#!`` line, the ``python`` that ``mlflow run --env-manager local`` starts),
    not aitrace's own; ``python`` is absent when the command is not a Python program.
    """

    platform: str
    machine: str
    cpu_count: int
    python: str | None = field(
        default=None, description="Python version of the interpreter that ran the code; absent "
        "when the command is not a Python program (or its interpreter was not found)")
    implementation: str | None = None
    executable: str | None = field(
        default=None, description="the interpreter (or program) that ran: a workspace-relative "
        "path or a file: URI")
    detected_by: str | None = field(
        default=None, description="how the interpreter was found: process, argv, shebang, "
        "mlflow-run, path")
    memory_bytes: int | None = None
    distributions_sha256: str | None = field(
        default=None, pattern=SHA256_HEX,
        description="digest of the environment evidence object listing installed distributions")
    variables: Mapping[str, str] = field(
        default_factory=dict, description="allow-listed environment variables, secrets redacted")

    @property
    def python_text(self) -> str:
        """The interpreter in words for views: ``CPython 3.10.13``, or why there is none."""
        if self.python is None:
            return "no Python interpreter (not a Python program)"
        return f"{self.implementation or 'Python'} {self.python}"


@model
class Artifact:
    """An input (material) or output (product) of a step, identified by content."""

    path: str = field(description="POSIX path relative to the workspace root, or a URI")
    type: ArtifactType
    sha256: str | None = field(default=None, pattern=SHA256_HEX,
                               description="a file's bytes (format v1: also a directory's "
                                           "aitrace.dir/v1 manifest digest)")
    size: int | None = field(default=None, description="bytes (a directory: sum of its files)")
    dirHash: str | None = field(  # noqa: N815 - in-toto's digest-set key, spelt as the spec does
        default=None, pattern=SHA256_HEX,
        description="format v2 directories: in-toto dirHash, the sha256 of the sorted "
                    "'<sha256>  <path>\\n' listing of its files; the listing itself is the "
                    "evidence object of that digest")
    aitrace_dir_v1: str | None = field(
        default=None, pattern=SHA256_HEX,
        description="aitrace's own format v1 directory digest (the aitrace.dir/v1 manifest), not "
                    "an in-toto algorithm: only on the migration step's materials, linking a "
                    "directory recorded in v1 to its dirHash")
    origin: str | None = field(
        default=None,
        description="where an external source came from; set = declared external source")
    license: str | None = field(default=None, description="SPDX licence id or expression")
    role: str | None = field(default=None, description="e.g. dataset, model, config, code")
    unchanged: bool | None = field(
        default=None, description="true: a declared output that existed before the step and "
        "was neither created nor modified by it")

    @property
    def digest(self) -> tuple[DigestAlgorithm, str] | None:
        """``("dirHash", hex)`` for a v2 directory, ``("sha256", hex)`` as stored otherwise."""
        if self.dirHash is not None:
            return DIR_HASH, self.dirHash
        if self.sha256 is not None:
            return SHA256, self.sha256
        return None

    @property
    def value(self) -> str | None:
        """The digest's hex, whichever kind it is (what evidence binding compares, as v1 did)."""
        return self.dirHash or self.sha256 or self.aitrace_dir_v1

    @property
    def content_id(self) -> str | None:
        """What the content is, by kind of digest (what chain of custody compares).

        ``sha256:<hex>`` for a file's bytes, ``dirHash:<hex>`` for a v2 directory, and
        ``aitrace.dir/v1:<hex>`` for a directory recorded in format v1 (whose ``sha256`` held
        that manifest digest) or bridged by the migration step.
        """
        if self.dirHash is not None:
            return f"{DIR_HASH}:{self.dirHash}"
        legacy = self.aitrace_dir_v1 or (self.sha256 if self.type == "directory" else None)
        if legacy is not None:
            return f"{LEGACY_DIR_DIGEST}:{legacy}"
        return f"{SHA256}:{self.sha256}" if self.sha256 is not None else None


@model
class Subject:
    """The exact bytes a piece of evidence is about (a directory: its dirHash, format v2)."""

    path: str
    sha256: str | None = field(default=None, pattern=SHA256_HEX)
    dirHash: str | None = field(default=None, pattern=SHA256_HEX)  # noqa: N815 - in-toto's key

    @property
    def value(self) -> str | None:
        """The digest's hex (compared with ``Artifact.value`` to bind evidence)."""
        return self.dirHash or self.sha256


def subject_for(path: str, value: str, algorithm: DigestAlgorithm) -> Subject:
    """The evidence subject naming ``path`` by ``value`` under ``algorithm``."""
    return Subject(path=path, dirHash=value) if algorithm == DIR_HASH else \
        Subject(path=path, sha256=value)


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


MLFLOW_VALUE_PREFIX = "mlflow."
"""How a step records a param or metric its user's own MLflow run logged (``mlflow.test_mae``):
never over a value the step declared itself, and still found by criteria naming ``test_mae``."""


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
    linked_by: Literal["tag", "time-window", "resumed"] | None = field(
        default=None, description="how a user run was found: aitrace's tag, the step's time "
        "window, or MLFLOW_RUN_ID (resumed)")


@model
class MigratedStep:
    """One v1 step as the migration step vouches for it."""

    seq: int
    digest: str = field(pattern=SHA256_HEX,
                        description="the step's v1 digest (sha256 of Python's canonical JSON)")
    file_sha256: str = field(pattern=SHA256_HEX,
                             description="sha256 of the step file's bytes (`sha256sum`)")


@model
class Migration:
    """What the migration step carries over from a v1 chain into v2.

    The migration step's ``prev`` is the v1 chain head (``steps[-1].digest``), as any v1 step
    would link; every later step links by the SHA-256 of its predecessor's file. ``steps`` pins
    each v1 step file by its plain SHA-256 too, so once the migration step is vouched for (by the
    v2 chain and the signature) every earlier step file can be checked with ``sha256sum``.
    """

    from_format: Literal["aitrace.step/v1"]
    steps: tuple[MigratedStep, ...]
    record_file_sha256: str = field(pattern=SHA256_HEX,
                                    description="sha256 of .aitrace/record.json's bytes")


@model
class Origin:
    """Which workspace of a shared record recorded a step, and whether it waited in a spool.

    A record shared through a database (``aitrace.store.postgres``) has steps from many
    directories on many machines; ``workspace`` is the id ``aitrace init --store`` gave the
    directory, ``host`` its machine (the git remote and commit are in ``code``). A step that ended
    while the database was unreachable was kept in the local spool and appended later:
    ``synced_at`` says when, so its predecessor may have ended after it did.
    """

    workspace: str
    host: str
    spooled_at: str | None = field(default=None, description="UTC, RFC 3339: when the step was "
                                                              "kept locally, the store unreachable")
    synced_at: str | None = field(default=None, description="UTC, RFC 3339: when a spooled step "
                                                             "was appended")


@model
class Step:
    """One immutable execution of a stage."""

    format: StepFormat
    id: str
    record_id: str
    seq: int = field(description="1-based position in the chain")
    stage: StepStage
    status: StepStatus
    started_at: str = field(description="UTC, RFC 3339")
    ended_at: str = field(description="UTC, RFC 3339")
    actor: Actor
    prev: str | None = field(pattern=SHA256_HEX,
                             description="the previous step's digest: v2, the sha256 of its "
                                         "file; v1, of its Python-canonical JSON")
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
    migration: Migration | None = field(
        default=None, description="only on the step `aitrace migrate` appends (stage migration)")
    origin: Origin | None = field(
        default=None, description="shared records only: the workspace and host that recorded it")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (what is written to disk)."""
        d: dict[str, Any] = to_json(self)
        if self.prev is None:
            d["prev"] = None  # always present, so the first step is explicit
        return d

    @cached_property
    def file_bytes(self) -> bytes:
        """The step file's bytes: v2, RFC 8785 canonical JSON; v1, pretty-printed JSON.

        Raises:
            InputError: (v2) a value RFC 8785 cannot write exactly, naming the field.
        """
        if self.format == STEP_FORMAT_V1:
            return pretty_bytes(self.to_dict())
        return canonical_bytes(self.to_dict(), what=f"step {self.seq} ({self.stage})")

    @cached_property
    def digest(self) -> str:
        """What the next step's ``prev`` holds: v2, SHA-256 of the file; v1, of canonical JSON."""
        if self.format == STEP_FORMAT_V1:
            return legacy_canonical_digest(self.to_dict())
        return hashlib.sha256(self.file_bytes).hexdigest()

    @property
    def is_migration(self) -> bool:
        """Whether this is the step ``aitrace migrate`` appended."""
        return self.stage == MIGRATION_STAGE

    def check_format(self, source: str = "") -> None:
        """Refuse fields the step's format does not allow (``InputError`` naming the field).

        v1 has no ``dirHash``, no migration; v2 names a directory by ``dirHash`` only and a
        file by ``sha256`` only; a migration step and the ``migration`` field go together.
        """
        where = f" in {source}" if source else ""

        def bad(path: str, what: str) -> InputError:
            return InputError(f"invalid document{where}: field '{path}' {what}",
                              hint="the step was not written by aitrace, or it was edited; "
                                   "restore it from a trusted copy")

        v1 = self.format == STEP_FORMAT_V1
        for i, a in enumerate(self.materials):
            if a.aitrace_dir_v1 is not None and not (
                    self.is_migration and a.type == "directory" and a.sha256 is None
                    and a.dirHash is None):
                raise bad(f"materials[{i}].aitrace_dir_v1",
                          "belongs only to a migration step's directory materials, alone")
        if any(a.aitrace_dir_v1 is not None for a in self.products):
            raise bad("products", "cannot carry aitrace_dir_v1")
        if self.is_migration != (self.migration is not None):
            raise bad("migration", "must be present exactly when stage is 'migration'")
        if v1 and self.migration is not None:
            raise bad("stage", f"cannot be 'migration' in {STEP_FORMAT_V1}")
        for attr in ("materials", "products"):
            for i, a in enumerate(getattr(self, attr)):
                name = f"{attr}[{i}]"
                if v1 and a.dirHash is not None:
                    raise bad(f"{name}.dirHash", f"is not part of {STEP_FORMAT_V1}")
                if not v1 and a.type == "directory" and a.aitrace_dir_v1 is None and (
                        a.dirHash is None or a.sha256):
                    raise bad(name, "is a directory: it must carry dirHash and no sha256")
                if not v1 and a.type != "directory" and a.dirHash is not None:
                    raise bad(f"{name}.dirHash", f"belongs to directories, not to a {a.type}")
        for i, e in enumerate(self.evidence):
            if e.subject is None:
                continue
            if (e.subject.sha256 is None) == (e.subject.dirHash is None):
                raise bad(f"evidence[{i}].subject", "must carry exactly one of sha256, dirHash")
            if v1 and e.subject.dirHash is not None:
                raise bad(f"evidence[{i}].subject.dirHash", f"is not part of {STEP_FORMAT_V1}")

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "") -> Step:
        """Parse an untrusted step document (fields and their format's rules)."""
        step = from_json(cls, data, source=source)
        step.check_format(source)
        return step

    def with_(self, **changes: Any) -> Step:
        """A copy with fields changed (steps are never mutated in place)."""
        return replace(self, **changes)


@model
class Record:
    """The record's identity, written once by ``aitrace init`` (v2: RFC 8785 bytes)."""

    format: RecordFormat
    id: str
    name: str
    created_at: str

    @property
    def file_bytes(self) -> bytes:
        """``record.json``'s bytes: v2, RFC 8785 canonical JSON; v1, pretty-printed JSON."""
        if self.format == RECORD_FORMAT_V1:
            return pretty_bytes(to_json(self))
        return canonical_bytes(to_json(self), what="record.json")

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
