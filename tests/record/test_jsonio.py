"""Canonical JSON: the byte form every digest over JSON is computed from."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aitrace.errors import InputError
from aitrace.record.jsonio import (
    canonical_bytes,
    canonical_digest,
    document_bytes,
    is_canonical,
    jcs_number,
    legacy_canonical_bytes,
    pretty_bytes,
)


def test_keys_sorted_no_whitespace_utf8() -> None:
    obj = {"b": [1, 2.5, None, True], "a": {"z": "模型", "y": "é"}, "A": 0}
    assert canonical_bytes(obj) == '{"A":0,"a":{"y":"é","z":"模型"},"b":[1,2.5,null,true]}'.encode()


@pytest.mark.parametrize(("value", "text"), [
    (1.0, "1"), (1e-05, "0.00001"), (1e20, "100000000000000000000"), (1e21, "1e+21"),
    (-0.0, "0"), (0.925, "0.925"), (1e-07, "1e-7"), (2**53 - 1, "9007199254740991"),
    (123456789.125, "123456789.125"),
])
def test_numbers_are_written_as_ecmascript_prints_them(value: float, text: str) -> None:
    """RFC 8785 §3.2.2.3: the float forms where Python's json.dumps and JavaScript differ."""
    assert canonical_bytes({"n": value}) == b'{"n":' + text.encode() + b"}"


def test_keys_sort_by_utf16_code_units_not_code_points() -> None:
    # U+FB01 sorts after U+1F600 by code point but before it by UTF-16 (0xD83D < 0xFB01).
    obj = {"\ufb01": 1, "\U0001f600": 2}
    assert canonical_bytes(obj) == '{"\U0001f600":2,"\ufb01":1}'.encode()
    assert legacy_canonical_bytes(obj) == '{"\ufb01":1,"\U0001f600":2}'.encode()


def test_control_characters_use_the_minimal_escapes() -> None:
    assert canonical_bytes(["\n\t\x01\"\\/\u2028"]) == '["\\n\\t\\u0001\\"\\\\/\u2028"]'.encode()


def test_digest_is_sha256_of_the_rfc8785_bytes() -> None:
    import rfc8785

    obj = {"stage": "training", "metrics": {"acc": 0.93, "loss": 1e-05}, "name": "数据"}
    assert canonical_digest(obj) == hashlib.sha256(rfc8785.dumps(obj)).hexdigest()


def test_key_order_does_not_matter() -> None:
    assert canonical_bytes({"a": 1, "b": {"c": 2, "d": 3}}) == \
        canonical_bytes({"b": {"d": 3, "c": 2}, "a": 1})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_refused_naming_the_field(bad: float) -> None:
    with pytest.raises(InputError, match=r"cannot write step 3: field 'metrics.x\[1\]' holds"):
        canonical_bytes({"metrics": {"x": [0, bad]}}, what="step 3")


@pytest.mark.parametrize("big", [2**53, -(2**53), 10**30])
def test_integers_beyond_2_53_refused_naming_the_field(big: int) -> None:
    with pytest.raises(InputError) as err:
        canonical_bytes({"evidence": [{"summary": {"rows": big}}]}, what="step 1")
    assert f"field 'evidence[0].summary.rows' holds the integer {big}" in err.value.message
    assert "as strings" in (err.value.hint or "")


def test_a_lone_surrogate_and_a_non_string_key_are_refused() -> None:
    with pytest.raises(InputError, match=r"field 'argv\[1\]' holds a lone surrogate"):
        canonical_bytes({"argv": ["ok", "bad\udcff"]})
    with pytest.raises(InputError, match="has the key 3, which is not a string"):
        canonical_bytes({"m": {3: "x"}})


def test_a_huge_integer_is_named_without_printing_it() -> None:
    with pytest.raises(InputError, match="holds the integer of 3322 bits"):
        canonical_bytes({"n": 10**1000})


def test_is_canonical() -> None:
    assert is_canonical(b'{"a":1,"b":[true,null]}')
    assert not is_canonical(b'{"b":1,"a":1}')
    assert not is_canonical(b'{"a": 1}')
    assert not is_canonical(b'{"a":1.0}')
    assert not is_canonical(b'{"a":1,"a":1}')  # duplicate keys are never canonical
    assert not is_canonical(b'{"a":1}\n')
    assert not is_canonical(b'{"a":1e400}')


def test_documents_fall_back_to_exact_json_when_rfc8785_cannot_write_them() -> None:
    assert document_bytes({"b": 1.0, "a": "x"}) == b'{"a":"x","b":1}'
    big = {"sum": 2**64}
    assert document_bytes(big) == b'{"sum":18446744073709551616}'
    assert json.loads(document_bytes(big)) == big


def test_pretty_is_stable_sorted_and_newline_terminated() -> None:
    out = pretty_bytes({"b": 1, "a": "模型"})
    assert out == '{\n  "a": "模型",\n  "b": 1\n}\n'.encode()
    # Pretty and canonical forms describe the same value.
    assert canonical_bytes(json.loads(out)) == canonical_bytes({"a": "模型", "b": 1})


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(alphabet=st.characters(exclude_categories=("Cs",)))
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4),
    max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(_json)
def test_roundtrip_and_idempotent(obj: Any) -> None:
    data = canonical_bytes(obj)
    data.decode("utf-8")  # strict UTF-8, or this raises
    # Numbers are doubles in RFC 8785: read them back as such, and the value is exact.
    back = json.loads(data, parse_int=jcs_number)
    assert back == obj
    assert canonical_bytes(back) == data
    assert is_canonical(data)


def test_an_integral_double_beyond_2_53_round_trips_when_read_as_a_double() -> None:
    """JCS writes 1.5e18 as digits; Python's json.loads reads those as an int rfc8785 refuses."""
    data = canonical_bytes({"flops": 1.5e18})
    assert data == b'{"flops":1500000000000000000}'
    assert json.loads(data, parse_int=jcs_number) == {"flops": 1.5e18}
    assert is_canonical(data)
    assert not is_canonical(b'{"n":12345678901234567891}')  # no double is that integer
    assert b"\n" not in data.replace(b"\\n", b"")


@settings(max_examples=300, deadline=None)
@given(_json)
def test_is_canonical_agrees_with_rfc8785_on_both_encodings(obj: Any) -> None:
    """The C-speed fast path never says yes where rfc8785 would say no (and vice versa)."""
    import rfc8785

    jcs = rfc8785.dumps(obj)
    assert is_canonical(jcs)
    python_form = legacy_canonical_bytes(obj)
    assert is_canonical(python_form) == (python_form == jcs)
