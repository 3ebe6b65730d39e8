"""The Kafka path validates what the API validates: one definition (schemas.validation).

A gateway producing straight to the transactions topic skips the API; the agent must
dead-letter, with the reason, every transaction the API would refuse with a 422.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from decision_core.judge import RulesJudge
from decision_core.pipeline import DecisionPipeline, invalid
from decision_core.records import SourceRecord
from decision_core.reference import ReferenceData
from decision_core.scoring import ModelRegistry
from ingest_api.ingest import parse_transaction
from ingest_api.models import ValidationContext
from rule_engine import Thresholds
from schemas.codec import decode_dead_letter, decode_decision, encode_transaction
from schemas.records import Transaction
from tests.support.models import train_tiny_model
from tests.support.records import transaction

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def tx(at: datetime = NOW, **changes: object) -> Transaction:
    return transaction(**{"currency": "EUR", "country": "FR", "timestamp": at, **changes})


def record(t: Transaction, sent: datetime, offset: int = 0) -> SourceRecord:
    """As a gateway's producer writes it: the Kafka timestamp is when it was sent."""
    millis = int(sent.timestamp() * 1000)
    return SourceRecord("transactions", 0, offset, millis, b"acct-1", encode_transaction(t))


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    train_tiny_model(root)
    return root


def pipeline(registry: Path, clock: datetime = NOW) -> DecisionPipeline:
    judge = RulesJudge(ReferenceData(), Thresholds(0.5, 0.9))
    return DecisionPipeline(ModelRegistry(registry), judge, clock=lambda: clock)


def store() -> Callable[[str], bytes | None]:
    return {}.get


BAD = {
    "jpy_with_decimals": dict(currency="JPY", amount=Decimal("1.5")),
    "three_decimals_eur": dict(amount=Decimal("1.234")),
    "unknown_currency": dict(currency="XYZ"),
    "unknown_country": dict(country="ZZ"),
    "far_future": dict(at=NOW + timedelta(days=365)),
    "just_past_the_skew": dict(at=NOW + timedelta(seconds=301)),
    "too_old": dict(at=NOW - timedelta(days=91)),
    "zero_amount": dict(amount=Decimal("0")),
    "pan_token": dict(card_token="4111111111111111"),
    # What the ledger's columns refuse: approved here, the sink could not book it (item 9).
    "mcc_not_four_digits": dict(mcc="54111"),
    "lat_out_of_range": dict(lat=95.0, lon=2.0),
    "lon_out_of_range": dict(lat=48.0, lon=-181.0),
    "account_id_past_the_ledgers_256": dict(account_id="a" * 257),
}
GOOD = {
    "jpy_whole": dict(currency="JPY", amount=Decimal("1500")),
    "within_the_skew": dict(at=NOW + timedelta(seconds=299)),
    "eighty_nine_days_old": dict(at=NOW - timedelta(days=89)),
    "bhd_three_decimals": dict(currency="BHD", amount=Decimal("1.234")),
    "located_at_the_edges": dict(mcc="5411", lat=-90.0, lon=180.0),
}


def api_refuses(t: Transaction, now: datetime) -> bool:
    body = t.to_avro() | {"amount": str(t.amount), "timestamp": t.timestamp.isoformat()}
    body = {k: v for k, v in body.items() if v is not None}
    body.pop("ingested_at", None)
    body.pop("merchant_name", None)
    ctx = ValidationContext(now=now, max_future_skew_s=300, max_age_days=90)
    try:
        parse_transaction(orjson.dumps(body), ctx)
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize("case", [*BAD, *GOOD])
def test_the_agent_refuses_exactly_what_the_api_refuses(case: str) -> None:
    changes = dict(BAD.get(case) or GOOD[case])
    t = tx(**changes)  # type: ignore[arg-type]
    refused_by_agent = invalid(t, int(NOW.timestamp() * 1000)) is not None
    assert refused_by_agent == api_refuses(t, NOW) == (case in BAD)


@pytest.mark.parametrize("case", list(BAD))
def test_a_record_produced_straight_to_kafka_is_dead_lettered_with_its_reason(
    registry: Path, case: str
) -> None:
    bad = tx(**BAD[case])  # type: ignore[arg-type]
    result = pipeline(registry).process([record(bad, sent=NOW)], store())
    assert result.decided == 0 and result.dead_lettered == 1
    (letter,) = [decode_dead_letter(o.value) for o in result.outgoing]
    assert letter.error_code == "invalid_transaction"
    field = {
        "far_future": "timestamp",
        "just_past_the_skew": "timestamp",
        "too_old": "timestamp",
        "mcc_not_four_digits": "mcc",
        "lat_out_of_range": "lat",
        "lon_out_of_range": "lon",
        "account_id_past_the_ledgers_256": "account_id",
    }
    assert field.get(case, "") in letter.error_message


def test_a_far_future_record_no_longer_freezes_the_velocity_features(registry: Path) -> None:
    agent = pipeline(registry)
    states: dict[str, bytes] = {}
    batch = [
        record(tx(NOW + timedelta(minutes=i)), NOW + timedelta(minutes=i), i) for i in range(5)
    ]
    # One record claiming to happen a year after it was sent, then the account goes on.
    future = record(tx(NOW + timedelta(days=365)), NOW + timedelta(minutes=5), 5)
    after = [
        record(tx(NOW + timedelta(minutes=i)), NOW + timedelta(minutes=i), i) for i in range(6, 10)
    ]
    result = agent.process([*batch, future, *after], states.get)
    decisions = [decode_decision(o.value) for o in result.outgoing if o.role == "decisions"]
    assert result.dead_lettered == 1
    assert [d.features["count_1h"] for d in decisions] == [float(n) for n in range(1, 10)]


def test_a_replay_of_history_is_bounded_by_the_records_own_times(registry: Path) -> None:
    # Replayed a year later: the processing clock is far ahead, the records' times are not.
    last_year = NOW - timedelta(days=365)
    replay = pipeline(registry, clock=NOW)
    old = [
        record(tx(last_year + timedelta(minutes=i)), last_year + timedelta(minutes=i), i)
        for i in range(3)
    ]
    result = replay.process(old, store())
    assert (result.decided, result.dead_lettered) == (3, 0)


@pytest.mark.parametrize("coordinate", ["lat", "lon"])
def test_a_coordinate_json_cannot_carry_is_refused_on_the_kafka_path(
    registry: Path, coordinate: str
) -> None:
    """NaN reaches the agent only through Avro; the ledger's range check refuses it."""
    bad = tx(**{"lat": 1.0, "lon": 1.0, coordinate: float("nan")})  # type: ignore[arg-type]
    result = pipeline(registry).process([record(bad, sent=NOW)], store())
    (letter,) = [decode_dead_letter(o.value) for o in result.outgoing]
    assert (result.decided, letter.error_code) == (0, "invalid_transaction")
    assert coordinate in letter.error_message
