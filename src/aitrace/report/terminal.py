r"""The one neutraliser for text that reaches a terminal from a record or a bundle.

A value from a step, a bundle member or a user's data file can hold terminal control
sequences: ``ESC[2J`` clears the screen, ``ESC]0;…BEL`` sets the window title (and passes
through click's colour stripping), bidi overrides reorder what the eye reads, and a newline
starts a line that looks like aitrace's own (``Verified: all checks passed``). Every such value
is passed through ``terminal_safe`` before it is printed: control characters (C0, DEL, C1),
line and paragraph separators, bidi and other invisible format characters, and unpaired
surrogates become visible escapes (``\x1b``, ``\n``, ``\u202e``), so the text keeps its
information but can only ever be one line of inert characters.

``json_safe`` does the same for a JSON document printed with ``--json``: JSON escapes C0
characters itself, but not C1 controls or bidi overrides, which are escaped as ``\uXXXX`` —
the document's data is unchanged.
"""

from __future__ import annotations

import re

# C0 (tab and newline included), DEL and C1 controls; line/paragraph separators; zero-width and
# bidi formatting characters; the BOM; unpaired surrogates (undecodable file names).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069"
                     "\ufeff\ud800-\udfff]")
# What json.dumps(ensure_ascii=False) leaves raw: it escapes C0 characters only.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069"
                          "\ufeff\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group(0)
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(value: object) -> str:
    """``value`` as one line of inert text: every control or invisible character escaped."""
    return _UNSAFE.sub(_escape, str(value))


def json_safe(text: str) -> str:
    r"""A JSON document's text with C1 controls and bidi/invisible characters as ``\uXXXX``."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
