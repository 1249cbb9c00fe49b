"""The bundle's format: member names and kinds, the manifest and the signed predicate.

Layout of an ``.aitrace`` archive (format ``aitrace.bundle/v2``; v1 archives are read too)::

    manifest.json                 every other member (path, size, sha256) except the
                                  attestation; record id/name, tool, created_at, chain head
    attestation.dsse.json         DSSE envelope over an in-toto Statement v1 (see below)
    record.json                   the record's identity, as stored in the workspace
    steps/000001.json ...         every step, byte for byte as stored (hash-chained)
    objects/sha256/<hex>          every evidence object a step references (GX results, SBOMs,
                                  environment captures, notes, directory listings),
                                  content-addressed
    approvals/<sha256>.dsse.json  reviewers' signed approvals
    sbom.cdx.json                 the released model's CycloneDX ML-BOM, when one exists
    signatures/<model path>.sig   OpenSSF model-signing signatures of released model files
    artifacts/<path>              files embedded on request (``--include``)

The statement's subjects are the *released artifacts* (``aitrace.bundle.release``) by path and
digest — ``sha256`` for a file, in-toto ``dirHash`` for a directory (v1: ``sha256`` of aitrace's
directory manifest) — and ``manifest.json`` by sha256, so the signature covers every member
through the manifest. Its ``predicateType`` is ``PREDICATE_TYPE``; the predicate
(``Predicate``) summarises the record: each step's digest in chain order, the chain head, stages
present, tool version.

Format v2 writes every aitrace JSON member — manifest, envelope, statement payload, record,
steps, approvals, and the JSON evidence it produces — as RFC 8785 canonical bytes, and every
digest over a member is the SHA-256 of exactly those bytes.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from aitrace.record._model import field, json_schema, model
from aitrace.record.models import StepStage, StepStatus
from aitrace.record.refs import DIR_HASH, SHA256, SHA256_HEX, DigestAlgorithm
from aitrace.record.stages import StageId

BundleFormat = Literal["aitrace.bundle/v1", "aitrace.bundle/v2"]
BUNDLE_FORMAT_V1: BundleFormat = "aitrace.bundle/v1"
BUNDLE_FORMAT_V2: BundleFormat = "aitrace.bundle/v2"
BUNDLE_FORMAT: BundleFormat = BUNDLE_FORMAT_V2
"""The format ``aitrace bundle`` writes."""
PREDICATE_TYPE_V1 = "https://aitrace.dev/production-record/v1"
PREDICATE_TYPE_V2 = "https://aitrace.dev/production-record/v2"
PREDICATE_TYPE = PREDICATE_TYPE_V2
PREDICATE_TYPE_FOR: dict[str, str] = {BUNDLE_FORMAT_V1: PREDICATE_TYPE_V1,
                                      BUNDLE_FORMAT_V2: PREDICATE_TYPE_V2}
"""The predicate type each bundle format signs."""
MANIFEST_SCHEMA = "https://aitrace.dev/schemas/bundle-manifest/v2"
PREDICATE_SCHEMA = "https://aitrace.dev/schemas/production-record-predicate/v2"
TOOL_NAME = "aitrace"

MANIFEST_MEMBER = "manifest.json"
ATTESTATION_MEMBER = "attestation.dsse.json"
RECORD_MEMBER = "record.json"
SBOM_MEMBER = "sbom.cdx.json"
STEPS_PREFIX = "steps/"
OBJECTS_PREFIX = "objects/sha256/"
APPROVALS_PREFIX = "approvals/"
SIGNATURES_PREFIX = "signatures/"
ARTIFACTS_PREFIX = "artifacts/"
SBOM_MEDIA_TYPE = "application/vnd.cyclonedx+json"


STEP_MEMBER_RE = re.compile(r"^steps/(\d{6,})\.json$")
OBJECT_MEMBER_RE = re.compile(r"^objects/sha256/([0-9a-f]{64})$")
APPROVAL_MEMBER_RE = re.compile(r"^approvals/[0-9a-f]{64}\.dsse\.json$")


def step_member(seq: int) -> str:
    """The archive member holding step number ``seq``."""
    return f"{STEPS_PREFIX}{seq:06d}.json"


def object_member(sha256: str) -> str:
    """The archive member holding the evidence object with this digest."""
    return f"{OBJECTS_PREFIX}{sha256}"


def member_kind(name: str) -> str | None:
    """Which kind of member ``name`` is (None: not a member a bundle may hold)."""
    if name in (MANIFEST_MEMBER, ATTESTATION_MEMBER, RECORD_MEMBER, SBOM_MEMBER):
        return name
    if STEP_MEMBER_RE.match(name):
        return "step"
    if OBJECT_MEMBER_RE.match(name):
        return "object"
    if APPROVAL_MEMBER_RE.match(name):
        return "approval"
    if name.startswith(SIGNATURES_PREFIX) and name.endswith(".sig"):
        return "signature"
    if name.startswith(ARTIFACTS_PREFIX) and len(name) > len(ARTIFACTS_PREFIX):
        return "artifact"
    return None


# =========================================================================== documents


@model
class RecordRef:
    """The record a bundle carries."""

    id: str
    name: str


@model
class ToolInfo:
    """The program that wrote the bundle."""

    name: str
    version: str


@model
class ManifestMember:
    """One archive member: its path, size and SHA-256."""

    path: str
    size: int
    sha256: str = field(pattern=SHA256_HEX)


@model
class Manifest:
    """``manifest.json``: every member of the bundle except the attestation, with digests."""

    format: BundleFormat
    record: RecordRef
    tool: ToolInfo
    created_at: str = field(description="the last step's ended_at (never the wall clock)")
    chain_head: str = field(pattern=SHA256_HEX, description="digest of the last step")
    members: tuple[ManifestMember, ...] = field(
        default=(), description="sorted by path; excludes manifest.json and attestation.dsse.json")


@model
class PredicateStep:
    """One step of the record as the signed predicate lists it."""

    seq: int
    id: str
    stage: StepStage
    status: StepStatus
    digest: str = field(pattern=SHA256_HEX,
                        description="the step's digest as its format defines it (v2: sha256 of "
                                    "the step file)")


@model
class Released:
    """A released model artifact (also a statement subject): a file's sha256 or a dirHash."""

    path: str
    sha256: str | None = field(default=None, pattern=SHA256_HEX)
    dirHash: str | None = field(default=None, pattern=SHA256_HEX)  # noqa: N815 - in-toto's key

    @property
    def digest(self) -> tuple[DigestAlgorithm, str]:
        """``(algorithm, hex)``: the statement subject's digest-set entry."""
        if self.dirHash is not None:
            return DIR_HASH, self.dirHash
        return SHA256, self.sha256 or ""


@model
class ReleaseSource:
    """The step whose products are the released artifacts."""

    stage: StageId
    step_id: str
    seq: int
    fallback: bool = field(default=False,
                           description="true when there was no succeeded deployment step")
    note: str | None = None


@model
class Predicate:
    """The production-record predicate (``PREDICATE_TYPE_V2``; v1 alike): the record in summary."""

    record: RecordRef
    tool: ToolInfo
    steps: tuple[PredicateStep, ...]
    chain_head: str = field(pattern=SHA256_HEX)
    stages_present: tuple[StageId, ...] = field(
        description="stages with at least one succeeded step, in life-cycle order")
    released: tuple[Released, ...]
    created_at: str
    released_from: ReleaseSource | None = field(
        default=None, description="absent when no deployment/optimization/training step "
                                  "succeeded")


def manifest_schema() -> dict[str, Any]:
    """JSON Schema of ``manifest.json`` (``schemas/manifest.schema.json``)."""
    return json_schema(Manifest, schema_id=MANIFEST_SCHEMA, title="aitrace bundle manifest")


def predicate_schema() -> dict[str, Any]:
    """JSON Schema of the production-record predicate (``schemas/predicate.schema.json``)."""
    return json_schema(Predicate, schema_id=PREDICATE_SCHEMA,
                       title="aitrace production-record predicate")



