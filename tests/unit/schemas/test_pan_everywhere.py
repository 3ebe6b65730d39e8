"""Card numbers outside card_token: a precise token guard, every free-text field scanned on
both paths, and dead letters masked before they are stored or re-driven."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from decision_core.outputs import dead_letter
from decision_core.pipeline import invalid
from decision_core.records import SourceRecord
from dlq.letters import Letter, LetterFilter, LetterId
from dlq.redrive import MASKED, plan
from ingest_api.ingest import parse_transaction
from ingest_api.models import ValidationContext
from schemas.codec import decode_dead_letter, decode_transaction, encode_transaction
from schemas.pan import contains_pan, looks_like_pan
from schemas.records import HEADER_PAN_MASKED, Transaction
from schemas.validation import free_text_problem
from tests.support.records import transaction

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
PAN = "4111111111111111"


def test_the_issues_token_is_no_longer_refused() -> None:
    # Its 14-digit run "40221006441442" passes Luhn, but it sits inside a hex token.
    assert not contains_pan("tok_e40221006441442d")


def test_random_hex_tokens_are_refused_only_when_they_are_a_pan_behind_a_prefix() -> None:
    rng = random.Random(11)
    tokens = [
        "tok_" + "".join(rng.choice("0123456789abcdef") for _ in range(16)) for _ in range(100_000)
    ]
    refused = [t for t in tokens if contains_pan(t)]
    # Measured: 41 refused by the any-digit-run rule, 5 by the word rule, all of them 16
    # decimal digits passing Luhn, which is a card number whatever precedes it.
    assert len(refused) <= 10
    assert all(looks_like_pan(t.removeprefix("tok_")) for t in refused)


@pytest.mark.parametrize(
    "token",
    [
        # Its first three groups read 4111 1111 1111 1111, a Luhn-valid 16-digit run.
        "41111111-1111-1111-abcd-0123456789ab",
        "tok_41111111-1111-1111-a111-111111111111",
        str(uuid.UUID("4111111111111111a000000000000000")),
    ],
)
def test_uuids_are_never_card_numbers(token: str) -> None:
    assert not contains_pan(token)


@pytest.mark.parametrize(
    "token",
    [PAN, f"tok_{PAN}", "4111 1111 1111 1111", "tok:4111-1111-1111-1111", f"{PAN}/x"],
)
def test_a_pan_shaped_token_is_still_refused(token: str) -> None:
    assert contains_pan(token)


def tx(**changes: object) -> Transaction:
    return transaction(**{"currency": "EUR", "country": "FR", "timestamp": NOW, **changes})


FREE_TEXT = {
    "device_id": f"dev {PAN}",
    "city": "4111 1111 1111 1111",
    "merchant_id": f"m-{PAN}",
    "account_id": f"acct_{PAN}",
}


@pytest.mark.parametrize(("field", "value"), list(FREE_TEXT.items()))
def test_a_pan_in_any_free_text_field_is_refused_by_the_api_and_the_agent(
    field: str, value: str
) -> None:
    bad = tx(**{field: value})
    problem = invalid(bad, int(NOW.timestamp() * 1000))
    assert problem is not None and field in problem and PAN not in problem
    body = {k: v for k, v in bad.to_avro().items() if v is not None}
    body |= {"amount": "25.00", "timestamp": NOW.isoformat()}
    body.pop("ingested_at", None)
    ctx = ValidationContext(now=NOW, max_future_skew_s=300, max_age_days=90)
    with pytest.raises(ValidationError) as refused:
        parse_transaction(orjson.dumps(body), ctx)
    assert [e["loc"] for e in refused.value.errors()] == [(field,)]


def test_digits_of_two_fields_make_no_card_number_together() -> None:
    # "4111 1111" + "1111 1111" would be a Luhn-valid 16-digit PAN if the fields ran on.
    assert contains_pan("4111 1111 1111 1111")
    assert free_text_problem(tx(device_id="dev 4111 1111", ip="1111 1111")) is None


TEXT = st.text(alphabet="0123456789 -x\n", max_size=24)


@given(TEXT, TEXT, TEXT, TEXT)
def test_the_free_text_check_names_the_first_field_holding_a_pan(
    device: str, ip: str, city: str, merchant_name: str
) -> None:
    """One scan of the fields joined answers as a scan of each would."""
    bad = tx(device_id=device, ip=ip, city=city, merchant_name=merchant_name)
    fields = ("city", "device_id", "ip", "merchant_name")  # in the record's order
    held = [f for f in fields if contains_pan(getattr(bad, f))]
    problem = free_text_problem(bad)
    assert (problem is None) == (not held)
    assert problem is None or problem.startswith(f"{held[0]} holds a card number")


def masked_letter(t: Transaction) -> tuple[bytes, Letter]:
    value = encode_transaction(t)
    record = SourceRecord("transactions", 0, 7, 0, PAN.encode(), value, (("note", PAN.encode()),))
    out = dead_letter(record, "invalid_transaction", f"card_token {PAN} looks like a card number")
    return value, Letter(LetterId(0, 7), decode_dead_letter(out.value), False)


def test_a_dead_letter_is_stored_with_its_card_numbers_masked() -> None:
    original, letter = masked_letter(tx(card_token=PAN, device_id=f"dev {PAN}"))
    dead = letter.letter
    stored = (
        dead.value + (dead.key or b"") + dead.error_message.encode() + str(dead.headers).encode()
    )
    assert PAN.encode() not in stored
    assert len(dead.value) == len(original)  # masked in place: the Avro still decodes
    decoded = decode_transaction(dead.value)
    assert (decoded.card_token, decoded.device_id) == ("************1111", "dev ************1111")
    assert dead.headers[HEADER_PAN_MASKED] == "true"


def test_a_masked_letter_is_never_re_driven_but_a_clean_one_is() -> None:
    _, masked = masked_letter(tx(card_token=PAN))
    clean_record = SourceRecord("transactions", 0, 8, 0, b"acct-1", b"\x00garbage")
    clean = Letter(
        LetterId(0, 8),
        decode_dead_letter(dead_letter(clean_record, "malformed_message", "x").value),
        False,
    )
    assert HEADER_PAN_MASKED not in clean.letter.headers
    report = plan([masked, clean], LetterFilter(), lambda _topic: True)
    assert report.pending == [clean]
    assert report.skipped == [(masked, MASKED)]
