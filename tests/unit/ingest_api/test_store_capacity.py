"""The idempotency store's entry, its sizing rule and its fill alarm (no services)."""

from __future__ import annotations

import logging
import os
import uuid

import orjson
import pytest
from prometheus_client import REGISTRY

from ingest_api.idempotency_entry import (
    StoredResponse,
    entry_key,
    fingerprint,
    pack_done,
    pack_pending,
    unpack,
)
from ingest_api.models import Accepted
from ingest_api.store_capacity import (
    FillAlarm,
    StoreFill,
    fill_from_info,
    record,
    required_bytes,
    sustainable_rate,
)

GIB = 1 << 30
DAY = 24 * 60 * 60


def _accepted() -> bytes:
    tid = f"tx_{uuid.uuid4().hex}"
    return (
        Accepted(transaction_id=tid, decision_url=f"/v1/decisions/{tid}").model_dump_json().encode()
    )


def test_an_accepted_transaction_packs_into_a_third_of_its_json() -> None:
    body, fp = _accepted(), fingerprint(b"/v1/transactions\n{}")
    old = orjson.dumps({"state": "done", "fp": "0" * 64, "status": 202, "body": body.decode()})
    packed = pack_done(fp, StoredResponse(202, body))
    assert len(packed) <= 64 < len(old) // 3
    assert unpack(packed).response == StoredResponse(202, body)
    assert unpack(packed).fingerprint == fp


def test_a_body_that_does_not_deflate_is_kept_as_it_is() -> None:
    body = os.urandom(300)
    packed = pack_done(b"f" * 12, StoredResponse(201, body))
    assert len(packed) == 1 + 12 + 2 + 300
    assert unpack(packed).response == StoredResponse(201, body)


def test_a_pending_claim_and_unknown_bytes() -> None:
    assert unpack(pack_pending(b"f" * 12)).response is None
    for bad in (b"", b"p123", b"x" + b"f" * 14):
        with pytest.raises(ValueError, match="idempotency entry"):
            unpack(bad)


def test_keys_are_short_and_scoped_by_api_key() -> None:
    long_key = "k" * 255
    assert len(entry_key("3f1c0c2e-8a8c-4f8e-9a55-0f4f8f1f2f3a", long_key)) == 21
    assert entry_key("a", "x") == entry_key("a", "x") != entry_key("b", "x")
    assert entry_key("a", "b\0c") != entry_key("a\0b", "c")


def test_sizing_is_rate_times_ttl_times_entry_over_the_fill_target() -> None:
    # 300 POSTs a second kept 24 h at 136 bytes, warning at 80 %: about 4.4 GB.
    assert required_bytes(300, DAY, 136, 0.8, 0) == 300 * DAY * 136 / 0.8
    assert 4.3e9 < required_bytes(300, DAY) < 4.5e9
    # What the local stack's 1 GiB holds for a day: ~73 POSTs a second (~23 at 440 bytes).
    assert 70 < sustainable_rate(GIB, DAY) < 75
    assert 22 < sustainable_rate(GIB, DAY, 440) < 23
    assert sustainable_rate(required_bytes(123, 3600), 3600) == pytest.approx(123, rel=1e-6)
    with pytest.raises(ValueError, match="fill_target"):
        required_bytes(1, 1, fill_target=0)


def test_the_fill_level_reads_info_memory() -> None:
    fill = fill_from_info({"used_memory": 300, "maxmemory": 1000}, keys=7)
    assert (fill.ratio, fill.keys) == (0.3, 7)
    # maxmemory 0: Redis grows until the machine's memory is gone.
    assert (
        fill_from_info({"used_memory": 5, "maxmemory": 0, "total_system_memory": 10}, 0).ratio
        == 0.5
    )
    assert fill_from_info({"used_memory": 5}, 0).ratio == 0.0


def test_the_alarm_is_raised_and_cleared_once_each_way() -> None:
    alarm = FillAlarm(0.8)
    readings = [0.5, 0.79, 0.8, 0.95, 0.81, 0.7, 0.6, 0.85]
    said = [alarm.update(StoreFill(int(r * 1000), 1000, 1)) for r in readings]
    changes = [(r, m.split(" ")[2]) for r, m in zip(readings, said, strict=True) if m]
    assert changes == [(0.8, "80%"), (0.7, "back"), (0.85, "85%")]
    assert alarm.raised
    assert FillAlarm(0.8).update(StoreFill(10, 0, 0)) is None  # no ceiling known: no alarm


def _gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(f"sentinel_api_idempotency_store_{name}")


def test_a_reading_sets_the_gauges_and_warns_before_full(caplog: pytest.LogCaptureFixture) -> None:
    alarm = FillAlarm(0.8)
    with caplog.at_level(logging.INFO, logger="ingest_api.store_capacity"):
        record(StoreFill(900, 1000, 42), alarm)
        assert (_gauge("fill_ratio"), _gauge("keys"), _gauge("near_full")) == (0.9, 42, 1)
        assert (_gauge("used_bytes"), _gauge("max_bytes")) == (900, 1000)
        record(StoreFill(100, 1000, 42), alarm)
        assert _gauge("near_full") == 0
    levels = [(r.levelno, r.getMessage().split(" (")[0]) for r in caplog.records]
    assert levels == [
        (logging.WARNING, "idempotency store 90% full"),
        (logging.INFO, "idempotency store back under 80%"),
    ]
