"""What dlq list and show print: decoded records, safe bytes, and never a card number."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import orjson
from rich.console import Console

from dlq import render
from dlq.letters import Letter, LetterId
from schemas.codec import encode_transaction
from schemas.enums import Channel, TxType
from schemas.pan import contains_pan
from schemas.records import DeadLetter, Transaction

PAN = "4111111111111111"
AT = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
TX = Transaction(
    transaction_id="tx-1",
    account_id="acct-1",
    card_token="tok_abcdefgh",
    amount=Decimal("12.50"),
    currency="INR",
    merchant_id="m-1",
    country="IN",
    channel=Channel.POS,
    timestamp=AT,
    type=TxType.DEBIT,
)


def letter(value: bytes, message: str = "bad", key: bytes | None = b"acct-1") -> Letter:
    dead = DeadLetter(
        source_topic="transactions",
        partition=3,
        offset=99,
        key=key,
        value=value,
        error_code="invalid_transaction",
        error_message=message,
        failed_at=AT,
        headers={"transaction-id": "tx-1"},
    )
    return Letter(LetterId(1, 5), dead, redriven=True)


def test_summary_has_the_listed_fields() -> None:
    row = render.summary(letter(encode_transaction(TX)))
    assert row == {
        "id": "1:5",
        "failed_at": "2026-11-30T03:00:00+00:00",
        "source_topic": "transactions",
        "source_partition": 3,
        "source_offset": 99,
        "error_code": "invalid_transaction",
        "error_message": "bad",
        "redriven": True,
    }


def test_an_avro_record_is_shown_decoded() -> None:
    shown = orjson.loads(render.to_json(render.detail(letter(encode_transaction(TX)))))
    original = shown["original"]
    assert original["decoded"] is True
    assert (original["record"], original["schema_version"]) == ("transaction", 2)
    assert original["value"]["transaction_id"] == "tx-1"
    assert original["value"]["amount"] == "12.5000"  # Avro decimal, scale 4
    assert shown["key"] == "acct-1"
    assert shown["headers"] == {"transaction-id": "tx-1"}


def test_a_pan_in_the_decoded_record_is_masked() -> None:
    value = encode_transaction(replace(TX, card_token=PAN))
    text = render.to_json(render.detail(letter(value, message=f"token {PAN}")))
    assert PAN not in text and not contains_pan(text)
    assert "************1111" in text


def test_undecodable_bytes_are_shown_escaped_and_in_hex_with_pans_masked() -> None:
    raw = b"\xff\x00card=" + PAN.encode() + b";"
    original = render.original(raw)
    assert original["decoded"] is False
    assert original["reason"].startswith("malformed_message")
    assert original["escaped"] == "\\xff\\x00card=************1111;"
    assert bytes.fromhex(original["hex"]) == b"\xff\x00card=************1111;"
    # The hex of a PAN's ASCII digits would itself be a digit run: it is masked before.
    assert PAN.encode().hex() not in original["hex"]


def test_binary_keys_are_escaped() -> None:
    assert render.key_text(b"\x01\x02") == "\\x01\\x02"
    assert render.key_text(None) is None


def test_tables_render_without_pans() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200)
    item = letter(encode_transaction(replace(TX, card_token=PAN)), message=f"saw {PAN}")
    console.print(render.letters_table("dead-letter", [item]))
    console.print(render.detail_table(render.detail(item)))
    text = out.getvalue()
    assert "1:5" in text and "transactions 3:99" in text and "yes" in text
    assert PAN not in text
