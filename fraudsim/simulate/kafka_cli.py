"""The Kafka side of `sentinel simulate produce`: build the records, pace them, report."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fraudsim.simulate.dataset import SimulatedData
from fraudsim.simulate.produce import Limits, Tally, kafka_producer, outgoing, run
from fraudsim.tables import TransactionColumns, label_records, labels_table, transactions_table
from schemas.connections import KafkaConnection


def send(
    data: SimulatedData,
    rate: float,
    max_events: int | None,
    duration: float | None,
    console: Console,
) -> Tally:
    kafka = KafkaConnection()
    columns = TransactionColumns.from_table(transactions_table(data))
    labels = label_records(labels_table(data))
    total = min(len(columns), max_events) if max_events is not None else len(columns)
    bar = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
           TextColumn("{task.fields[labels]} labels"), TimeElapsedColumn())  # fmt: skip
    with Progress(*bar, console=console) as progress:
        task = progress.add_task(f"sending at {rate:g}/s", total=total, labels=0)

        def show(tally: Tally) -> None:
            progress.update(task, completed=tally.sent, labels=tally.labels)

        tally = run(
            kafka_producer(kafka),
            outgoing(columns, labels, kafka.topic_prefix),
            Limits(rate, max_events, duration),
            show,
        )
    console.print(_summary(tally, kafka.bootstrap_servers))
    for error in tally.errors:
        console.print(f"[red]{error}")
    return tally


def _summary(tally: Tally, servers: str) -> Table:
    table = Table(title=f"sent to {servers}")
    for column in ("transactions", "labels", "acknowledged", "failed"):
        table.add_column(column, justify="right")
    table.add_row(*(f"{n:,}" for n in (tally.sent, tally.labels, tally.delivered, tally.failed)))
    return table
