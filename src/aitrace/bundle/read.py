"""Reading a bundle: ``OpenedBundle``, typed access to an untrusted archive that is never extracted.

Used by ``aitrace.verify`` and the auditor's views. Nothing here verifies anything; accessors
parse lazily through the hardened reader and cache, and report malformed members by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aitrace.bundle.format import (
    APPROVAL_MEMBER_RE,
    ATTESTATION_MEMBER,
    MANIFEST_MEMBER,
    OBJECT_MEMBER_RE,
    RECORD_MEMBER,
    SBOM_MEMBER,
    STEP_MEMBER_RE,
    Manifest,
    Predicate,
    member_kind,
    object_member,
    step_member,
)
from aitrace.errors import AitraceError, InputError, InvalidBundle
from aitrace.record._model import from_json
from aitrace.record.models import Record, Step
from aitrace.record.refs import bytes_match

if TYPE_CHECKING:
    from aitrace.bundle._zip.limits import ArchiveLimits
    from aitrace.bundle._zip.reader import SafeArchive
    from aitrace.signing.dsse import Envelope, Statement


_T = TypeVar("_T")


# =========================================================================== reading


@dataclass(frozen=True)
class StepEntry:
    """One ``steps/NNNNNN.json`` member as read: bytes, JSON, parsed step, or the problem.

    ``digest`` is what the member stands for in the chain (``aitrace.record.chain.step_digest``:
    v2, the SHA-256 of ``raw``), set whenever the member parses as JSON.
    """

    member: str
    data: Any = None
    step: Step | None = None
    problem: str | None = None
    raw: bytes | None = None
    digest: str | None = None


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
        from aitrace.record.jsonio import parse_untrusted

        data = parse_untrusted(self.manifest_bytes, f"{self.label}: member '{MANIFEST_MEMBER}'",
                               limits=self.archive.limits.json)
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
        from aitrace.record.chain import parse_step, step_digest

        out = []
        for name in self.step_members:
            try:
                raw = self.archive.read(name, max_size=self.archive.limits.max_json_size)
                data = parse_step(raw, f"{self.archive.path}: member '{name}'",
                                  limits=self.archive.limits.json)
            except AitraceError as exc:
                out.append(StepEntry(member=name, problem=exc.message))
                continue
            digest = step_digest(raw, data)
            try:
                step = Step.from_dict(data, source=f"{self.label}: member '{name}'")
            except AitraceError as exc:
                out.append(StepEntry(member=name, data=data, problem=exc.message, raw=raw,
                                     digest=digest))
                continue
            out.append(StepEntry(member=name, data=data, step=step, raw=raw, digest=digest))
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
    def envelope(self) -> Envelope:
        """The DSSE envelope (``attestation.dsse.json``), parsed but not verified."""
        from aitrace.signing.dsse import Envelope

        data = self.archive.read(ATTESTATION_MEMBER, max_size=self.archive.limits.max_json_size)
        return Envelope.from_bytes(data, f"{self.label}: member '{ATTESTATION_MEMBER}'",
                                   limits=self.archive.limits.json)

    @cached_property
    def statement(self) -> Statement:
        """The in-toto statement in the envelope's payload — *unverified* (``verify_bundle``)."""
        from aitrace.signing.dsse import Statement

        return Statement.from_bytes(self.envelope.payload,
                                    f"{self.label}: member '{ATTESTATION_MEMBER}'",
                                    limits=self.archive.limits.json)

    @cached_property
    def predicate(self) -> Predicate:
        """The statement's production-record predicate — *unverified*."""
        return _parse(Predicate, self.statement.predicate,
                      f"{ATTESTATION_MEMBER} predicate", self.label)

    def signer_keyids(self) -> list[str]:
        """Key ids named by the envelope's signatures (unverified; empty when unreadable)."""
        try:
            return [s.keyid for s in self.envelope.signatures if s.keyid]
        except AitraceError:
            return []

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
        if not bytes_match(data, sha256):
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


