"""ZIP64 end records written beside real classic values (what zipfile does past 2 GiB)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from aitrace.bundle._zip.reader import SafeArchive
from aitrace.bundle._zip.writer import write_deterministic_zip
from aitrace.errors import InvalidBundle


def _add_zip64_records(data: bytes, *, locator_offset_delta: int = 0) -> bytes:
    eocd_pos = data.rindex(b"PK\x05\x06")
    (_sig, _disk, _cd_disk, n_disk, n_total, cd_size, cd_offset,
     _clen) = struct.unpack("<4sHHHHIIH", data[eocd_pos:eocd_pos + 22])
    rec64 = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, n_disk, n_total,
                        cd_size, cd_offset)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, eocd_pos + locator_offset_delta, 1)
    return data[:eocd_pos] + rec64 + locator + data[eocd_pos:]


def test_zip64_records_with_classic_values_are_read(tmp_path: Path) -> None:
    plain = tmp_path / "plain.zip"
    write_deterministic_zip(plain, [("a.json", b'{"a": 1}'), ("b/c.txt", b"hello")])
    forged = tmp_path / "zip64.zip"
    forged.write_bytes(_add_zip64_records(plain.read_bytes()))
    with SafeArchive.open(forged) as ar:
        assert sorted(ar.names()) == ["a.json", "b/c.txt"]
        assert ar.read("b/c.txt") == b"hello"


def test_a_zip64_locator_pointing_elsewhere_is_rejected(tmp_path: Path) -> None:
    plain = tmp_path / "plain.zip"
    write_deterministic_zip(plain, [("a.json", b'{"a": 1}')])
    forged = tmp_path / "bad64.zip"
    forged.write_bytes(_add_zip64_records(plain.read_bytes(), locator_offset_delta=-7))
    with pytest.raises(InvalidBundle, match="ZIP64"), SafeArchive.open(forged):
        pass
