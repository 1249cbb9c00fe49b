"""Licence reading: the index fast path says exactly what license-expression says."""

from __future__ import annotations

from aitrace.evidence import licenses


def test_every_exact_spdx_id_reads_as_the_library_reads_it() -> None:
    from license_expression import get_spdx_licensing

    ids = licenses._spdx_ids()
    assert {"MIT", "Apache-2.0", "CC-BY-4.0", "CC-BY-NC-4.0"} <= ids and len(ids) > 500
    lib = get_spdx_licensing()
    differ = []
    for key in sorted(ids):
        result = lib.validate(key)
        expected = None if result.errors else str(result.normalized_expression)
        if expected != key:
            differ.append((key, expected))
    assert differ == []


def test_what_is_not_an_exact_id_still_goes_through_the_library() -> None:
    assert licenses.read_license("cc-by-4.0").spdx == "CC-BY-4.0"
    assert licenses.read_license("CC BY-NC 4.0").spdx == "CC-BY-NC-4.0"
    assert licenses.read_license("GPL-2.0").spdx is not None
    assert licenses.read_license("MIT OR Apache-2.0").spdx == "MIT OR Apache-2.0"
    assert licenses.read_license("my own terms").spdx is None
    assert licenses.license_ids("(MIT OR Apache-2.0)") == ["MIT", "Apache-2.0"]
