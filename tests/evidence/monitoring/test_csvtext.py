"""Exported CSV files: bounded, UTF-8 with or without a BOM, errors naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from aitrace.errors import InputError
from aitrace.evidence.monitoring.csvtext import CsvHints, read_csv_text

HINTS = CsvHints("review sheet", unreadable="give the sheet", too_large="smaller",
                 not_utf8="save as UTF-8")


def test_a_bom_is_taken_off_and_the_bytes_kept(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_bytes(b"\xef\xbb\xbfid,ok\n1,yes\n")
    data, text = read_csv_text(f, 100, HINTS)
    assert data.startswith(b"\xef\xbb\xbf") and text == "id,ok\n1,yes\n"


@pytest.mark.parametrize(("content", "message", "hint"), [
    (None, "cannot read the review sheet", "give the sheet"),
    (b"x" * 101, "more than 100 bytes is too large for a review sheet", "smaller"),
    (b"id\n\xff\n", "not UTF-8 (byte 3)", "save as UTF-8"),
])
def test_bad_files_are_named_with_the_fix(tmp_path: Path, content: bytes | None, message: str,
                                          hint: str) -> None:
    f = tmp_path / "s.csv"
    if content is not None:
        f.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_csv_text(f, 100, HINTS)
    assert info.value.message.startswith(f"{f}: {message}") and info.value.hint == hint
