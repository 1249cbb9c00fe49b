"""The signed provenance bundle: one deterministic ZIP an auditor receives and verifies offline.

Layout of an ``.aitrace`` archive (format ``aitrace.bundle/v1``)::

    manifest.json                 every other member (path, size, sha256) except the
                                  attestation; record id/name, tool, created_at, chain head
    attestation.dsse.json         DSSE envelope over an in-toto Statement v1 (see below)
    record.json                   the record's identity, as stored in the workspace
    steps/000001.json ...         every step, byte for byte as stored (hash-chained)
    objects/sha256/<hex>          every evidence object a step references (GX results, SBOMs,
                                  environment captures, notes), content-addressed
    approvals/<sha256>.dsse.json  reviewers' signed approvals
    sbom.cdx.json                 the released model's CycloneDX ML-BOM, when one exists
    signatures/<model path>.sig   OpenSSF model-signing signatures of released model files
    artifacts/<path>              files embedded on request (``--include``)

The statement's subjects are the *released artifacts* (the products of the latest succeeded
deployment step; failing that optimization, then training — the predicate says which) by
path + sha256, and ``manifest.json`` by sha256, so the signature covers every member through the
manifest. Its ``predicateType`` is ``PREDICATE_TYPE``; the predicate (``Predicate``) summarises
the record: each step's digest in chain order, the chain head, stages present, tool version.

The archive is deterministic: members sorted, fixed timestamps and modes
(``archive.write_deterministic_zip``), ``created_at`` taken from the last step (never the wall
clock), deterministic signatures (``signing``) — the same record gives the same bytes. Large
files are streamed, never loaded whole. ``OpenedBundle`` is the read side, used by
``aitrace.verify`` and the auditor's views; it never extracts anything.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from aitrace._version import __version__
from aitrace.errors import AitraceError, InputError, IntegrityError, InvalidBundle, WorkspaceError
from aitrace.record._model import field, from_json, json_schema, model, to_json
from aitrace.record.jsonio import canonical_bytes, canonical_digest, pretty_bytes
from aitrace.record.models import SHA256_HEX, Record, Step, StepStatus
from aitrace.record.stages import EVIDENCE_SBOM, STAGE_IDS, StageId

if TYPE_CHECKING:
    from aitrace.bundle._zip.reader import ArchiveLimits, SafeArchive
    from aitrace.signing.core import Signer
    from aitrace.store.workspace import Workspace

_T = TypeVar("_T")

BUNDLE_FORMAT: Literal["aitrace.bundle/v1"] = "aitrace.bundle/v1"
BUNDLE_SUFFIX = ".aitrace"
PREDICATE_TYPE = "https://aitrace.dev/production-record/v1"
MANIFEST_SCHEMA = "https://aitrace.dev/schemas/bundle-manifest/v1"
PREDICATE_SCHEMA = "https://aitrace.dev/schemas/production-record-predicate/v1"
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

# Where the released model comes from, in order of preference.
RELEASE_STAGES: tuple[StageId, ...] = ("deployment", "optimization", "training")

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

    format: Literal["aitrace.bundle/v1"]
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
    stage: StageId
    status: StepStatus
    digest: str = field(pattern=SHA256_HEX, description="sha256 of the step's canonical JSON")


@model
class Released:
    """A released model artifact (also a statement subject)."""

    path: str
    sha256: str = field(pattern=SHA256_HEX)


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
    """The ``https://aitrace.dev/production-record/v1`` predicate: the record in summary."""

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


# =========================================================================== shared rules


def release_source(steps: Sequence[Step]) -> tuple[Step | None, ReleaseSource | None]:
    """The step whose products are released, and where it came from.

    The latest succeeded deployment step, else optimization, else training (``None`` when none
    succeeded).
    """
    for stage in RELEASE_STAGES:
        found = [s for s in steps if s.stage == stage and s.status == "succeeded"]
        if found:
            step = found[-1]
            fallback = stage != "deployment"
            note = (f"no succeeded deployment step: the released artifacts are the products of "
                    f"the latest {stage} step (step {step.seq})") if fallback else None
            return step, ReleaseSource(stage=stage, step_id=step.id, seq=step.seq,
                                       fallback=fallback, note=note)
    return None, None


def released_artifacts(step: Step | None) -> tuple[Released, ...]:
    """The hashed products of the release step, in order, without repeats."""
    if step is None:
        return ()
    out: list[Released] = []
    seen: set[tuple[str, str]] = set()
    for p in step.products:
        if p.sha256 and (p.path, p.sha256) not in seen and p.path != MANIFEST_MEMBER:
            seen.add((p.path, p.sha256))
            out.append(Released(path=p.path, sha256=p.sha256))
    return tuple(out)


def release_sbom_ref(steps: Sequence[Step]) -> tuple[Step, str] | None:
    """(step, object sha256) of the released model's SBOM, if any.

    The latest SBOM evidence of the latest succeeded deployment step, else optimization, else
    training.
    """
    for stage in RELEASE_STAGES:
        for s in reversed([s for s in steps if s.stage == stage and s.status == "succeeded"]):
            sboms = [e for e in s.evidence if e.kind == EVIDENCE_SBOM]
            if sboms:
                return s, sboms[-1].sha256
    return None


def referenced_objects(steps: Sequence[Step]) -> dict[str, Step]:
    """Every evidence object the steps reference, mapped to the first step referencing it."""
    out: dict[str, Step] = {}
    for s in steps:
        for e in s.evidence:
            out.setdefault(e.sha256, s)
        if s.environment is not None and s.environment.distributions_sha256:
            out.setdefault(s.environment.distributions_sha256, s)
    return out


def predicate_for(record: RecordRef, steps: Sequence[Step]) -> Predicate:
    """The predicate summarising ``steps`` (what the bundle signs)."""
    rel_step, source = release_source(steps)
    present = {s.stage for s in steps if s.status == "succeeded"}
    return Predicate(
        record=record, tool=ToolInfo(name=TOOL_NAME, version=__version__),
        steps=tuple(PredicateStep(seq=s.seq, id=s.id, stage=s.stage, status=s.status,
                                  digest=s.digest) for s in steps),
        chain_head=steps[-1].digest,
        stages_present=tuple(st for st in STAGE_IDS if st in present),
        released=released_artifacts(rel_step), created_at=steps[-1].ended_at,
        released_from=source)


# =========================================================================== writing


@dataclass(frozen=True)
class BundleInfo:
    """What ``build_bundle`` wrote."""

    path: Path
    size: int
    members: int
    manifest_sha256: str
    record_id: str
    created_at: str
    chain_head: str
    steps: int
    signers: tuple[str, ...]
    released: tuple[Released, ...]
    release_source: ReleaseSource | None
    model_signatures: tuple[str, ...]
    included: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON form (``aitrace bundle --json``)."""
        return {
            "path": str(self.path), "size": self.size, "members": self.members,
            "manifest_sha256": self.manifest_sha256, "record_id": self.record_id,
            "created_at": self.created_at, "chain_head": self.chain_head, "steps": self.steps,
            "signers": list(self.signers), "released": [to_json(r) for r in self.released],
            "release_source": to_json(self.release_source) if self.release_source else None,
            "model_signatures": list(self.model_signatures), "included": list(self.included),
            "notes": list(self.notes),
        }


def _hash_path(path: Path) -> tuple[str, int]:
    from aitrace.store.digest import hash_file

    return hash_file(path)


def _read_steps(ws: Workspace) -> tuple[tuple[Step, ...], list[bytes]]:
    """The chain and each step file's exact bytes, read under the append lock."""
    with ws.lock():
        report = ws.chain()
        if report.broken:
            b = report.broken
            raise IntegrityError(f"cannot bundle: {b.file}: {b.reason}",
                                 hint="the record's history is damaged; restore the step file")
        raw: list[bytes] = []
        for step in report.steps:
            path = ws.dir / "steps" / f"{step.seq:06d}.json"
            data = path.read_bytes()
            if canonical_digest(json.loads(data)) != step.digest:
                raise IntegrityError(f"{path} changed while it was being bundled",
                                     hint="run `aitrace bundle` again")
            raw.append(data)
    if not report.steps:
        raise InputError(f"the record in {ws.root} has no steps to bundle",
                         hint="record at least one stage (`aitrace run --stage ... -- cmd`)")
    return report.steps, raw


def _include_members(ws: Workspace, include: Sequence[Path]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for given in include:
        p = Path(given)
        if not p.exists():
            raise InputError(f"--include {given}: no such file or directory",
                             hint="give a file or directory inside the project")
        rel = ws.relpath(p)
        if rel.startswith("/") or rel == ".." or rel.startswith("../"):
            raise InputError(f"--include {given} lies outside the project {ws.root}",
                             hint="copy the file into the project, or record it by digest only")
        if p.is_symlink():
            raise InputError(f"--include {given} is a symbolic link",
                             hint="include the file it points to")
        files = [p] if p.is_file() else sorted(
            f for f in p.rglob("*") if f.is_file() and not f.is_symlink())
        if p.is_dir() and not files:
            raise InputError(f"--include {given} is an empty directory",
                             hint="include files, or leave it out")
        for f in files:
            name = ARTIFACTS_PREFIX + ws.relpath(f)
            out[name] = f
    return out


def _model_signatures(ws: Workspace, released: Sequence[Released], key: Path,
                      passphrase: bytes | None, notes: list[str]) -> dict[str, bytes]:
    from aitrace.signing.core import load_signer, model_signing_skip_reason, write_model_signature
    from aitrace.store.digest import Hasher

    signer = load_signer(key, passphrase)
    reason = model_signing_skip_reason(signer.key_type)
    if reason:
        notes.append(reason)
        return {}
    out: dict[str, bytes] = {}
    hasher = Hasher(cache=None)
    with tempfile.TemporaryDirectory(prefix="aitrace-sig-") as tmp:
        for i, rel in enumerate(released):
            if "://" in rel.path or rel.path.startswith("/"):
                notes.append(f"no model signature for {rel.path}: not a file in the project")
                continue
            path = ws.resolve(rel.path)
            if not path.exists():
                notes.append(f"no model signature for {rel.path}: the file is not present")
                continue
            if hasher.digest(path).sha256 != rel.sha256:
                notes.append(f"no model signature for {rel.path}: the file changed since it was "
                             "recorded (its sha256 differs)")
                continue
            sig = Path(tmp) / f"{i}.sig"
            write_model_signature(path, key, sig, passphrase)
            out[f"{SIGNATURES_PREFIX}{rel.path}.sig"] = sig.read_bytes()
    return out


def build_bundle(
    workspace: Workspace,
    signers: Sequence[Signer],
    out: Path,
    include: Sequence[Path] = (),
    model_signing_key: Path | None = None,
    passphrase: bytes | None = None,
) -> BundleInfo:
    """Assemble, sign and write the record of ``workspace`` as a deterministic bundle.

    Args:
        workspace: the record to bundle (its chain must be intact).
        signers: keys signing the attestation (several allowed: engineer + release manager).
        out: the ``.aitrace`` file to write (atomically).
        include: files or directories to embed under ``artifacts/`` (streamed, never loaded).
        model_signing_key: the private key file to write OpenSSF model-signing ``.sig`` files
            for each released model file present (ECDSA keys only; skipped with a note
            otherwise); ``None`` writes none.
        passphrase: the passphrase of ``model_signing_key``, if encrypted.

    Returns:
        A ``BundleInfo`` describing the archive.

    Raises:
        InputError: no signer, no steps, an include outside the project.
        IntegrityError: the record's chain is broken.
        WorkspaceError: an evidence object is missing from the workspace.
    """
    from aitrace.bundle._zip.reader import write_deterministic_zip
    from aitrace.signing.approvals import list_approvals
    from aitrace.signing.core import IN_TOTO_PAYLOAD_TYPE, dsse_sign, make_statement

    if not signers:
        raise InputError("no signing key given", hint="pass --key KEY.key (from `aitrace keygen`)")
    ws = workspace
    steps, raw_steps = _read_steps(ws)
    record_path = ws.dir / "record.json"
    record_bytes = record_path.read_bytes()
    ref = RecordRef(id=ws.record.id, name=ws.record.name)
    notes: list[str] = []
    pending = [p for p in ws.pending() if p.alive]
    if pending:
        notes.append(f"{len(pending)} step(s) still in progress are not in the bundle")

    members: dict[str, bytes | Path] = {RECORD_MEMBER: record_bytes}
    for step, data in zip(steps, raw_steps, strict=True):
        members[step_member(step.seq)] = data
    for sha, step in sorted(referenced_objects(steps).items()):
        try:
            members[object_member(sha)] = ws.read_object(sha)
        except WorkspaceError as exc:
            raise WorkspaceError(f"cannot bundle: step {step.seq} ({step.stage}) references "
                                 f"{exc.message}", hint=exc.hint) from None
    for name, data in list_approvals(ws):
        members[APPROVALS_PREFIX + name] = data
    sbom = release_sbom_ref(steps)
    if sbom is not None:
        members[SBOM_MEMBER] = members[object_member(sbom[1])]

    predicate = predicate_for(ref, steps)
    if predicate.released_from and predicate.released_from.note:
        notes.append(predicate.released_from.note)
    if not predicate.released:
        notes.append("the record has no released model artifact: the statement's only subject "
                     "is manifest.json")
    signatures: dict[str, bytes] = {}
    if model_signing_key is not None and predicate.released:
        signatures = _model_signatures(ws, predicate.released, Path(model_signing_key),
                                       passphrase, notes)
    members.update(signatures)
    included = _include_members(ws, include)
    for name in included:
        if name in members:
            raise InputError(f"--include would add '{name}' twice", hint="include it once")
    members.update(included)

    entries = []
    for name in sorted(members):
        content = members[name]
        if isinstance(content, Path):
            sha, size = _hash_path(content)
        else:
            sha, size = hashlib.sha256(content).hexdigest(), len(content)
        entries.append(ManifestMember(path=name, size=size, sha256=sha))
    manifest = Manifest(format=BUNDLE_FORMAT, record=ref,
                        tool=ToolInfo(name=TOOL_NAME, version=__version__),
                        created_at=steps[-1].ended_at, chain_head=steps[-1].digest,
                        members=tuple(entries))
    manifest_bytes = pretty_bytes(to_json(manifest))
    manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
    subjects = [(r.path, r.sha256) for r in predicate.released]
    subjects.append((MANIFEST_MEMBER, manifest_sha))
    statement = make_statement(subjects, PREDICATE_TYPE, to_json(predicate))
    envelope = dsse_sign(canonical_bytes(statement), IN_TOTO_PAYLOAD_TYPE, signers)
    members[MANIFEST_MEMBER] = manifest_bytes
    members[ATTESTATION_MEMBER] = pretty_bytes(envelope)

    out = Path(out)
    write_deterministic_zip(out, list(members.items()))
    return BundleInfo(
        path=out, size=out.stat().st_size, members=len(members), manifest_sha256=manifest_sha,
        record_id=ref.id, created_at=manifest.created_at, chain_head=manifest.chain_head,
        steps=len(steps), signers=tuple(sorted(s.keyid for s in signers)),
        released=predicate.released, release_source=predicate.released_from,
        model_signatures=tuple(sorted(signatures)), included=tuple(sorted(included)),
        notes=tuple(notes))


# =========================================================================== reading


@dataclass(frozen=True)
class StepEntry:
    """One ``steps/NNNNNN.json`` member as read: its JSON and parsed step, or the problem."""

    member: str
    data: Any = None
    step: Step | None = None
    problem: str | None = None


class OpenedBundle:
    """A bundle opened for reading through ``archive.SafeArchive`` — never extracted.

    Open with ``with OpenedBundle.open(path) as b: ...``. Nothing here *verifies* anything:
    content is untrusted until ``aitrace.verify.verify_bundle`` says otherwise. Accessors parse
    lazily and cache; a malformed member raises ``InvalidBundle`` naming it (``step_entries``
    and ``object_bytes`` report instead of raising, for views that must show partial content).

    Stable accessors: ``path``, ``label``, ``archive``, ``names``, ``manifest``,
    ``manifest_bytes``, ``record``, ``record_id``, ``record_name``, ``step_entries``, ``steps``,
    ``step_member(step)``, ``envelope``, ``statement``, ``predicate``, ``signer_keyids()``,
    ``object_shas``, ``object_member(sha)``, ``object_bytes(sha)``, ``read_object(sha)``,
    ``approvals`` / ``approval_envelopes()``, ``sbom``, ``signature_members``,
    ``artifact_members``. It satisfies ``aitrace.report_model.RecordSource``.
    """

    def __init__(self, archive: SafeArchive, label: str | None = None) -> None:
        self.archive = archive
        self.path = Path(archive.path)
        self.label = label or str(archive.path)

    @classmethod
    def open(cls, path: Path, limits: ArchiveLimits | None = None) -> OpenedBundle:
        """Open and validate the archive's structure (``InvalidBundle`` if unsafe)."""
        from aitrace.bundle._zip.reader import SafeArchive

        return cls(SafeArchive.open(Path(path), limits))

    def close(self) -> None:
        """Release the archive."""
        self.archive.close()

    def __enter__(self) -> OpenedBundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ members

    @cached_property
    def names(self) -> tuple[str, ...]:
        """Member names, sorted."""
        return tuple(sorted(self.archive.names()))

    def _json(self, name: str) -> Any:
        return self.archive.read_json(name)

    @cached_property
    def manifest_bytes(self) -> bytes:
        """The exact bytes of ``manifest.json``."""
        return self.archive.read(MANIFEST_MEMBER, max_size=self.archive.limits.max_json_size)

    @cached_property
    def manifest(self) -> Manifest:
        """The parsed manifest."""
        from aitrace.bundle._zip.reader import parse_json

        data = parse_json(self.manifest_bytes, f"{self.label}: member '{MANIFEST_MEMBER}'",
                          self.archive.limits)
        return _parse(Manifest, data, MANIFEST_MEMBER, self.label)

    @cached_property
    def record(self) -> Record:
        """The parsed ``record.json``."""
        return _parse(Record, self._json(RECORD_MEMBER), RECORD_MEMBER, self.label)

    @property
    def record_id(self) -> str | None:
        """The record id (record.json, else the manifest), or None when neither parses."""
        try:
            return self.record.id
        except AitraceError:
            pass
        try:
            return self.manifest.record.id
        except AitraceError:
            return None

    @property
    def record_name(self) -> str | None:
        """The record's name, or None when it cannot be read."""
        try:
            return self.record.name
        except AitraceError:
            pass
        try:
            return self.manifest.record.name
        except AitraceError:
            return None

    @cached_property
    def step_members(self) -> tuple[str, ...]:
        """``steps/*.json`` members in name (= chain) order."""
        return tuple(n for n in self.names if STEP_MEMBER_RE.match(n))

    @cached_property
    def step_entries(self) -> tuple[StepEntry, ...]:
        """Every step member read and parsed; problems are reported, not raised."""
        out = []
        for name in self.step_members:
            try:
                data = self._json(name)
            except AitraceError as exc:
                out.append(StepEntry(member=name, problem=exc.message))
                continue
            try:
                step = Step.from_dict(data, source=f"{self.label}: member '{name}'")
            except AitraceError as exc:
                out.append(StepEntry(member=name, data=data, problem=exc.message))
                continue
            out.append(StepEntry(member=name, data=data, step=step))
        return tuple(out)

    @property
    def steps(self) -> tuple[Step, ...]:
        """The parsed steps in chain order; ``InvalidBundle`` names the first malformed one."""
        for e in self.step_entries:
            if e.step is None:
                raise InvalidBundle(e.problem or f"{self.label}: member '{e.member}' is invalid",
                                    hint="the bundle is damaged; verify it for details")
        return tuple(e.step for e in self.step_entries if e.step is not None)

    def step_member(self, step: Step) -> str | None:
        """The member holding ``step`` (None when the bundle has no such member)."""
        name = step_member(step.seq)
        return name if name in self.archive else None

    # ------------------------------------------------------------------ attestation

    @cached_property
    def envelope(self) -> dict[str, Any]:
        """The DSSE envelope (``attestation.dsse.json``), parsed but not verified."""
        data = self._json(ATTESTATION_MEMBER)
        if not isinstance(data, dict):
            raise InvalidBundle(f"{self.label}: member '{ATTESTATION_MEMBER}' is not a JSON "
                                "object", hint="the bundle is damaged")
        return data

    @cached_property
    def statement(self) -> dict[str, Any]:
        """The in-toto statement inside the envelope — *unverified* (see ``verify_bundle``)."""
        import base64
        import binascii

        from aitrace.signing.core import parse_statement

        payload = self.envelope.get("payload")
        try:
            raw = base64.b64decode(str(payload).encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise InvalidBundle(f"{self.label}: member '{ATTESTATION_MEMBER}': field 'payload' "
                                "is not base64", hint="the bundle is damaged") from None
        return parse_statement(raw, source=f"{self.label}: member '{ATTESTATION_MEMBER}'")

    @cached_property
    def predicate(self) -> Predicate:
        """The statement's production-record predicate — *unverified*."""
        return _parse(Predicate, self.statement.get("predicate"),
                      f"{ATTESTATION_MEMBER} predicate", self.label)

    def signer_keyids(self) -> list[str]:
        """Key ids named by the envelope's signatures (unverified; empty when unreadable)."""
        try:
            sigs = self.envelope.get("signatures")
        except AitraceError:
            return []
        if not isinstance(sigs, list):
            return []
        return [str(s.get("keyid")) for s in sigs if isinstance(s, dict) and s.get("keyid")]

    # ------------------------------------------------------------------ evidence

    @cached_property
    def object_shas(self) -> tuple[str, ...]:
        """Digests of the ``objects/sha256/*`` members."""
        return tuple(m.group(1) for n in self.names if (m := OBJECT_MEMBER_RE.match(n)))

    def object_member(self, sha256: str) -> str | None:
        """The member holding object ``sha256``, or None when absent."""
        name = object_member(sha256)
        return name if name in self.archive else None

    def object_bytes(self, sha256: str) -> bytes | None:
        """An evidence object's bytes as stored (digest NOT checked).

        None when the object is absent or unreadable.
        """
        name = self.object_member(sha256)
        if name is None:
            return None
        try:
            return self.archive.read(name, max_size=self.archive.limits.max_json_size)
        except AitraceError:
            return None

    def read_object(self, sha256: str) -> bytes:
        """An evidence object's bytes, checked against its digest (``InvalidBundle`` if not)."""
        name = object_member(sha256)
        data = self.archive.read(name, max_size=self.archive.limits.max_json_size)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise InvalidBundle(f"{self.label}: member '{name}' does not match its digest",
                                hint="the bundle was altered; verify it for details")
        return data

    @cached_property
    def approvals(self) -> dict[str, bytes]:
        """Approval envelopes by member name (``approvals/<sha256>.dsse.json``)."""
        return {n: self.archive.read(n, max_size=self.archive.limits.max_json_size)
                for n in self.names if APPROVAL_MEMBER_RE.match(n)}

    def approval_envelopes(self) -> Mapping[str, bytes]:
        """Same as ``approvals`` (the ``RecordSource`` protocol's name)."""
        return self.approvals

    @cached_property
    def sbom(self) -> dict[str, Any] | None:
        """The released model's CycloneDX BOM (``sbom.cdx.json``), or None when absent."""
        if SBOM_MEMBER not in self.archive:
            return None
        data = self._json(SBOM_MEMBER)
        if not isinstance(data, dict):
            raise InvalidBundle(f"{self.label}: member '{SBOM_MEMBER}' is not a JSON object",
                                hint="the bundle is damaged")
        return data

    @property
    def signature_members(self) -> tuple[str, ...]:
        """``signatures/*.sig`` members (OpenSSF model-signing)."""
        return tuple(n for n in self.names if member_kind(n) == "signature")

    @property
    def artifact_members(self) -> tuple[str, ...]:
        """``artifacts/*`` members (embedded with ``--include``)."""
        return tuple(n for n in self.names if member_kind(n) == "artifact")


def _parse(cls: type[_T], data: Any, member: str, label: str) -> _T:
    try:
        return from_json(cls, data, source=f"{label}: member '{member}'")
    except InputError as exc:
        raise InvalidBundle(exc.message, hint="the bundle is damaged or was not written by "
                                              "this version of aitrace") from None
