"""Canonical JSON: the byte form every digest over JSON is computed from."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aitrace.record.jsonio import canonical_bytes, canonical_digest, pretty_bytes


def test_keys_sorted_no_whitespace_utf8() -> None:
    obj = {"b": [1, 2.5, None, True], "a": {"z": "模型", "y": "é"}, "A": 0}
    assert canonical_bytes(obj) == '{"A":0,"a":{"y":"é","z":"模型"},"b":[1,2.5,null,true]}'.encode()


def test_digest_is_recomputable_from_the_documented_recipe() -> None:
    obj = {"stage": "training", "metrics": {"acc": 0.93}, "name": "数据"}
    recipe = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                        allow_nan=False).encode("utf-8")
    assert canonical_digest(obj) == hashlib.sha256(recipe).hexdigest()


def test_key_order_does_not_matter() -> None:
    assert canonical_bytes({"a": 1, "b": {"c": 2, "d": 3}}) == \
        canonical_bytes({"b": {"d": 3, "c": 2}, "a": 1})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_bytes({"x": [bad]})


def test_pretty_is_stable_sorted_and_newline_terminated() -> None:
    out = pretty_bytes({"b": 1, "a": "模型"})
    assert out == '{\n  "a": "模型",\n  "b": 1\n}\n'.encode()
    # Pretty and canonical forms describe the same value.
    assert canonical_bytes(json.loads(out)) == canonical_bytes({"a": "模型", "b": 1})


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4),
    max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(_json)
def test_roundtrip_and_idempotent(obj: Any) -> None:
    data = canonical_bytes(obj)
    text = data.decode("utf-8")  # strict UTF-8, or this raises
    assert text == json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_bytes(json.loads(data)) == data
    assert b"\n" not in data.replace(b"\\n", b"")
