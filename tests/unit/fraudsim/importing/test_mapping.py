"""The mapping file: every mistake is refused, naming the key, before any row is read."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from fraudsim.importing.mapping import Column, Constant, MappingError, load_mapping, parse_mapping

EXAMPLE = Path(__file__).parents[4] / "docs" / "examples" / "bank-import.toml"


def document(**changes: Any) -> dict[str, Any]:
    """The documented example with changes: ``table__key=value`` (None removes the key)."""
    doc = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        table, key = dotted.split("__")
        if value is None:
            doc.setdefault(table, {}).pop(key, None)
        else:
            doc.setdefault(table, {})[key] = value
    return doc


def refused(**changes: Any) -> str:
    with pytest.raises(MappingError) as caught:
        parse_mapping(document(**changes))
    return str(caught.value)


def test_the_documented_example_reads() -> None:
    mapping = load_mapping(EXAMPLE)
    assert mapping.fields["amount"] == Column("Betrag")
    assert mapping.fields["currency"] == Constant("EUR")
    assert mapping.fields["card_token"] == Column("Kunde", prefix="card-")
    assert mapping.decimal_separator == "," and mapping.thousands_separator == "."
    assert mapping.timestamp.zone is not None and mapping.timestamp.zone.key == "Europe/Berlin"
    assert mapping.labels is not None and mapping.labels.fraud == {"J"}
    assert mapping.labels.time.pattern == "iso8601" and mapping.labels.delay_days is None
    # Each source column once, "Kunde" feeding both account_id and card_token.
    assert mapping.source_columns().count("Kunde") == 1
    assert set(mapping.source_columns()) >= {"Betrug", "Gemeldet", "Art"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"columns__amout": "Betrag"}, "[columns] amout: not a field of the data set"),
        ({"amount__decimal": ","}, "[amount]: unknown keys decimal"),
        ({"labels__delay": 3}, "[labels]: unknown keys delay"),
        ({"constants__country": "DE", "columns__country": "Land"}, "country is mapped twice"),
        ({"constants__country": "DE"}, "country is mapped twice"),
        ({"columns__merchant_id": None}, "unmapped fields with no constant: merchant_id"),
        ({"constants__currency": "EURO"}, "EURO is not an ISO 4217 currency code"),
        ({"constants__country": "XX", "columns__country": None}, "XX is not an ISO 3166-1"),
        ({"constants__channel": "WEB"}, "'WEB' is not one of POS, ECOM, ATM"),
        ({"constants__amount": "1.00", "columns__amount": None}, "each row's own"),
        (
            {"derived__amount": {"column": "Betrag", "prefix": "x"}, "columns__amount": None},
            "only text fields can be derived",
        ),  # fmt: skip
        ({"derived__card_token": {"column": "Kunde"}}, "give a prefix or a suffix"),
        ({"timestamp__timezone": None}, "a pattern without %z needs a timezone"),
        ({"timestamp__timezone": "Mars/Olympus"}, "no such time zone 'Mars/Olympus'"),
        ({"timestamp__format": "dd.mm.yyyy"}, "or a strptime pattern"),
        ({"amount__format": "float"}, "'float' is not one of decimal, minor_units"),
        ({"amount__decimal_separator": "."}, "thousands_separator one other character"),
        ({"labels__time_column": None}, "give time_column"),
        ({"labels__label_delay_days": 7}, "give time_column"),
        ({"labels__genuine": ["N", "J"]}, "none also in genuine"),
        ({"translate__channel": {"Karte": "POS"}}, "only channel and type read from a column"),
    ],
)
def test_mistakes_are_refused_naming_the_key(changes: dict[str, Any], message: str) -> None:
    assert message in refused(**changes)


def test_label_delay_is_the_explicit_assumption_instead_of_a_time_column() -> None:
    mapping = parse_mapping(
        document(labels__time_column=None, labels__time_format=None, labels__label_delay_days=30)
    )
    assert mapping.labels is not None and mapping.labels.delay_days == 30.0


def test_a_file_that_is_not_toml_is_a_mapping_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[columns\n")
    with pytest.raises(MappingError, match="bad.toml"):
        load_mapping(bad)
