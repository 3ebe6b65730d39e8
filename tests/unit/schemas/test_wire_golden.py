"""Golden bytes: every record type, encoded at every version the registry knows, byte for
byte as the hand-written conversion wrote it (issue 19), and every version read back, as
every reader version, into the same objects as before.

``golden/wire.json`` was captured with the hand-written ``to_avro``/``from_avro`` (commit
46a11f9) before the generic converter replaced them. Regenerate it only for a deliberate
change of the wire (a new schema version):
``PYTHONPATH=. .venv/bin/python tests/unit/schemas/test_wire_golden.py --write``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import decode_as, encode_decision, encode_obj
from schemas.features import FEATURE_NAMES, MERCHANT_FEATURE_NAMES
from schemas.records import (
    RECORD_TYPES,
    AccountProfile,
    AvroRecord,
    Channel,
    DeadLetter,
    Decision,
    Label,
    MerchantRisk,
    ModelAnnouncement,
    NamedList,
    Outcome,
    ReasonCode,
    ReviewResolution,
    Rule,
    RuleHit,
    RuleMode,
    Transaction,
    TxType,
    WebhookEvent,
)
from schemas.registry import default_registry

GOLDEN = Path(__file__).with_name("golden") / "wire.json"
AT = datetime(2025, 3, 1, 9, 30, 15, 250_000, tzinfo=UTC)
PARIS = timezone(timedelta(hours=1))  # an offset the wire turns into UTC

FULL_TX = Transaction(
    transaction_id="2f1e4c3a-9b7d-4e0f-8a6b-1c2d3e4f5a6b",
    account_id="acct-000123",
    card_token="tok_9f8e7d6c",
    amount=Decimal("5123.4500"),
    currency="INR",
    merchant_id="merch-004567",
    country="IN",
    channel=Channel.ECOM,
    timestamp=datetime(2025, 3, 1, 10, 30, 15, 250_000, tzinfo=PARIS),
    type=TxType.DEBIT,
    mcc="5411",
    city="Pune",
    lat=18.5204,
    lon=-73.8567,
    device_id="dev-77aa",
    ip="203.0.113.7",
    ingested_at=AT + timedelta(milliseconds=12),
    idempotency_key="idem-5a6b",
    merchant_name="Chai Point",
)
BARE_TX = Transaction(
    transaction_id="tx-2",
    account_id="acct-2",
    card_token="tok_2",
    amount=Decimal("-12.500000"),  # trailing zeros past the scale: exact, so accepted
    currency="EUR",
    merchant_id="m-2",
    country="FR",
    channel=Channel.ATM,
    timestamp=AT,
    type=TxType.REFUND,
)
# Listed features by position (two left out: NaN on the wire), one unlisted by name.
FEATURES = {
    **{name: float(i) / 4 for i, name in enumerate(FEATURE_NAMES) if name != "secs_since_prev"},
    **{name: 0.125 for name in MERCHANT_FEATURE_NAMES[1:]},
    "experimental_ratio": 2.5,
}
HIT = RuleHit(rule_id="high-amount-abroad", version=3, action="REVIEW")

SAMPLES: dict[str, AvroRecord] = {
    "transaction/full": FULL_TX,
    "transaction/bare": BARE_TX,
    "decision/full": Decision(
        decision_id="d-1",
        transaction_id=FULL_TX.transaction_id,
        account_id=FULL_TX.account_id,
        outcome=Outcome.REVIEW,
        risk_score=0.8125,
        ingested_at=AT,
        decided_at=AT + timedelta(milliseconds=7),
        transaction=FULL_TX,
        model_version="m-2025-03",
        challenger_model_version="m-2025-04",
        challenger_score=0.25,
        rules_fired=(HIT, RuleHit(rule_id="night", version=1, action="DECLINE")),
        shadow_rules_fired=(HIT,),
        reason_codes=(
            ReasonCode(feature="amount", value=5123.45, contribution=1.5),
            ReasonCode(feature="new_country", value=1.0, contribution=-0.25),
        ),
        features=FEATURES,
    ),
    "decision/bare": Decision(
        decision_id="d-2",
        transaction_id=BARE_TX.transaction_id,
        account_id=BARE_TX.account_id,
        outcome=Outcome.APPROVE,
        risk_score=0.0,
        ingested_at=AT,
        decided_at=AT,
        transaction=BARE_TX,
    ),
    "webhook_event": WebhookEvent(
        event_id="e-1",
        event_type="decision.declined",
        created_at=AT,
        account_id="acct-1",
        transaction_id="tx-1",
        payload_json='{"outcome": "DECLINE"}',
    ),
    "rule/full": Rule(
        rule_id="r-1",
        version=4,
        name="Big abroad",
        description="Over 5,000 away from home",
        expression="amount > 5000 && country != home_country",
        action="REVIEW",
        priority=10,
        mode=RuleMode.SHADOW,
        author="ana",
        updated_at=AT,
        score_delta=0.2,
    ),
    "rule/bare": Rule(
        rule_id="r-2",
        version=1,
        name="n",
        description="",
        expression="true",
        action="DECLINE",
        priority=-1,
        mode=RuleMode.ACTIVE,
        author="bo",
        updated_at=AT,
    ),
    "label/full": Label(
        transaction_id="tx-1",
        account_id="acct-1",
        merchant_id="m-1",
        is_fraud=True,
        labelled_at=AT,
        transaction_timestamp=AT - timedelta(days=3),
        scenario="chargeback",
        reason="4837",
    ),
    "label/bare": Label(
        transaction_id="tx-2",
        account_id="acct-2",
        merchant_id="m-2",
        is_fraud=False,
        labelled_at=AT,
        transaction_timestamp=AT,
    ),
    "review_resolution": ReviewResolution(
        resolution_id="res-1",
        transaction_id="tx-1",
        account_id="acct-1",
        decision_id="d-1",
        verdict=Outcome.DECLINE,
        confirmed_fraud=True,
        note="called the customer",
        analyst="ana",
        resolved_at=AT,
    ),
    "dead_letter/full": DeadLetter(
        source_topic="transactions",
        partition=3,
        offset=2**40,
        value=b"\x00\x01garbage\xff",
        error_code="malformed_message",
        error_message="3 trailing bytes",
        failed_at=AT,
        key=b"acct-1",
        headers={"sentinel-stage": "agent", "x": ""},
    ),
    "dead_letter/bare": DeadLetter(
        source_topic="decisions",
        partition=0,
        offset=0,
        value=b"",
        error_code="e",
        error_message="",
        failed_at=AT,
    ),
    "account_profile/full": AccountProfile(
        account_id="acct-1", home_country="IN", updated_at=AT, home_lat=18.52, home_lon=73.85
    ),
    "account_profile/bare": AccountProfile(account_id="acct-2", home_country="FR", updated_at=AT),
    "named_list": NamedList(
        name="blocked_merchants", kind="merchants", values=("m-9", "m-13"), updated_at=AT
    ),
    "named_list/empty": NamedList(name="none", kind="countries", values=(), updated_at=AT),
    "merchant_risk/full": MerchantRisk.of(
        "merch-1", AT.replace(minute=0, second=0, microsecond=0), range(1, 13), AT
    ),
    "merchant_risk/old_windows": MerchantRisk(
        merchant_id="merch-2",
        hour=AT,
        tx_1d=5,
        risk_1d=0.2,
        tx_7d=30,
        risk_7d=0.1,
        tx_30d=100,
        risk_30d=0.05,
        computed_at=AT,
    ),
    "model_announcement/forced": ModelAnnouncement(
        role="champion", version="m-1", announced_at=AT, announced_by="ana", forced=True
    ),
    "model_announcement/bare": ModelAnnouncement(
        role="challenger", version="m-2", announced_at=AT, announced_by="bo"
    ),
}


def _encoder(obj: AvroRecord) -> Callable[[Any, int], bytes]:
    # Decisions before v4 carry every feature by name: the codec's own entry for them.
    return encode_decision if isinstance(obj, Decision) else encode_obj


def capture() -> dict[str, Any]:
    """Every sample's bytes at every version, and each read back as every reader version."""
    out: dict[str, Any] = {}
    for name, obj in SAMPLES.items():
        versions = [info.version for info in default_registry().versions(obj.RECORD)]
        writes = {v: _encoder(obj)(obj, v) for v in versions}
        out[name] = {
            "writes": {str(v): data.hex() for v, data in writes.items()},
            "reads": {
                f"{w}->{r}": repr(decode_as(type(obj), data, r))
                for w, data in writes.items()
                for r in versions
            },
        }
    return out


def _golden() -> dict[str, Any]:
    return dict(json.loads(GOLDEN.read_text(encoding="utf-8")))


def test_every_record_type_has_a_sample() -> None:
    assert {type(obj) for obj in SAMPLES.values()} == set(RECORD_TYPES.values())


def test_golden_covers_every_sample_and_version() -> None:
    golden = _golden()
    assert set(golden) == set(SAMPLES)
    for name, obj in SAMPLES.items():
        versions = {str(info.version) for info in default_registry().versions(obj.RECORD)}
        assert set(golden[name]["writes"]) == versions, name


@pytest.mark.parametrize("name", list(SAMPLES))
def test_bytes_are_the_golden_ones(name: str) -> None:
    obj = SAMPLES[name]
    for version, hex_bytes in _golden()[name]["writes"].items():
        assert _encoder(obj)(obj, int(version)).hex() == hex_bytes, f"{name} v{version}"


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_version_reads_as_before(name: str) -> None:
    obj = SAMPLES[name]
    for pair, expected in _golden()[name]["reads"].items():
        writer, reader = pair.split("->")
        data = bytes.fromhex(_golden()[name]["writes"][writer])
        assert repr(decode_as(type(obj), data, int(reader))) == expected, f"{name} {pair}"


def test_the_latest_version_reads_back_the_sample_itself() -> None:
    for name, obj in SAMPLES.items():
        latest = default_registry().latest(obj.RECORD).version
        data = bytes.fromhex(_golden()[name]["writes"][str(latest)])
        back = decode_as(type(obj), data)
        # Aware moments compare by instant, so the Paris time equals its UTC reading.
        assert back == obj, name


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(capture(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
