"""The endless simulation and its live records: new days, new ids, current times, bounded memory."""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from fraudsim.simulate import SimConfig, simulate
from fraudsim.simulate.config import COMPROMISED_TERMINAL, DAY_MS, SCENARIOS
from fraudsim.simulate.days import Days
from fraudsim.simulate.live import EventClock, live_records
from fraudsim.simulate.produce import Record
from schemas.codec import decode_label, decode_transaction
from schemas.records import Label, Transaction

START = datetime(2026, 12, 1, tzinfo=UTC)
CFG = SimConfig(customers=200, terminals=400, seed=4, start=START)
NOW_MS = int(datetime(2026, 12, 7, 9, 30, tzinfo=UTC).timestamp() * 1000)


class WallClock:
    """A fake wall clock in ms that moves on a little at every reading (the pacing)."""

    def __init__(self, step_ms: int = 5) -> None:
        self.now, self.step = NOW_MS, step_ms

    def __call__(self) -> int:
        self.now += self.step
        return self.now


def test_days_follow_one_another_with_the_same_population_and_every_scenario() -> None:
    days = Days(CFG, run_seed=1)
    batch = simulate(replace(CFG, days=2))
    assert days.customers.tokens == batch.customers.tokens
    assert days.merchants.ids == batch.merchants.ids
    seen: set[str] = set()
    counts = dict.fromkeys(SCENARIOS, 0)
    for n, day in enumerate(itertools.islice(days, 4)):
        begins = CFG.start_ms + n * DAY_MS
        ts = day.rows.ts_ms
        assert begins <= ts.min() and ts.max() < begins + DAY_MS
        assert (np.diff(ts) >= 0).all()  # canonical order within the day
        seen.update(day.transaction_ids.tolist())
        for name, count in day.scenario_counts().items():
            counts[name] += count
        # Compromised terminals carry over from the days before the stream began: the
        # scenario is at its steady state from the first day, not ramping up.
        assert (day.rows.scenario == COMPROMISED_TERMINAL).mean() > 0.02
    assert len(seen) == sum(counts.values())  # no id twice, across day boundaries
    assert all(counts[name] > 0 for name in SCENARIOS if name != "large_amount")
    # 2 terminals a day for 28 days, 3 cards a day for 14 (some drawn again: 200 cards).
    assert 50 <= (days.terminal_until > days.next_day - 1).sum() <= 56
    assert 30 <= (days.card_until > days.next_day - 1).sum() <= 42


def test_a_run_seed_repeats_a_run_and_every_new_run_sends_new_ids() -> None:
    first, again = Days(CFG, run_seed=7).day(), Days(CFG, run_seed=7).day()
    assert first.transaction_ids.tolist() == again.transaction_ids.tolist()
    one, other = Days(CFG).day(), Days(CFG).day()  # two runs, as after a restart
    assert not set(one.transaction_ids.tolist()) & set(other.transaction_ids.tolist())
    assert one.device_ids[: CFG.customers] == other.device_ids[: CFG.customers]  # phones


def decoded(records: Iterator[Record]) -> Iterator[Transaction | Label]:
    for topic, key, value, is_label in records:
        record = decode_label(value) if is_label else decode_transaction(value)
        assert topic == ("p.labels" if is_label else "p.transactions")
        assert key == record.account_id.encode()
        yield record


def test_live_records_cross_days_with_new_ids_current_times_and_labels_after() -> None:
    wall = WallClock()
    days = Days(CFG, run_seed=2)
    sent: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    previous = datetime.fromtimestamp(0, UTC)
    labels = 0
    for record in decoded(live_records(days, EventClock(wall), prefix="p.")):
        now = datetime.fromtimestamp(wall.now / 1000, UTC)
        if isinstance(record, Label):
            labels += 1
            assert sent[record.transaction_id] == record.transaction_timestamp
            assert record.transaction_timestamp < record.labelled_at <= now
            continue
        assert record.transaction_id not in sent
        sent[record.transaction_id] = record.timestamp
        # Current: the wall clock's reading, give or take the per-account millisecond.
        assert now <= record.timestamp <= now + timedelta(milliseconds=5)
        assert previous <= record.timestamp  # never back
        assert last.get(record.account_id, previous) < record.timestamp or not last
        last[record.account_id] = previous = record.timestamp
        if days.next_day > 3:  # three midnights crossed (day 3 drawn and being sent)
            break
    assert len(sent) > 3 * 350 and labels > 10


def test_memory_stays_bounded_day_after_day() -> None:
    days = Days(replace(CFG, customers=100, terminals=200), run_seed=3)
    records = live_records(days, EventClock(WallClock()))
    traced: dict[int, int] = {}
    tracemalloc.start()
    try:
        for _record in records:
            traced[days.next_day] = max(
                traced.get(days.next_day, 0), tracemalloc.get_traced_memory()[0]
            )
            if days.next_day > 40:
                break
    finally:
        tracemalloc.stop()
    settled = max(traced[day] for day in range(10, 15))  # labels pending for 7 days by now
    late = max(traced[day] for day in range(35, 41))
    # Flat from then on (about 200 transactions a day: keeping them would add ~50 KB a day).
    assert late - settled < 150_000, (settled, late)
