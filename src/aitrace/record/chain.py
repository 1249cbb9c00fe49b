"""The rules a chain of steps obeys across formats, shared by the workspace and the verifier.

A step's *digest* depends on its format (``aitrace.record.models``): v2, the SHA-256 of the
step file's bytes, which must be the RFC 8785 form of the step; v1, the SHA-256 of Python's
canonical JSON of the parsed step. Along one chain the formats go v1 … v1, then (optionally) one
migration step, then v2 … v2 — never back, and never from v1 to v2 without the migration step
that pins the v1 files. A chain that starts in v2 has no migration step.

``step_digest`` and ``link_problem`` apply those rules to one step at a time;
``migration_problems`` checks what a migration step vouches for against the steps before it.
The workspace (``Workspace.chain``) and ``verify_bundle`` both call them, so a workspace that
reads as intact bundles into an archive that verifies, and nothing else does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aitrace.record.jsonio import (
    is_canonical,
    jcs_number,
    legacy_canonical_digest,
    parse_untrusted,
)
from aitrace.record.models import STEP_FORMAT_V1, STEP_FORMAT_V2, Step


@dataclass(frozen=True)
class StoredStep:
    """A step as read from a file or archive member: its bytes, the step, its digest."""

    data: bytes
    step: Step
    digest: str = ""
    """``step_digest`` of the bytes as read (what the next step links to)."""

    @property
    def file_sha256(self) -> str:
        """``sha256sum`` of the file."""
        return hashlib.sha256(self.data).hexdigest()


def parse_step(data: bytes, source: str, **options: Any) -> Any:
    """Parse a step file's bytes with ``parse_untrusted`` (``options`` are passed on).

    A v2 step's numbers are read as RFC 8785 defines them (doubles, ``jcs_number``), so a metric
    like ``1.5e18``, which JCS writes as ``1500000000000000000``, comes back as the float it was
    and re-serialises to the same bytes. A v1 step keeps Python's reading, which its digest was
    computed over.
    """
    big = False

    def note_int(text: str) -> int:
        nonlocal big
        n = int(text)
        big = big or not -(2**53) < n < 2**53
        return n

    doc = parse_untrusted(data, source, parse_int=note_int, **options)
    if big and isinstance(doc, dict) and doc.get("format") == STEP_FORMAT_V2:
        doc = parse_untrusted(data, source, parse_int=jcs_number, **options)
    return doc


def step_digest(data: bytes, doc: Any) -> str:
    """The digest a step file stands for (what the next step's ``prev`` must hold).

    ``doc`` is the JSON parsed from ``data``. Its ``format`` decides: v1 digests the parsed
    document's Python-canonical JSON; everything else — v2, or a document claiming no known
    format — is its file's plain SHA-256 (a file is never trusted to pick the weaker rule by
    being malformed).
    """
    if isinstance(doc, dict) and doc.get("format") == STEP_FORMAT_V1:
        return legacy_canonical_digest(doc)
    return hashlib.sha256(data).hexdigest()


def encoding_problem(data: bytes, doc: Any) -> str | None:
    """Why a step file's bytes are not what its format writes (None: they are).

    A v2 step is its RFC 8785 canonical bytes and nothing else; v1 files were pretty-printed
    and their digest does not depend on layout.
    """
    if isinstance(doc, dict) and doc.get("format") == STEP_FORMAT_V2 and not is_canonical(data):
        return ("is not in RFC 8785 canonical form (format v2 steps are written as their "
                "canonical bytes, so that sha256sum of the file is the step's digest)")
    return None


def link_problem(previous: Step | None, step: Step) -> str | None:
    """Why ``step`` may not follow ``previous`` in a chain's format sequence (None: it may)."""
    if step.is_migration:
        if previous is not None and previous.format != STEP_FORMAT_V1:
            return ("is a migration step after a format v2 step: a chain is migrated once, "
                    "from v1")
        return None
    if step.format == STEP_FORMAT_V1:
        if previous is not None and previous.format == STEP_FORMAT_V2:
            return ("is a format v1 step after a format v2 step: a chain never goes back to v1 "
                    "(a downgrade would let a step escape sha256sum checking)")
        return None
    if previous is not None and previous.format == STEP_FORMAT_V1:
        return ("is a format v2 step directly after a v1 step: a v1 chain continues in v2 only "
                "through the migration step `aitrace migrate` appends")
    return None


def migration_problems(step: Step, before: Sequence[StoredStep],
                       record_file: bytes | None) -> list[str]:
    """What a migration step vouches for that the steps before it do not bear out.

    Args:
        step: the migration step.
        before: every step before it, in chain order, with its file bytes.
        record_file: the bytes of ``record.json`` (None: not available to compare).
    """
    m = step.migration
    if m is None:
        return []
    problems: list[str] = []
    listed = [(x.seq, x.digest, x.file_sha256) for x in m.steps]
    actual = [(s.step.seq, s.digest or s.step.digest, s.file_sha256) for s in before]
    if listed != actual:
        first = next((i for i, (a, b) in enumerate(zip(listed, actual, strict=False)) if a != b),
                     min(len(listed), len(actual)))
        problems.append(f"the migration step pins {len(listed)} v1 step(s) but {len(actual)} "
                        f"precede it; they first differ at step {first + 1} (a v1 step file "
                        "was changed, added or removed)")
    if record_file is not None and hashlib.sha256(record_file).hexdigest() != \
            m.record_file_sha256:
        problems.append("record.json does not hash to the sha256 the migration step pins")
    return problems
