"""Digests given by people: normalised where unambiguous, refused otherwise."""

from __future__ import annotations

import pytest

from aitrace.errors import InputError
from aitrace.record.refs import normalize_sha256

HEX = "ab" * 32


@pytest.mark.parametrize("given", [HEX, HEX.upper(), f"sha256:{HEX}", f"SHA256:{HEX.upper()}",
                                   f"  {HEX}\n", f"sha256={HEX}"])
def test_unambiguous_spellings_are_normalised(given: str) -> None:
    assert normalize_sha256(given) == HEX


@pytest.mark.parametrize(("given", "detail"), [
    ("ab" * 8, "16 hex digits"), ("xyz", ""), (HEX + "0", "65 hex digits"),
    (f"md5:{HEX}", ""), ("", ""), (f"sha256:{HEX[:-1]}g", "")])
def test_anything_else_is_refused_with_a_hint(given: str, detail: str) -> None:
    with pytest.raises(InputError) as info:
        normalize_sha256(given, what="--source x: sha256")
    assert info.value.message.startswith("--source x: sha256:")
    assert "is not a SHA-256 digest" in info.value.message and detail in info.value.message
    assert info.value.hint and "aitrace digest" in info.value.hint
