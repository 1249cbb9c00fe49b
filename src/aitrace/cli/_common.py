"""Output helpers shared by the CLI modules: JSON on stdout, a progress bar, short digests.

The shared options live in :mod:`aitrace.cli.options`.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Sequence
from typing import Any

import click


def emit_json(data: Any) -> None:
    """Print ``data`` as pretty JSON on stdout (C1 controls and bidi overrides escaped)."""
    from aitrace.report.terminal import json_safe

    click.echo(json_safe(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)))


class ProgressBar:
    """A hashing progress bar on stderr: only on a terminal and only after a moment."""

    def __init__(self, enabled: bool, delay: float = 0.5) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.delay = delay
        self.start = time.monotonic()
        self.shown = False
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < self.delay or (now - self._last < 0.1 and done < total):
            return
        self._last = now
        self.shown = True
        frac = done / total if total else 1.0
        width = 30
        bar = "#" * int(frac * width)
        rate = done / max(now - self.start, 1e-9) / 2**20
        sys.stderr.write(f"\rhashing [{bar:<{width}}] {frac:6.1%} {done / 2**20:,.0f} MiB "
                         f"{rate:,.0f} MiB/s")
        sys.stderr.flush()

    def close(self) -> None:
        """Clear the bar's line if it was drawn."""
        if self.shown:
            sys.stderr.write("\r" + " " * 78 + "\r")
            sys.stderr.flush()


def short(digest: str | None, n: int = 12) -> str:
    """A short form of a hex digest for tables."""
    return digest[:n] if digest else "-"


def shell_join(argv: Sequence[str]) -> str:
    """A command as a POSIX shell would need it typed (paths with spaces are quoted)."""
    return " ".join(shlex.quote(a) for a in argv)

