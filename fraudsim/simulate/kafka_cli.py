"""The Kafka side of `sentinel simulate produce`: simulated days, paced, stamped, reported."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from fraudsim.simulate.config import SimConfig
from fraudsim.simulate.days import Days
from fraudsim.simulate.live import EventClock, live_records
from fraudsim.simulate.produce import Limits, Tally, kafka_producer, run
from schemas.connections import KafkaConnection

LOG_EVERY_S = 60.0  # without a terminal (under the supervisor): one line a minute


@dataclass(frozen=True, slots=True)
class Traffic:
    """What ``stream`` was asked to send."""

    cfg: SimConfig
    rate: float
    max_events: int | None = None
    duration_s: float | None = None
    run_seed: int | None = None  # None: a new random seed, so new transaction ids


def stream(traffic: Traffic, console: Console, kafka: KafkaConnection | None = None) -> Tally:
    """Send the simulation's days to Kafka until the count or time (or SIGTERM) stops it."""
    kafka = kafka or KafkaConnection()
    days = Days(traffic.cfg, traffic.run_seed)
    cfg = traffic.cfg
    console.print(
        f"{cfg.customers:,} customers, {cfg.terminals:,} terminals (seed {cfg.seed}); "
        f"traffic seed {days.run_seed:032x}",
        soft_wrap=True,
    )
    stop = threading.Event()
    # The supervisor stops the demo with SIGTERM: finish the batch and flush, not die mid-send.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda _n, _f: stop.set()) if main else None
    try:
        tally = _send(traffic, days, kafka, console, stop)
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
    console.print(_summary(tally, days.next_day, kafka.bootstrap_servers))
    for error in tally.errors:
        console.print(f"[red]{error}")
    return tally


def _send(
    traffic: Traffic, days: Days, kafka: KafkaConnection, console: Console, stop: threading.Event
) -> Tally:
    records = live_records(days, EventClock(), kafka.topic_prefix)
    limits = Limits(traffic.rate, traffic.max_events, traffic.duration_s)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task("starting")
        logged = time.monotonic()

        def show(tally: Tally) -> None:
            nonlocal logged
            line = f"{_line(tally)}, simulated day {days.next_day}"
            progress.update(task, description=f"sending at {traffic.rate:g}/s: {line}")
            if not console.is_terminal and time.monotonic() - logged >= LOG_EVERY_S:
                logged = time.monotonic()
                console.log(line)

        return run(kafka_producer(kafka), records, limits, show, stopped=stop.is_set)


def _line(tally: Tally) -> str:
    return f"{tally.sent:,} transactions, {tally.labels:,} labels, {tally.failed:,} failed"


def _summary(tally: Tally, days: int, servers: str) -> Table:
    table = Table(title=f"sent to {servers}")
    for column in ("transactions", "labels", "acknowledged", "failed", "simulated days"):
        table.add_column(column, justify="right")
    counts = (tally.sent, tally.labels, tally.delivered, tally.failed, days)
    table.add_row(*(f"{n:,}" for n in counts))
    return table
