r"""Personal-data detectors, shared by the GX privacy pack and by redaction of monitored text.

One set of detectors serves two uses, so they can never disagree about what personal data is:

* the **privacy pack** (``aitrace.evidence.gx.packs``) turns them into GX expectations over the
  columns of a dataset and stores counts only;
* **redaction** (``redact``) removes them from prompts, responses, review notes and user
  feedback before any of it is written to the record, and counts what it removed.

=============  ==============================================================================
detector       finds
=============  ==============================================================================
``email``      e-mail addresses (:data:`EMAIL_RE`)
``phone``      phone numbers (:data:`PHONE_RE`): Taiwan mobile ``09xx-xxx-xxx`` /
               ``0912345678``, ``+886 9xx…`` and ``+886 2 …`` forms, other international
               ``+CC …`` numbers, North-American ``(xxx) xxx-xxxx``
``card``       payment-card numbers: 13–19 digits (spaces/dashes allowed) *and* a valid Luhn sum
``tw_id``      Taiwan national ID numbers: ``[A-Z][1289]\d{8}`` *and* a valid check digit
               (national ID cards and the 2021 resident-certificate numbers share it)
``ipv4``       IPv4 addresses (:data:`IPV4_RE`; the pack only)
``ipv6``       IPv6 addresses (:data:`IPV6_RE`; the pack only)
``secret``     credentials in URLs and values of secret-named environment variables
               (``aitrace.hooks.redact.scrub``; redaction only)
=============  ==============================================================================

The ``*_RE`` patterns are written for both Python ``re`` (pandas) and Java (Spark ``rlike``):
no look-behind, boundaries as "start or a non-digit" groups, no capturing groups. Redaction
needs the exact span of a match, so it compiles the same cores with look-arounds instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from aitrace.hooks.redact import REDACTED, scrub, strip_url_credentials

Detector = Literal["email", "phone", "card", "tw_id", "secret"]
REDACTION_DETECTORS: tuple[Detector, ...] = ("secret", "email", "card", "tw_id", "phone")
"""What ``redact`` removes, in the order it looks (markers hold no digits, so later
detectors never match an earlier marker)."""

EMAIL_RE = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
_PHONE_CORE = (
    r"09[0-9]{2}[- ]?[0-9]{3}[- ]?[0-9]{3}"                       # TW mobile 0912-345-678
    r"|\+886[- ]?\(?0?\)?[- ]?9[0-9]{2}[- ]?[0-9]{3}[- ]?[0-9]{3}"  # +886 912 345 678
    r"|\+886[- ]?\(?0?\)?[- ]?[2-8][- ]?[0-9]{3,4}[- ]?[0-9]{4}"    # +886 2 2345 6789
    r"|\+[1-9][0-9]{0,2}[- ]?[0-9]{2,4}[- ]?[0-9]{3,4}[- ]?[0-9]{3,4}"  # other +CC numbers
    r"|\([0-9]{3}\) ?[0-9]{3}-[0-9]{4}"                           # (555) 123-4567
)
PHONE_RE = rf"(?:^|[^0-9])(?:{_PHONE_CORE})(?:[^0-9]|$)"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_RE = rf"(?:^|[^0-9.]){_OCTET}(?:\.{_OCTET}){{3}}(?:[^0-9.]|$)"
_H = r"[0-9A-Fa-f]{1,4}"
# IPv6 needs eight groups or "::" and alphanumeric boundaries, so "std::bad_alloc",
# "12:30:45" and MAC addresses are not addresses.
IPV6_RE = (
    r"(?:^|[^0-9A-Za-z:])(?:"
    rf"(?:{_H}:){{7}}{_H}"
    rf"|(?:{_H}:){{2,7}}:"
    rf"|(?:{_H}:){{1,6}}:{_H}"
    rf"|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}"
    rf"|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}"
    rf"|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}"
    rf"|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}"
    rf"|{_H}:(?::{_H}){{1,6}}"
    rf"|:(?::{_H}){{1,7}}"
    r")(?:[^0-9A-Za-z:]|$)"
)
# Candidates for the checksum detectors (the checksum then rules most of them out).
CARD_CANDIDATE_RE = r"(?:^|[^0-9])[0-9](?:[ -]?[0-9]){12,18}(?:[^0-9]|$)"
TW_ID_CANDIDATE_RE = r"(?:^|[^A-Za-z0-9])[A-Z][1289][0-9]{8}(?:[^0-9]|$)"

_EMAIL = re.compile(EMAIL_RE)
_PHONE = re.compile(rf"(?<![0-9])(?:{_PHONE_CORE})(?![0-9])")
_CARD_CANDIDATE = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
_TW_ID_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])([A-Z])([1289][0-9]{8})(?![0-9])")
# Letter values of the Taiwan ID check-digit algorithm (I, O, W... are out of order).
_TW_LETTER = dict(zip("ABCDEFGHJKLMNPQRSTUVXYWZIO", range(10, 36), strict=True))


# ---------------------------------------------------------------------------- checksums


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn (mod 10) check used by payment cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_spans(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _CARD_CANDIDATE.finditer(text):
        digits = m.group(0).replace(" ", "").replace("-", "")
        # Runs of one digit ("0000 0000 0000 0") pass Luhn but are placeholders, not cards.
        if 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits):
            out.append(m.span())
    return out


def contains_card_number(text: str) -> bool:
    """Whether ``text`` holds a 13–19 digit number (spaces/dashes allowed) with a valid Luhn sum."""
    return bool(_card_spans(text))


def tw_id_ok(value: str) -> bool:
    """Whether ``value`` (``A123456789``) is a Taiwan ID number with a valid check digit."""
    if len(value) != 10 or value[0] not in _TW_LETTER or not value[1:].isdigit():
        return False
    code = _TW_LETTER[value[0]]
    total = code // 10 + (code % 10) * 9
    total += sum(int(d) * w for d, w in zip(value[1:9], range(8, 0, -1), strict=True))
    total += int(value[9])
    return total % 10 == 0


def _tw_id_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _TW_ID_CANDIDATE.finditer(text)
            if tw_id_ok(m.group(1) + m.group(2))]


def contains_tw_id(text: str) -> bool:
    """Whether ``text`` holds a Taiwan national ID / resident certificate number."""
    return bool(_tw_id_spans(text))


# ---------------------------------------------------------------------------- redaction


@dataclass(frozen=True)
class Redacted:
    """Text with personal data and secrets removed, and how many of each were removed."""

    text: str
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """How many things were removed."""
        return sum(self.counts.values())


def marker(detector: str) -> str:
    """What replaces one finding of ``detector`` in redacted text (``[REDACTED:email]``)."""
    return f"[REDACTED:{detector}]"


def _spans(detector: Detector, text: str) -> list[tuple[int, int]]:
    if detector == "email":
        return [m.span() for m in _EMAIL.finditer(text)]
    if detector == "phone":
        return [m.span() for m in _PHONE.finditer(text)]
    if detector == "card":
        return _card_spans(text)
    if detector == "tw_id":
        return _tw_id_spans(text)
    return []  # "secret" is handled by the hooks' scrubber


def _replace(text: str, spans: list[tuple[int, int]], detector: str) -> str:
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(marker(detector))
        last = end
    out.append(text[last:])
    return "".join(out)


def _scrub_secrets(text: str, secrets: Iterable[str] | None) -> tuple[str, int]:
    urls = sum(1 for token in text.split() if strip_url_credentials(token) != token)
    scrubbed = scrub(text, secrets)
    values = scrubbed.count(REDACTED) - text.count(REDACTED)
    return scrubbed.replace(REDACTED, marker("secret")), urls + max(values, 0)


def redact(text: str, *, secrets: Iterable[str] | None = None) -> Redacted:
    """``text`` without e-mail addresses, phone numbers, payment cards, national IDs and secrets.

    Each finding becomes ``[REDACTED:<detector>]`` (a URL's credentials are dropped, as the
    hooks do); the counts say how many of each were found. ``secrets`` are extra values to
    remove besides those of secret-named environment variables.
    """
    counts: dict[str, int] = {}
    out, n = _scrub_secrets(text, secrets)
    if n:
        counts["secret"] = n
    # Until nothing is found: removing one finding can expose a neighbour that its digits hid
    # from a boundary ("0912-345-678+886 2 2345 6789"). Every finding holds a digit or an "@"
    # and its marker holds neither, so each pass removes some and the loop ends.
    found = True
    while found:
        found = False
        for detector in REDACTION_DETECTORS:
            if detector == "secret":
                continue
            spans = _spans(detector, out)
            if spans:
                found = True
                counts[detector] = counts.get(detector, 0) + len(spans)
                out = _replace(out, spans, detector)
    return Redacted(text=out, counts=counts)


def findings(text: str) -> dict[str, int]:
    """How many findings of each personal-data detector ``text`` holds (secrets not included).

    Verification uses this to check that text stored as redacted really holds none.
    """
    return {d: len(s) for d in REDACTION_DETECTORS if d != "secret" and (s := _spans(d, text))}


def add_counts(*counts: Mapping[str, int]) -> dict[str, int]:
    """The sum of several redaction counts, keys sorted."""
    total: dict[str, int] = {}
    for c in counts:
        for k, v in c.items():
            total[k] = total.get(k, 0) + int(v)
    return dict(sorted(total.items()))
