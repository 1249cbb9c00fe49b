"""The record store interface: where a record's steps, evidence objects and markers live.

Two implementations: the embedded file workspace (``aitrace.store.workspace.Workspace``,
``.aitrace/steps/NNNNNN.json`` under a ``flock``; the default for one person) and a shared
PostgreSQL store (``aitrace.store.postgres``) that several directories on several machines join
by record name. Both hold the same bytes — a step is its RFC 8785 file, the chain is the same
hash chain — so ``bundle`` and ``verify`` cannot tell them apart.

Every implementation keeps the same promises: an append is atomic and linear (the step built by
``build(seq, prev)`` lands at the head or not at all), a step is validated exactly as readers
will parse it before it is written (``validated_step``), and nothing stored is ever changed.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable
from dataclasses import dataclass

from aitrace.errors import InputError, WorkspaceError
from aitrace.record.chain import StoredStep
from aitrace.record.models import Actor, Artifact, Record, Step, StepFormat
from aitrace.store.markers import Pending

StepBuilder = Callable[[int, "str | None"], Step]
"""``build(seq, prev_digest)``: the step to append at that chain position."""


class StoreUnavailable(WorkspaceError):  # noqa: N818 - reads as the condition it names
    """The shared record store cannot be reached (the message names it, password redacted)."""


@dataclass(frozen=True)
class ChainBreak:
    """Where and why the hash chain does not hold."""

    seq: int
    step_id: str | None
    file: str
    reason: str


@dataclass(frozen=True)
class ChainReport:
    """Result of recomputing the hash chain over the stored steps."""

    steps: tuple[Step, ...]
    head: str | None
    broken: ChainBreak | None
    stored: tuple[StoredStep, ...] = ()
    """The intact steps with the exact bytes read (bundling copies these, never re-reads)."""

    @property
    def intact(self) -> bool:
        """Whether every step parsed and linked to its predecessor."""
        return self.broken is None


@dataclass(frozen=True)
class StepPage:
    """A slice of the chain in order, for listing big records without reading them whole."""

    steps: tuple[Step, ...]
    total: int
    """How many steps the record holds."""


class RecordStore(abc.ABC):
    """What a record store does; ``aitrace.store.workspace.Workspace`` routes to one."""

    @property
    @abc.abstractmethod
    def record(self) -> Record:
        """The record's identity."""

    @abc.abstractmethod
    def chain(self) -> ChainReport:
        """Every step with its exact bytes, the chain recomputed; the first break named."""

    @abc.abstractmethod
    def page(self, start: int, limit: int) -> StepPage:
        """Steps ``start`` .. ``start + limit - 1`` (1-based seq), parsed, in chain order."""

    @abc.abstractmethod
    def append(self, build: StepBuilder) -> Step:
        """Append ``build(seq, prev)`` at the head atomically; the step as written."""

    @abc.abstractmethod
    def append_format(self) -> StepFormat:
        """The format the next step is written in."""

    @abc.abstractmethod
    def put_object(self, data: bytes) -> str:
        """Store an evidence object content-addressed; its sha256 (idempotent)."""

    @abc.abstractmethod
    def read_object(self, sha256: str) -> bytes:
        """An evidence object's bytes, checked against its digest."""

    @abc.abstractmethod
    def begin(self, step_id: str, stage: str, started_at: str, actor: Actor,
              argv: tuple[str, ...] | None, materials: tuple[Artifact, ...]) -> object:
        """Leave the start marker of a step in progress."""

    @abc.abstractmethod
    def end(self, step_id: str) -> None:
        """Remove a step's start marker (written or abandoned)."""

    @abc.abstractmethod
    def pending(self) -> list[Pending]:
        """The start markers of steps in progress (or interrupted)."""


_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/@:\s]*):[^/@\s]*@", re.IGNORECASE)
_PARAM_PASSWORD = re.compile(r"(?P<key>password=)[^&\s]*", re.IGNORECASE)


def redact_url(text: str) -> str:
    """``text`` with the password of every URL in it (``user:secret@``, ``password=``) hidden.

    Used for every message that names a store, and for what ``aitrace.yaml`` keeps.
    """
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:***@", text)
    return _PARAM_PASSWORD.sub(lambda m: f"{m.group('key')}***", text)


def strip_password(url: str) -> str:
    """``url`` without its password at all (what ``aitrace.yaml`` records)."""
    url = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}@", url)
    url = re.sub(r"[?&]password=[^&\s]*", "", url, flags=re.IGNORECASE)
    return url


def validated_step(step: Step) -> Step:
    """``step`` as every reader will parse it, or ``InputError`` before anything is written.

    The record is append-only: a step that its own readers would refuse (a malformed digest, a
    value of the wrong type) would make the whole history unreadable from then on. So each
    step is parsed back from the JSON it is about to be written as — the same parse ``chain()``
    and ``verify`` apply — and refused here instead.
    """
    try:
        return Step.from_dict(step.to_dict(), source=f"step {step.seq} ({step.stage})")
    except InputError as exc:
        raise InputError(f"refusing to record {exc.message.removeprefix('invalid document in ')}",
                         hint="nothing was written and the record is intact; correct the value "
                              "named above and record the step again") from None
