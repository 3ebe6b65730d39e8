"""The dispatcher's pure parts: signatures, the backoff schedule, the circuit breaker, the
offset tracker and the retry records' headers."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from ledger_sink.webhooks import backoff, parking, retry_records, signing
from ledger_sink.webhooks.breaker import Breaker, State
from ledger_sink.webhooks.offsets import OffsetTracker
from schemas.kafka_edge import RawRecord

SECRET = "whsec_0123456789abcdef"


TS, EVENT, KIND = "1764460800", "ev-1", "decision.declined"


def test_the_signature_covers_timestamp_event_id_event_type_and_body() -> None:
    body = b'{"outcome":"DECLINE"}'
    message = b"1764460800\nev-1\ndecision.declined\n" + body
    expected = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    assert signing.signature(SECRET, TS, EVENT, KIND, body) == f"v2={expected}"


def test_a_receiver_accepts_only_fresh_untouched_signed_bodies() -> None:
    body = b"{}"
    header = signing.signature(SECRET, TS, EVENT, KIND, body)
    assert signing.verify(SECRET, TS, EVENT, KIND, body, header, now=1764460800 + 10)
    assert not signing.verify(SECRET, TS, EVENT, KIND, b"{ }", header, now=1764460800)
    assert not signing.verify("whsec_other_secret_", TS, EVENT, KIND, body, header, 1764460800)
    assert not signing.verify(SECRET, TS, EVENT, KIND, body, header, 1764460800 + 301)  # late
    assert not signing.verify(SECRET, "soon", EVENT, KIND, body, header, now=1764460800)


def test_a_captured_delivery_cannot_be_replayed_under_another_id_or_type() -> None:
    body = b"{}"
    header = signing.signature(SECRET, TS, EVENT, KIND, body)
    now = 1764460800 + 5  # well inside the replay window
    assert not signing.verify(SECRET, TS, "ev-2", KIND, body, header, now)
    assert not signing.verify(SECRET, TS, EVENT, "decision.approved", body, header, now)
    # The fields cannot be shifted into each other: a line break is no header character.
    assert not signing.verify(SECRET, TS, "ev-1\ndecision", "declined", body, header, now)


def test_only_v2_signatures_count_and_several_may_be_listed() -> None:
    body = b"{}"
    good = signing.signature(SECRET, TS, EVENT, KIND, body)
    digest = good.removeprefix("v2=")
    old = hmac.new(SECRET.encode(), b"1764460800." + body, hashlib.sha256).hexdigest()
    assert not signing.verify(SECRET, TS, EVENT, KIND, body, f"v1={old}", 1764460800)
    assert not signing.verify(SECRET, TS, EVENT, KIND, body, f"v1={digest}", 1764460800)
    assert signing.verify(SECRET, TS, EVENT, KIND, body, f"v2={'0' * 64}, {good}", 1764460800)


def test_delivery_headers_are_verified_by_the_receivers_helper() -> None:
    headers = signing.delivery_headers(SECRET, EVENT, KIND, b"{}", 1764460800.7, 3)
    assert headers[signing.EVENT_ID] == EVENT and headers[signing.EVENT_TYPE] == KIND
    assert headers[signing.TIMESTAMP] == TS
    assert headers[signing.SIGNATURE] == signing.signature(SECRET, TS, EVENT, KIND, b"{}")
    assert headers[signing.ATTEMPT] == "3"
    assert signing.verify_headers(SECRET, headers, b"{}", 1764460801)
    replayed = headers | {signing.EVENT_ID: "ev-other"}
    assert not signing.verify_headers(SECRET, replayed, b"{}", 1764460801)
    missing = {k: v for k, v in headers.items() if k != signing.EVENT_TYPE}
    assert not signing.verify_headers(SECRET, missing, b"{}", 1764460801)


def test_backoff_doubles_up_to_the_cap() -> None:
    schedule = [backoff.ceiling(n, 1.0, 60.0) for n in range(1, 10)]
    assert schedule == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert backoff.ceiling(10_000, 1.0, 60.0) == 60  # no overflow on long outages
    with pytest.raises(ValueError):
        backoff.ceiling(0, 1.0, 60.0)


def test_jitter_stays_within_half_to_all_of_the_ceiling() -> None:
    assert backoff.delay(4, 1.0, 60.0, uniform=lambda lo, hi: lo) == 4.0
    assert backoff.delay(4, 1.0, 60.0, uniform=lambda lo, hi: hi) == 8.0
    for _ in range(200):
        assert 4.0 <= backoff.delay(4, 1.0, 60.0) <= 8.0


def test_the_breaker_opens_after_k_failures_and_probes_after_the_cooldown() -> None:
    breaker = Breaker(failure_threshold=3, cooldown_s=10)
    for now in (0, 1):
        assert breaker.allow(now)
        breaker.failed(now)
    assert breaker.state is State.CLOSED
    breaker.failed(2)
    assert breaker.state is State.OPEN and not breaker.allow(11.9)
    assert breaker.allow(12)  # half-open: one probe...
    assert breaker.state is State.HALF_OPEN and not breaker.allow(12.1)  # ...at a time
    breaker.failed(13)  # a failed probe opens it again for a full cool-down
    assert breaker.state is State.OPEN and not breaker.allow(22.9)
    assert breaker.allow(23)
    breaker.succeeded()
    assert breaker.state is State.CLOSED and breaker.failures == 0 and breaker.allow(23)


def test_a_success_resets_the_consecutive_count() -> None:
    breaker = Breaker(failure_threshold=2, cooldown_s=10)
    breaker.failed(0)
    breaker.succeeded()
    breaker.failed(1)
    assert breaker.state is State.CLOSED


def test_offsets_commit_below_the_oldest_unfinished_record() -> None:
    tracker = OffsetTracker()
    place = ("t.webhooks", 0)
    for offset in range(5):
        tracker.started(place, offset)
    for offset in (1, 2, 4):
        tracker.finished(place, offset)
    assert tracker.to_commit() == {place: 0} and tracker.pending() == 2
    tracker.committed({place: 0})
    assert tracker.to_commit() == {}  # nothing moved
    tracker.finished(place, 0)
    assert tracker.to_commit() == {place: 3}
    tracker.committed({place: 3})
    tracker.finished(place, 3)
    assert tracker.to_commit() == {place: 5} and tracker.pending() == 0


def test_revoked_partitions_are_forgotten() -> None:
    tracker = OffsetTracker()
    tracker.started(("t", 1), 7)
    tracker.forget([("t", 1)])
    tracker.finished(("t", 1), 7)  # a late finish of a record now owned elsewhere
    assert tracker.to_commit() == {} and tracker.pending() == 0


def test_retry_tickets_round_trip_through_headers() -> None:
    ticket = retry_records.Ticket("sub-1", 4, 1_764_460_800_123, "HTTP 503", "ev-1")
    assert retry_records.parse(dict(ticket.headers())) == ticket
    with pytest.raises(retry_records.InvalidRetryRecord):
        retry_records.parse({"sentinel-attempt": b"2"})


def test_parked_batches_round_trip_and_refuse_truncation() -> None:
    entries = [parking.Entry(1, b"first event"), parking.Entry(7, b""), parking.Entry(2, b"x")]
    value = parking.encode(entries)
    assert parking.decode(value) == entries
    for broken in (value[:3], value[:-1], b"\x00\x00\x00\x00\x00\x00"):
        with pytest.raises(retry_records.InvalidRetryRecord):
            parking.decode(broken)


def test_a_parked_entry_dead_letters_as_the_single_retry_it_stands_for() -> None:
    record = RawRecord("t.webhooks.retry", 3, 90, b"sub-1", b"batch", {parking.BATCH: b"2"})
    ticket = retry_records.Ticket("sub-1", 2, 1_764_460_800_000, "parked")
    alone = parking.single(record, ticket, parking.Entry(4, b"event"), "ev-9")
    assert (alone.topic, alone.offset, alone.value) == ("t.webhooks.retry", 90, b"event")
    assert parking.BATCH not in alone.headers  # a re-drive sends this one event
    assert retry_records.parse(alone.headers) == retry_records.Ticket(
        "sub-1", 4, 1_764_460_800_000, "parked", "ev-9"
    )


def test_the_breaker_says_how_long_to_park() -> None:
    breaker = Breaker(failure_threshold=1, cooldown_s=10)
    assert breaker.parked_until(0, probe_s=2) is None
    breaker.failed(5)
    assert breaker.parked_until(6, probe_s=2) == 15
    assert breaker.allow(15)  # the probe goes out...
    assert breaker.parked_until(15.5, probe_s=2) == 17.5  # ...the rest wait for its answer
