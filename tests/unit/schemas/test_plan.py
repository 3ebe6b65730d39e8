"""Tests for schemas._plan: bad values refused clearly, schemas and classes that disagree
refused at planning, planning lazy. That the bytes and reads are as before: test_wire_golden."""

from __future__ import annotations

import dataclasses
import enum
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from schemas._convert import AMOUNT_SCALE
from schemas._plan import AvroConverted, plan_for
from schemas.codec import decode_transaction, encode_decision, encode_transaction
from schemas.errors import InvalidRecord, SchemaLoadError
from schemas.records import Channel, Decision, Outcome, Transaction, TxType
from schemas.registry import default_registry

AT = datetime(2025, 3, 1, tzinfo=UTC)
TX = Transaction(
    transaction_id="tx-1",
    account_id="acct-1",
    card_token="tok",
    amount=Decimal("10.5"),
    currency="EUR",
    merchant_id="m-1",
    country="FR",
    channel=Channel.POS,
    timestamp=AT,
    type=TxType.DEBIT,
)
DECISION = Decision(
    decision_id="d-1",
    transaction_id="tx-1",
    account_id="acct-1",
    outcome=Outcome.APPROVE,
    risk_score=0.1,
    ingested_at=AT,
    decided_at=AT,
    transaction=TX,
)


@pytest.mark.parametrize(
    ("record", "match"),
    [
        (dataclasses.replace(TX, amount=10.5), r"Transaction\.amount: float is no Decimal"),
        (dataclasses.replace(TX, timestamp="2025-03-01"), r"Transaction\.timestamp: str is no"),
        (dataclasses.replace(TX, ingested_at=1), r"Transaction\.ingested_at: int is no datetime"),
        (dataclasses.replace(DECISION, transaction=None), "Transaction: AttributeError"),
        (dataclasses.replace(DECISION, rules_fired=("r-1",)), "no attribute 'rule_id'"),
        (dataclasses.replace(DECISION, features={"amount": "high"}), "feature_values"),
    ],
)
def test_values_of_the_wrong_type_are_invalid_records(record: Any, match: str) -> None:
    encode = encode_decision if isinstance(record, Decision) else encode_transaction
    with pytest.raises(InvalidRecord, match=match):
        encode(record)


def test_a_decoded_key_the_class_lacks_is_an_error_not_a_drop() -> None:
    with pytest.raises(TypeError, match="bogus"):
        Transaction.from_avro({**TX.to_avro(), "bogus": 1})


def test_a_subclass_converts_as_its_record() -> None:
    class Flagged(Transaction):
        __slots__ = ()

    back = Flagged.from_avro(TX.to_avro())
    assert type(back) is Flagged
    assert decode_transaction(encode_transaction(back)) == TX


def test_the_amount_scale_is_the_schemas() -> None:
    fields = {f["name"]: f["type"] for f in default_registry().latest("transaction").raw["fields"]}
    assert fields["amount"]["scale"] == AMOUNT_SCALE


class Colour(enum.StrEnum):
    RED = "RED"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Thing(AvroConverted):
    name: str
    colour: Colour = Colour.RED
    tags: tuple[str, ...] = ()


def schema(*fields: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": "Thing", "namespace": "io.sentinelstream", "fields": fields}


NAME = {"name": "name", "type": "string"}
COLOUR = {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED"]}}
TAGS = {"name": "tags", "type": {"type": "array", "items": "string"}}


def test_a_matching_class_plans() -> None:
    plan = plan_for(Thing, schema(NAME, COLOUR, TAGS))
    assert plan.from_avro({"name": "a", "colour": "RED", "tags": ["x"]}, Thing) == Thing(
        name="a", tags=("x",)
    )


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ((NAME, COLOUR), r"only in the class \['tags'\], only in the schema \[\]"),
        ((NAME, COLOUR, TAGS, {"name": "x", "type": "int"}), r"only in the schema \['x'\]"),
        (
            (NAME, {**COLOUR, "type": {**COLOUR["type"], "symbols": ["RED", "BLUE"]}}, TAGS),
            r"Colour lacks the symbols \['BLUE'\]",
        ),
        ((NAME, COLOUR, {**TAGS, "type": "string"}), None),  # no conversion needed: plans
        ((NAME, {**COLOUR, "type": "long"}, TAGS), None),
        (
            (NAME, COLOUR, {**TAGS, "type": {"type": "map", "values": "string"}}),
            None,
        ),
        (
            ({**NAME, "type": {"type": "enum", "name": "N", "symbols": ["a"]}}, COLOUR, TAGS),
            None,  # an Avro enum may be a plain str field (a named list's kind)
        ),
        (
            (NAME, {**COLOUR, "type": ["null", COLOUR["type"], "string"]}, TAGS),
            r"only \[null, T\] unions",
        ),
        ((NAME, COLOUR, {**TAGS, "type": "Nope"}), "unknown named type Nope"),
    ],
)
def test_planning_checks_what_the_conversion_relies_on(
    fields: tuple[Mapping[str, Any], ...], match: str | None
) -> None:
    if match is None:
        plan_for(Thing, schema(*fields))
        return
    with pytest.raises(SchemaLoadError, match=match):
        plan_for(Thing, schema(*fields))


def test_an_array_needs_a_tuple_field() -> None:
    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Listed(AvroConverted):
        tags: list[str]

    with pytest.raises(SchemaLoadError, match=r"tuple\[T, \.\.\.\] field"):
        plan_for(Listed, schema(TAGS))


def test_importing_the_records_reads_no_schema() -> None:
    # Planning reads every .avsc: on the first conversion, not on import.
    check = (
        "import schemas.records, schemas.registry as r; "
        "assert r.default_registry.cache_info().currsize == 0"
    )
    root = str(Path(__file__).parents[3])
    subprocess.run([sys.executable, "-c", check], check=True, cwd=root)  # noqa: S603


def test_a_record_converts_just_some_of_its_wire_fields() -> None:
    """``to_avro_of``: the named wire fields as ``to_avro`` gives them (a field a codec
    spreads over several comes with all of them), the others not even read."""
    whole = DECISION.to_avro()
    head = tuple(name for name in whole if name != "transaction")
    assert DECISION.to_avro_of(head) == {name: whole[name] for name in head}
    assert TX.to_avro_of(("ingested_at", "merchant_name")) == {
        "ingested_at": None,
        "merchant_name": None,
    }
    broken = dataclasses.replace(DECISION, transaction=None)
    assert broken.to_avro_of(head) == {name: whole[name] for name in head}
    for names in [("features",), ("nonexistent",), ()]:
        with pytest.raises(SchemaLoadError):
            DECISION.to_avro_of(names)
