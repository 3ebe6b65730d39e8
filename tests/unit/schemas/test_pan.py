"""Tests for schemas.pan: the card-number guard."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.pan import contains_pan, looks_like_pan, luhn_valid, mask_pans

# Published test card numbers of the major schemes, 13 to 19 digits.
TEST_PANS = [
    "4222222222222",  # Visa, 13 digits
    "378282246310005",  # American Express, 15
    "4111111111111111",  # Visa, 16
    "5555555555554444",  # Mastercard
    "6011111111111117",  # Discover
    "3530111333300000",  # JCB
    "6304000000000000",  # Maestro
    "4111111111111111110",  # 19 digits, Luhn-valid
]


@pytest.mark.parametrize("pan", TEST_PANS)
def test_real_test_pans_are_recognised(pan: str) -> None:
    assert looks_like_pan(pan)


@pytest.mark.parametrize(
    "value",
    ["4111 1111 1111 1111", "4111-1111-1111-1111", " 4111 1111-1111 1111 ", "3782 822463 10005"],
)
def test_spaces_and_dashes_are_ignored(value: str) -> None:
    assert looks_like_pan(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "4111111111111112",  # Luhn fails
        "411111111111",  # 12 digits
        "41111111111111111115",  # 20 digits, Luhn-valid
        "tok_4111111111111111",  # a token that contains one: see contains_pan
        "4111.1111.1111.1111",  # only spaces and dashes are separators
        "\uff14111111111111111",  # a fullwidth digit is not an ASCII digit
        "tok_9f8e7d6c5b4a",
    ],
)
def test_non_pans_are_not_recognised(value: str) -> None:
    assert not looks_like_pan(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tok_4111111111111111", True),
        ("card 4111-1111-1111-1111 declined", True),
        ("tok_4111111111111112", False),
        ("ref 123456789012345678901234", False),  # a longer digit run is not a PAN
        ("4111111111111111 and 5555555555554444", True),
        ("no digits here", False),
    ],
)
def test_contains_pan_finds_embedded_numbers(text: str, expected: bool) -> None:
    assert contains_pan(text) is expected


@pytest.mark.parametrize("digits", ["79927398713", "0", "18", "059"])
def test_luhn_accepts_valid_numbers(digits: str) -> None:
    assert luhn_valid(digits)


@pytest.mark.parametrize("digits", ["79927398710", "", "1", "12a4", "\u0661\u0668"])
def test_luhn_rejects_invalid_input(digits: str) -> None:
    assert not luhn_valid(digits)


@given(st.from_regex(r"[0-9]{12,18}", fullmatch=True))
def test_exactly_one_check_digit_completes_any_prefix(prefix: str) -> None:
    completions = [d for d in "0123456789" if looks_like_pan(prefix + d)]
    assert len(completions) == 1


@given(st.text())
def test_never_raises(value: str) -> None:
    assert isinstance(looks_like_pan(value), bool)
    assert isinstance(contains_pan(value), bool)


@pytest.mark.parametrize("pan", TEST_PANS)
def test_mask_keeps_only_the_last_four_digits(pan: str) -> None:
    masked = mask_pans(f"card {pan} declined")
    assert masked == f"card {'*' * (len(pan) - 4)}{pan[-4:]} declined"
    assert not contains_pan(masked)


def test_mask_keeps_separators_and_leaves_other_numbers_alone() -> None:
    text = "4111-1111-1111-1111 ref 1234567890123456789012 amount 5000"
    assert mask_pans(text) == "****-****-****-1111 ref 1234567890123456789012 amount 5000"


def test_mask_leaves_uuids_whole_and_still_masks_a_card_beside_one() -> None:
    # Its dashed groups "6838614-0425-5575-8579" are a Luhn-valid 19-digit run: a webhook
    # dead letter's event-id header came out as "b*******-****-****-8579-...".
    event_id = "b6838614-0425-5575-8579-dbe3dde8e871"
    assert looks_like_pan("6838614-0425-5575-8579")
    assert mask_pans(event_id) == event_id
    text = f"event {event_id} card 4111 1111 1111 1111 again {event_id}"
    assert mask_pans(text) == f"event {event_id} card **** **** **** 1111 again {event_id}"


@given(st.text())
def test_masked_text_never_contains_a_pan(text: str) -> None:
    assert not contains_pan(mask_pans(text))
