"""Times in the record: UTC, RFC 3339, one way of writing them and one of reading them back.

Steps write ``started_at``/``ended_at`` with microseconds (``2026-12-01T11:49:44.123456Z``);
approvals write whole seconds. Anything that reads a time from a record or bundle goes through
``parse_utc``, which accepts both and refuses what is not an RFC 3339 UTC instant.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aitrace.errors import InputError

RFC3339_UTC = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z"
"""The pattern of a time in the record (UTC, ``Z``, optional fraction)."""

_RFC3339 = re.compile(RFC3339_UTC)


def utc_now() -> str:
    """Now, as a step records it: UTC, RFC 3339 with microseconds and a ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now_seconds() -> str:
    """Now to the second (approvals and other human-facing signed statements)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> datetime | None:
    """A record's time as an aware ``datetime``, or ``None`` when it is not RFC 3339 UTC."""
    if not isinstance(text, str) or not _RFC3339.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def to_millis(text: str | None) -> int | None:
    """A record's time as Unix milliseconds (how MLflow stores run times), or ``None``."""
    moment = parse_utc(text) if text else None
    return int(moment.timestamp() * 1000) if moment is not None else None


def iso_ms(moment: datetime) -> str:
    """An instant as a record time with milliseconds (traces, feedback): UTC, RFC 3339, ``Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_instant(text: str, *, what: str) -> datetime:
    """A user's time — RFC 3339 (``2026-12-31T09:00:00Z``) or a date (midnight UTC) — as aware.

    For options such as ``verify --at`` and ``monitor traces --since``; a time without a zone
    is taken as UTC.

    Raises:
        InputError: neither a time nor a date (``what`` names the option).
    """
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{what} {text!r} is not a time",
                         hint="give an RFC 3339 time such as 2026-12-31T09:00:00Z or a date "
                              "such as 2026-12-31") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
