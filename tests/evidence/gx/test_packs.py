"""The privacy detectors and checksums (pure Python, no GX) and the packs' suite JSON."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aitrace.errors import InputError
from aitrace.evidence.gx import packs


@pytest.mark.parametrize(("detector", "hits", "misses"), [
    ("email", ["mail a.b@example.com now", "x@y.tw"], ["a@b", "@home", "user at example"]),
    ("phone", ["0912-345-678", "call 0912345678", "+886 912 345 678", "+886-2-2345-6789",
               "+1 415 555 2671", "(555) 123-4567"],
     ["12345", "2024-01-01", "id 091234567890123", "v1.2.3"]),
    ("ipv4", ["host 192.168.1.10", "10.0.0.1"], ["1.2.3", "999.1.1.1", "v 1.2.3.4.5"]),
    ("ipv6", ["2001:db8::1", "::1", "fe80:0:0:0:200:f8ff:fe21:67cf",
              "at 2001:0db8:85a3:0000:0000:8a2e:0370:7334."],
     ["std::bad_alloc", "12:30:45", "00:1A:2B:3C:4D:5E"]),
])
def test_regex_detectors(detector: str, hits: list[str], misses: list[str]) -> None:
    rx = re.compile(packs.DETECTORS[detector][1]["regex"])
    assert [h for h in hits if not rx.search(h)] == []
    assert [m for m in misses if rx.search(m)] == []


def test_checksums() -> None:
    assert packs.contains_card_number("card 4111 1111 1111 1111 exp 12/29")
    assert packs.contains_card_number("5500-0055-5555-5559")
    assert not packs.contains_card_number("4111 1111 1111 1112")
    assert not packs.contains_card_number("0000 0000 0000 0000")
    assert not packs.contains_card_number("order 12345")
    assert packs.tw_id_ok("A123456789") and packs.tw_id_ok("F131104093")
    assert not packs.tw_id_ok("A123456788") and not packs.tw_id_ok("A323456789")
    assert packs.contains_tw_id("ID: A123456789.") and not packs.contains_tw_id("XA123456789")


@given(st.lists(st.integers(0, 9), min_size=12, max_size=18))
def test_luhn_check_digit_always_validates(digits: list[int]) -> None:
    body = "".join(map(str, digits))
    check = next(d for d in "0123456789" if packs.luhn_ok(body + d))
    assert packs.luhn_ok(body + check)
    wrong = str((int(check) + 1) % 10)
    assert not packs.luhn_ok(body + wrong)


def test_pack_suites_shape_and_errors() -> None:
    doc = packs.privacy_suite(["a", "b"], detectors=["email", "card"])
    assert len(doc["expectations"]) == 4 and doc["name"] == packs.PRIVACY_SUITE
    with pytest.raises(InputError, match="unknown detector"):
        packs.privacy_suite(["a"], detectors=["dna"])
    labels = packs.labels_suite(["x", "Target"], source="d.csv",
                                distinct=lambda col, n: ["b", "a"])
    assert labels["meta"]["aitrace"]["label_column"] == "Target"
    shares = [e for e in labels["expectations"] if e["kwargs"].get("mostly") == 0.05]
    assert [e["kwargs"]["value_set"] for e in shares] == [["a"], ["b"]]
    with pytest.raises(InputError, match="cannot tell which column"):
        packs.labels_suite(["x"], source="d.csv", distinct=lambda col, n: [])
    with pytest.raises(InputError, match="does not look like class labels"):
        packs.labels_suite(["y"], source="d.csv", distinct=lambda col, n: list(range(n)))
    with pytest.raises(InputError, match="min_class_share"):
        packs.labels_suite(["y"], source="d.csv", labels=[0, 1], min_class_share=1.5)


def test_labels_pack_turns_to_regression_for_many_numbers() -> None:
    many = list(range(500))
    suite = packs.labels_suite(["price"], source="d.csv", label_column="price",
                               distinct=lambda col, n: many[:n],
                               numeric=lambda col: (0.0, 499.0, 125.0, 375.0))
    meta = suite["meta"]["aitrace"]
    assert meta["task"] == "regression" and meta["range"] == [0.0, 499.0]
    checks = {e["meta"]["aitrace"]["check"]: e for e in suite["expectations"] if "meta" in e}
    assert set(checks) == {"missing_labels", "range", "outliers", "not_constant"}
    assert checks["outliers"]["kwargs"] == {"column": "price", "min_value": -625.0,
                                            "max_value": 1125.0, "mostly": 0.99}
    # A declared range is a regression target's, and constrains instead of documenting.
    given = packs.labels_suite(["y"], source="d.csv", label_range=(0, 10),
                               numeric=lambda col: (1.0, 2.0, 1.0, 2.0))
    assert given["meta"]["aitrace"]["range_inferred"] is False
    with pytest.raises(InputError, match="not numeric"):
        packs.labels_suite(["y"], source="d.csv", task="regression", numeric=lambda col: None)
    with pytest.raises(InputError, match="unknown task"):
        packs.labels_suite(["y"], source="d.csv", task="ranking", labels=[1])
