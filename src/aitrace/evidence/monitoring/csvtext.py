"""The text of a CSV file a person exported or filled in (a review sheet, a ticket export).

Both are untrusted files of bounded size that spreadsheets save with a byte-order mark: read
at most ``limit`` bytes (a larger file is refused without being read whole), then decoded as
UTF-8. Errors name the file and say what to give instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aitrace.errors import InputError


@dataclass(frozen=True)
class CsvHints:
    """What to tell the user when the file cannot be read, is too large, or is not UTF-8."""

    what: str
    unreadable: str
    too_large: str
    not_utf8: str


def read_csv_text(path: Path, limit: int, hints: CsvHints) -> tuple[bytes, str]:
    """The bytes of ``path`` (at most ``limit``) and their text, decoded as UTF-8 (BOM or not).

    Raises:
        InputError: the file cannot be read, holds more than ``limit`` bytes, or is not UTF-8.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {hints.what} ({exc.strerror or exc})",
                         hint=hints.unreadable) from None
    if len(data) > limit:
        raise InputError(f"{path}: more than {limit} bytes is too large for a {hints.what}",
                         hint=hints.too_large)
    try:
        return data, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (byte {exc.start})", hint=hints.not_utf8) from None
