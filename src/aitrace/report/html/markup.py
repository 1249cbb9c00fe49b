"""Escaped HTML building blocks: every value from a bundle goes through ``e`` first.

Callers import this module as ``h`` and build pages from ``h.e``, ``h.pill``, ``h.table``…;
cells and ``kv`` values passed in are already-safe HTML made with these same helpers.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""No scripts, no fetches, inline styles and data images only."""

TRUST_PILL = {"verified": ("trusted", "ok"), "unverified": ("untrusted", "warn"),
              "failed": ("FAILED VERIFICATION", "bad")}
"""Trust labels in the integrity answer's words: only integrity decides them, never policy."""


def e(value: object) -> str:
    """Any value as escaped HTML text (quotes included): the only way text reaches a page."""
    return escape("" if value is None else str(value), quote=True)


def pill(text: str, tone: str) -> str:
    """A coloured label; ``tone`` is one of ours (ok, bad, warn, info, none)."""
    tone = tone if tone in ("ok", "bad", "warn", "info", "none") else "info"
    return f'<span class="pill {tone}">{e(text)}</span>'


def any_wrap(value: object) -> str:
    """Escaped text that may break anywhere (a digest or URI in a table cell)."""
    return f'<span class="any">{e(value)}</span>'


def code(value: object) -> str:
    """A value as escaped inline code."""
    return f"<code>{e(value)}</code>"


def sha(value: str | None, n: int = 12) -> str:
    """A digest shortened to ``n`` hex digits, with the full value on hover."""
    if not value:
        return '<span class="faint">—</span>'
    return f'<code title="sha256:{e(value)}">{e(value[:n])}</code>'


def size(n: int | None) -> str:
    """A byte count for people (B, KiB, MiB, GiB)."""
    if n is None:
        return ""
    amount = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{n} B"  # pragma: no cover


def num(value: Any) -> str:
    """A number compactly (thousands separators, 4 significant digits), anything else escaped."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return e(value)
    if isinstance(value, int) or float(value).is_integer():
        return e(f"{value:,.0f}")
    return e(f"{value:.4g}")


def table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table; ``head`` is plain text (escaped), cells are already-safe HTML."""
    body = "".join("<tr>" + "".join(f"<td{cell_cls(c)}>{c}</td>" for c in row) + "</tr>"
                   for row in rows)
    if not body:
        return '<p class="faint">None recorded.</p>'
    th = "".join(f"<th>{e(x)}</th>" for x in head)
    return f'<table class="{e(cls)}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def cell_cls(cell: str) -> str:
    """The class of a cell that holds a short number (right-aligned), else nothing."""
    short_number = cell[:1].isdigit() and len(cell) < 24 and " " not in cell.strip()
    return ' class="num"' if short_number else ""


def kv(pairs: Iterable[tuple[str, str]]) -> str:
    """A key/value table of already-safe values (empty values are left out)."""
    rows = "".join(f"<tr><th>{e(k)}</th><td class='wrap'>{v}</td></tr>" for k, v in pairs if v)
    return f'<table class="kv"><tbody>{rows}</tbody></table>' if rows else ""


def trust(label: str) -> str:
    """The pill for a trust label (verified, unverified, failed)."""
    text, tone = TRUST_PILL.get(label, ("unverified", "warn"))
    return pill(text, tone)


def when(ts: str | None) -> str:
    """An RFC 3339 time as ``YYYY-MM-DD HH:MM:SS UTC``."""
    if not ts:
        return ""
    text = ts.replace("T", " ").replace("Z", "")
    return text.split(".")[0] + " UTC"


def summary(values: Mapping[str, Any]) -> str:
    """An evidence summary as one short line of text."""
    text = ", ".join(f"{k}: {v}" for k, v in values.items())
    return text if len(text) < 160 else text[:159] + "…"


def shell_quote(arg: str) -> str:
    """A command-line argument as a POSIX shell would need it quoted."""
    return shlex.quote(arg)
