"""Writing a bundle: read the chain under the lock, collect members, sign, write deterministically.

The archive is deterministic: members sorted, fixed timestamps and modes
(``aitrace.bundle._zip``), ``created_at`` taken from the last step (never the wall clock),
deterministic signatures (``aitrace.signing``) — the same record gives the same bytes. Large
files are streamed, never loaded whole. Bundles are written in format v2 (RFC 8785 manifest,
envelope and statement; ``production-record/v2`` predicate); steps, ``record.json``, approvals
and evidence are copied byte for byte as the workspace holds them, whatever their format.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aitrace._version import __version__
from aitrace.bundle.format import (
    APPROVALS_PREFIX,
    ARTIFACTS_PREFIX,
    ATTESTATION_MEMBER,
    BUNDLE_FORMAT,
    MANIFEST_MEMBER,
    PREDICATE_TYPE,
    RECORD_MEMBER,
    SBOM_MEMBER,
    SIGNATURES_PREFIX,
    TOOL_NAME,
    Manifest,
    ManifestMember,
    RecordRef,
    Released,
    ReleaseSource,
    ToolInfo,
    object_member,
    step_member,
)
from aitrace.bundle.release import (
    listing_objects,
    predicate_for,
    referenced_objects,
    release_sbom_ref,
)
from aitrace.errors import InputError, IntegrityError, WorkspaceError
from aitrace.record._model import to_json
from aitrace.record.jsonio import canonical_bytes
from aitrace.record.models import STEP_FORMAT_V1, Step
from aitrace.record.refs import DIR_HASH, is_uri

if TYPE_CHECKING:
    from aitrace.signing.keys import Signer
    from aitrace.store.workspace import Workspace


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
        report = ws.chain()  # reads each file once: the bytes checked are the bytes bundled
        if report.broken:
            b = report.broken
            raise IntegrityError(f"cannot bundle: {b.file}: {b.reason}",
                                 hint="the record's history is damaged; restore the step file")
        raw: list[bytes] = []
        for stored in report.stored:
            if stored.digest != stored.step.digest:
                path = ws.dir / "steps" / f"{stored.step.seq:06d}.json"
                raise IntegrityError(
                    f"{path} is not the step as aitrace writes it (its digest differs from the "
                    "digest of its parsed content)",
                    hint="restore the step file from a trusted copy, then bundle again")
            raw.append(stored.data)
    if not report.steps:
        raise InputError(f"the record in {ws.root} has no steps to bundle",
                         hint="record at least one stage (`aitrace run --stage ... -- cmd`)")
    return report.steps, raw


def _include_members(ws: Workspace, include: Sequence[Path]) -> dict[str, Path]:
    """``artifacts/<path>`` members for ``--include``: files inside the project only.

    Every path is resolved before the containment check, so neither ``..``, a link, nor a
    symlinked parent directory (``linkdir/passwd`` with ``linkdir -> /etc``) reaches outside.
    """
    from aitrace.store.digest import link_escape

    out: dict[str, Path] = {}
    for given in include:
        p = Path(given)
        if not p.exists():
            raise InputError(f"--include {given}: no such file or directory",
                             hint="give a file or directory inside the project")
        rel = ws.relpath(p)
        if is_uri(rel) or rel.startswith("/") or rel == ".." or rel.startswith("../"):
            raise InputError(f"--include {given} lies outside the project {ws.root}",
                             hint="copy the file into the project, or record it by digest only")
        if p.is_symlink():
            raise InputError(f"--include {given} is a symbolic link",
                             hint="include the file it points to")
        escape = link_escape(p, ws.root)
        if escape is not None:
            raise InputError(f"--include {given} leads outside the project {ws.root} through a "
                             f"symbolic link in its path (to {escape})",
                             hint="copy the file into the project, or record it by digest only")
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
    from aitrace.signing.keys import load_signer
    from aitrace.signing.model_signing import model_signing_skip_reason, write_model_signature
    from aitrace.store.digest import Hasher

    signer = load_signer(key, passphrase)
    reason = model_signing_skip_reason(signer.key_type)
    if reason:
        notes.append(reason)
        return {}
    out: dict[str, bytes] = {}
    hasher = Hasher(cache=None)
    # A v1 record names a directory by its aitrace.dir/v1 digest.
    legacy = Hasher(cache=None, legacy_dirs=True)
    with tempfile.TemporaryDirectory(prefix="aitrace-sig-") as tmp:
        for i, rel in enumerate(released):
            if is_uri(rel.path) or rel.path.startswith("/"):
                notes.append(f"no model signature for {rel.path}: not a file in the project")
                continue
            path = ws.resolve(rel.path)
            if not path.exists():
                notes.append(f"no model signature for {rel.path}: the file is not present")
                continue
            algorithm, value = rel.digest
            current = (hasher if algorithm == DIR_HASH or path.is_file() else legacy)
            if current.digest(path).sha256 != value:
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
    from aitrace.bundle._zip.writer import write_deterministic_zip
    from aitrace.signing.approvals import list_approvals
    from aitrace.signing.dsse import IN_TOTO_PAYLOAD_TYPE, dsse_sign, make_statement

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
    for sha in sorted(listing_objects(steps)):
        if object_member(sha) not in members and ws.object_path(sha).is_file():
            members[object_member(sha)] = ws.read_object(sha)
    for name, data in list_approvals(ws):
        members[APPROVALS_PREFIX + name] = data
    sbom = release_sbom_ref(steps)
    if sbom is not None:
        members[SBOM_MEMBER] = members[object_member(sbom[1])]

    if steps[-1].format == STEP_FORMAT_V1:
        notes.append("the record's steps are format v1 (Python canonical JSON): run `aitrace "
                     "migrate` so that the chain can be checked with sha256sum from here on")
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
    manifest_bytes = canonical_bytes(to_json(manifest), what=MANIFEST_MEMBER)
    manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
    subjects: list[tuple[str, str | dict[str, str]]] = [
        (r.path, dict([r.digest])) for r in predicate.released]
    subjects.append((MANIFEST_MEMBER, manifest_sha))
    statement = make_statement(subjects, PREDICATE_TYPE, to_json(predicate))
    envelope = dsse_sign(canonical_bytes(statement, what="the in-toto statement"),
                         IN_TOTO_PAYLOAD_TYPE, signers)
    members[MANIFEST_MEMBER] = manifest_bytes
    members[ATTESTATION_MEMBER] = canonical_bytes(envelope, what=ATTESTATION_MEMBER)

    out = Path(out)
    write_deterministic_zip(out, list(members.items()))
    return BundleInfo(
        path=out, size=out.stat().st_size, members=len(members), manifest_sha256=manifest_sha,
        record_id=ref.id, created_at=manifest.created_at, chain_head=manifest.chain_head,
        steps=len(steps), signers=tuple(sorted(s.keyid for s in signers)),
        released=predicate.released, release_source=predicate.released_from,
        model_signatures=tuple(sorted(signatures)), included=tuple(sorted(included)),
        notes=tuple(notes))



