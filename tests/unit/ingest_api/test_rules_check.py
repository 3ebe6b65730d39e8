"""Drafts tried off the event loop: the dry run's time budget and the loop kept free."""

import asyncio
import itertools
import time

from ingest_api.rules_check import draft_set, off_loop
from rule_engine import EMPTY_LISTS
from rule_engine.dry_run import evaluate_draft


def rows(n: int) -> list[dict[str, object]]:
    return [
        {"transaction_id": f"t{i}", "amount": float(i), "is_fraud": i % 2 == 0, "features": {}}
        for i in range(n)
    ]


def test_a_dry_run_stops_at_its_time_budget_and_says_so() -> None:
    ticks = itertools.count()  # one second per clock read
    report = evaluate_draft(
        draft_set("amount >= 2.0"), rows(100), EMPTY_LISTS, 5.0, lambda: float(next(ticks))
    )
    assert (report.evaluated, report.rows, report.complete) == (4, 100, False)
    assert (report.hits, report.hits_labelled_fraud, report.examples) == (2, 1, ["t2", "t3"])
    assert report.public()["hit_rate"] == 0.5


def test_a_dry_run_within_budget_is_complete() -> None:
    report = evaluate_draft(draft_set("amount >= 2.0"), rows(10), EMPTY_LISTS, 60.0)
    assert (report.evaluated, report.complete, report.hits) == (10, True, 8)


async def test_off_loop_keeps_the_event_loop_serving() -> None:
    many = rows(20_000)
    rules = draft_set("[" + ",".join(str(i) for i in range(300)) + "].exists(v, v == -1)")
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    report = await off_loop(evaluate_draft, rules, many, EMPTY_LISTS, 1.0)
    took = time.perf_counter() - started
    task.cancel()
    assert not report.complete and took >= 1.0
    # On the loop, the ticker would have waited the whole second; off it, it kept ticking.
    assert len(gaps) > 20 and max(gaps) < took / 2
