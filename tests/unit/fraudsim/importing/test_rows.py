"""Source values -> Transaction records: parsing, the live path's checks, labels, duplicates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fraudsim.importing import values
from fraudsim.importing.mapping import TimeFormat, parse_mapping
from fraudsim.importing.rows import RowReader
from fraudsim.simulate.config import DAY_MS

# An English-speaking bank: epoch milliseconds, amounts in cents, a channel to translate.
MAPPING: dict[str, Any] = {
    "columns": {"transaction_id": "id", "account_id": "acct", "amount": "cents",
                "timestamp": "ts", "merchant_id": "shop", "country": "ctry", "channel": "how"},
    "constants": {"currency": "JPY", "type": "debit"},
    "derived": {"card_token": {"column": "acct", "suffix": "-card"}},
    "translate": {"channel": {"web": "ECOM", "shop": "POS"}},
    "amount": {"format": "minor_units"},
    "timestamp": {"format": "epoch_ms"},
    "labels": {"column": "fraud", "fraud": ["1"], "genuine": ["0", ""], "label_delay_days": 2},
}  # fmt: skip
T0 = 1_530_000_000_000


def batch(*rows: tuple[Any, ...]) -> dict[str, list[Any]]:
    names = ("id", "acct", "cents", "ts", "shop", "ctry", "how", "fraud")
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def read(*rows: tuple[Any, ...], mapping: dict[str, Any] = MAPPING) -> Any:
    reader = RowReader(parse_mapping(mapping))
    return reader.read(batch(*rows), list(range(1, len(rows) + 1)))


def test_a_row_becomes_the_records_values_and_its_label() -> None:
    accepted, rejected = read(("t1", "a1", b"1500", str(T0), "m1", "JP", "web", "1"))
    assert rejected == []
    v = accepted.values
    assert (v["transaction_id"], v["card_token"], v["channel"]) == (["t1"], ["a1-card"], ["ECOM"])
    # JPY has no minor unit: 1500 minor units are 1500 yen (1500.00 in the data set).
    assert accepted.cents == [150_000] and accepted.ts_ms == [T0]
    assert accepted.labels == {"is_fraud": [True], "scenario": [None],
                               "labelled_at": [T0 + 2 * DAY_MS]}  # fmt: skip
    assert v["mcc"] == [None] and v["lat"] == [None]  # unmapped optional fields


@pytest.mark.parametrize(
    ("row", "kind", "reason"),
    [
        (("t1", "a1", "0", str(T0), "m", "JP", "web", "0"), "amount",
         "amount must be greater than zero"),
        (("t1", "a1", "-5", str(T0), "m", "JP", "web", "0"), "amount",
         "amount must be greater than zero"),
        (("t1", "a1", "12.5", str(T0), "m", "JP", "web", "0"), "amount",
         "amount '12.5' is not a whole number of minor units"),
        (("t1", "a1", "5", "yesterday", "m", "JP", "web", "0"), "timestamp",
         "timestamp 'yesterday' is not epoch_ms time"),
        (("t1", "a1", "5", str(T0), "m", "ZZ", "web", "0"), "country",
         "country ZZ is not an ISO 3166-1 alpha-2 country code"),
        (("t1", "a1", "5", str(T0), "m", "JP", "phone", "0"), "channel",
         "channel 'phone' is not one of POS, ECOM, ATM (see [translate.channel])"),
        (("t1", "", "5", str(T0), "m", "JP", "web", "0"), "account_id", "account_id is empty"),
        (("t1", "a1", "5", str(T0), "m", "JP", "web", "maybe"), "is_fraud",
         "is_fraud 'maybe' is neither a fraud value (1) nor a genuine one (, 0)"),
        (("t1", "4111111111111111", "5", str(T0), "m", "JP", "web", "0"), "card_token",
         "card_token looks like a card number (PAN); send a token instead"),
        (("t1", "a1", "5", str(T0), b"caf\xe9", "JP", "web", "0"), "merchant_id",
         "merchant_id is not valid UTF-8 text (see [source] encoding)"),
    ],
)  # fmt: skip
def test_a_bad_row_is_rejected_with_its_reason(
    row: tuple[Any, ...], kind: str, reason: str
) -> None:
    accepted, rejected = read(row)
    assert len(accepted) == 0
    assert [(r.row, r.kind, r.reason) for r in rejected] == [(1, kind, reason)]


def test_a_card_number_is_never_quoted_in_a_reason() -> None:
    mapping = {**MAPPING, "amount": {"format": "decimal"}}
    _, rejected = read(("4111111111111111", "a", "4111111111111111", str(T0), "m", "JP", "web",
                        "0"), mapping=mapping)  # fmt: skip
    assert "4111111111111111" not in repr(rejected)
    assert rejected[0].transaction_id == "************1111"


def test_the_first_accepted_row_keeps_a_repeated_id_across_batches() -> None:
    reader = RowReader(parse_mapping(MAPPING))
    bad = ("t1", "a1", "0", str(T0), "m", "JP", "web", "0")  # rejected: it claims no id
    good = ("t1", "a1", "7", str(T0), "m", "JP", "web", "0")
    accepted, rejected = reader.read(batch(bad, good), [1, 2])
    assert len(accepted) == 1 and [r.row for r in rejected] == [1]
    accepted, rejected = reader.read(batch(good), [3])
    assert len(accepted) == 0
    assert rejected[0].reason == "duplicate transaction_id: row 2 has it (the first is kept)"


def test_more_decimals_than_the_data_set_stores_are_rejected() -> None:
    mapping = {**MAPPING, "constants": {"currency": "KWD", "type": "debit"}}
    _, rejected = read(("t1", "a1", "1234", str(T0), "m", "KW", "web", "0"), mapping=mapping)
    assert rejected[0].reason == "amount has more than 2 decimals; the data set stores 2"


def test_label_times_come_from_their_column_and_may_not_precede_the_transaction() -> None:
    labels = {"column": "fraud", "fraud": ["1"], "genuine": ["0"], "time_column": "when"}
    reader = RowReader(parse_mapping({**MAPPING, "labels": labels}))
    rows = (("t1", "a", "5", str(T0), "m", "JP", "web", "1"),
            ("t2", "a", "5", str(T0), "m", "JP", "web", "1"),
            ("t3", "a", "5", str(T0), "m", "JP", "web", "0"))  # fmt: skip
    columns = batch(*rows) | {"when": [str(T0 + 5), str(T0 - 1), ""]}
    accepted, rejected = reader.read(columns, [1, 2, 3])
    assert accepted.values["transaction_id"] == ["t1", "t3"]  # a genuine row needs no time
    assert accepted.labels["labelled_at"][0] == T0 + 5
    assert [r.reason for r in rejected] == ["labelled_at is before the transaction's time"]


@pytest.mark.parametrize(
    ("fmt", "zone", "value", "ms"),
    [
        ("iso8601", None, "2018-07-01T10:00:00+02:00", 1_530_432_000_000),
        ("iso8601", None, "2018-07-01T08:00:00Z", 1_530_432_000_000),
        ("iso8601", "Europe/Berlin", "2018-07-01 10:00:00", 1_530_432_000_000),
        ("epoch_s", None, "1530432000.25", 1_530_432_000_250),
        ("epoch_s", None, 1_530_432_000, 1_530_432_000_000),
        ("%m/%d/%Y %I:%M %p", "America/New_York", "07/01/2018 04:00 AM", 1_530_432_000_000),
        ("%Y%m%d%H%M%S%z", None, "20180701100000+0200", 1_530_432_000_000),
    ],
)
def test_time_formats(fmt: str, zone: str | None, value: Any, ms: int) -> None:
    from zoneinfo import ZoneInfo

    parse = values.time_parser(TimeFormat(fmt, None if zone is None else ZoneInfo(zone)))
    assert parse(value) == ms


def test_a_local_time_without_a_zone_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="no UTC offset and the mapping no timezone"):
        values.time_parser(TimeFormat("iso8601", None))("2018-07-01 10:00:00")


@pytest.mark.parametrize(
    ("decimal", "thousands", "text", "amount"),
    [(",", ".", "1.234,56", "1234.56"), (".", ",", "1,234.56", "1234.56"), (".", "", "7", "7"),
     (",", "", " 3,5 ", "3.5")],
)  # fmt: skip
def test_decimal_amounts(decimal: str, thousands: str, text: str, amount: str) -> None:
    assert values.decimal_parser(decimal, thousands)(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["1,2,3", "NaN", "1e5", "", "12.", "€5"])
def test_what_is_not_a_decimal_amount(text: str) -> None:
    with pytest.raises(ValueError, match="is not a decimal number"):
        values.decimal_parser(",", "")(text)
