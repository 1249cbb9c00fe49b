"""The shared personal-data detectors: redaction removes what the privacy pack finds, and counts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aitrace.evidence import pii
from aitrace.evidence.gx import packs


def test_the_pack_and_redaction_share_one_set_of_detectors() -> None:
    assert packs.EMAIL_RE is pii.EMAIL_RE and packs.PHONE_RE is pii.PHONE_RE
    assert packs.contains_card_number is pii.contains_card_number
    assert packs.tw_id_ok is pii.tw_id_ok


@pytest.mark.parametrize(("text", "detector"), [
    ("write to jane.chen@example.com today", "email"),
    ("call 0912-345-678", "phone"),
    ("call 0912345678", "phone"),
    ("call +886 912 345 678", "phone"),
    ("office +886 2 2345 6789", "phone"),
    ("(555) 123-4567", "phone"),
    ("card 4111 1111 1111 1111 exp 12/29", "card"),
    ("card 5500-0055-5555-5559", "card"),
    ("ID: A123456789.", "tw_id"),
    ("resident F131104093", "tw_id"),
])
def test_each_detector_is_redacted_and_counted(text: str, detector: str) -> None:
    out = pii.redact(text)
    assert out.counts == {detector: 1}
    assert pii.marker(detector) in out.text
    assert pii.findings(out.text) == {}


@pytest.mark.parametrize("text", [
    "order 12345 arrives in 3 days", "card 4111 1111 1111 1112",  # Luhn fails
    "0000 0000 0000 0000", "A123456788", "XA123456789", "version 1.24.1", "12:30:45",
])
def test_lookalikes_are_left_alone(text: str) -> None:
    assert pii.redact(text).text == text
    assert pii.findings(text) == {}


def test_secrets_in_urls_and_environment_are_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_API_TOKEN", "tok-9f8e7d6c5b")
    out = pii.redact("see https://admin:s3cretPass@shop.example.com/x with tok-9f8e7d6c5b")
    assert "s3cretPass" not in out.text and "tok-9f8e7d6c5b" not in out.text
    assert out.counts == {"secret": 2}
    assert "https://shop.example.com/x" in out.text and "[REDACTED:secret]" in out.text


def test_several_findings_in_one_text() -> None:
    out = pii.redact("jane@example.com, bob@example.org, 0912-345-678 and A123456789")
    assert out.counts == {"email": 2, "phone": 1, "tw_id": 1}
    assert out.total == 4


_PIECES = st.sampled_from(["jane.chen@example.com", "0912-345-678", "+886 2 2345 6789",
                           "4111 1111 1111 1111", "A123456789", "hello", " ", "-", "1", "x@",
                           ".", "09", "+886", "A1", "4111"])


@settings(max_examples=200, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_redacted_text_never_holds_a_finding(text: str) -> None:
    assert pii.findings(pii.redact(text).text) == {}
