"""`sentinel labels import FILE.csv`: a chargeback file onto the labels topic.

Every row is checked and built by ``ingest_api.label_intake``, exactly as ``POST /v1/labels``
checks one request; its transactions are looked up in the ledger a batch at a time (the
API's read side) and the valid labels of each batch published with the API's publisher.
A refused row is reported (its line in the file, the reason) and the import goes on.

It lives with the API, not with the labels sink that consumes the topic: like the route it
reads the ledger as the API does and publishes as the API does, under the API's settings.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from ingest_api import readside
from ingest_api.errors import IngestError
from ingest_api.handlers import field_errors
from ingest_api.ingest import utcnow
from ingest_api.label_intake import LabelIn, build_label, outgoing, parse_label
from ingest_api.publisher import KafkaPublisher, OutgoingRecord
from ingest_api.settings import ApiSettings
from schemas.secrets import refuse_default_secrets

REQUIRED = ("transaction_id", "kind")
OPTIONAL = ("labelled_at", "reason")
BATCH_ROWS = 500
console = Console()
errors = Console(stderr=True)


class BadFile(Exception):
    """The file as a whole cannot be imported (its header); nothing was published."""


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int  # the row's line in the file, the header being line 1
    transaction_id: str | None
    code: str
    message: str


@dataclass(slots=True)
class Report:
    rows: int = 0
    published: int = 0
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    cells: Mapping[str | None, str | list[str] | None]


def check_header(header: list[str] | None) -> None:
    """Refuse a file without the required columns or with a column nobody reads (a typo in
    "labelled_at" would otherwise silently label every row with the import's time)."""
    columns = header or []
    missing = [c for c in REQUIRED if c not in columns]
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if missing or unknown:
        raise BadFile(
            f"the header must name {', '.join(REQUIRED)} and may name {', '.join(OPTIONAL)};"
            f" missing: {missing or 'none'}, unknown: {unknown or 'none'}"
        )


def read_rows(path: Path) -> Iterator[list[Row]]:
    """The file's rows in batches of ``BATCH_ROWS``; blank lines skipped."""
    # utf-8-sig: a spreadsheet's export starts with a byte-order mark.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle, strict=True)
        check_header(list(reader.fieldnames or []))
        batch: list[Row] = []
        for cells in reader:
            batch.append(Row(reader.line_num, cells))
            if len(batch) == BATCH_ROWS:
                yield batch
                batch = []
        if batch:
            yield batch


def parse_row(row: Row) -> LabelIn | Rejected:
    """The row as a request body: empty optional cells are absent, like omitted fields."""
    tid = row.cells.get("transaction_id")
    tid = tid.strip() if isinstance(tid, str) else None
    if None in row.cells:
        return Rejected(row.line, tid, "validation_failed", "more cells than the header names")
    body = {
        name: value.strip()
        for name, value in row.cells.items()
        if isinstance(name, str) and isinstance(value, str) and value.strip()
    }
    try:
        return parse_label(body)
    except ValidationError as exc:
        problems = field_errors(exc.errors(include_url=False, include_input=False))
        message = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        return Rejected(row.line, tid, "validation_failed", message)


async def import_batch(
    rows: list[Row], conn: psycopg.AsyncConnection, publisher: KafkaPublisher, settings: ApiSettings
) -> tuple[int, list[Rejected]]:
    """Check, build and publish one batch; (labels published, rows rejected)."""
    parsed = [(row.line, parse_row(row)) for row in rows]
    rejected = [item for _line, item in parsed if isinstance(item, Rejected)]
    valid = [(line, item) for line, item in parsed if isinstance(item, LabelIn)]
    found = await readside.labelled_transactions(conn, [item.transaction_id for _, item in valid])
    received_at = utcnow()
    records: list[OutgoingRecord] = []
    for line, item in valid:
        try:
            label = build_label(
                item, found.get(item.transaction_id), received_at, settings.max_future_skew_s
            )
        except IngestError as exc:
            rejected.append(Rejected(line, item.transaction_id, exc.code, exc.message))
            continue
        records.append(outgoing(label, settings.kafka)[0])
    if records:
        await publisher.publish(records)  # every record acknowledged, or Unavailable
    return len(records), sorted(rejected, key=lambda r: r.line)


async def import_file(path: Path, settings: ApiSettings, report: Report) -> None:
    """Import every row of ``path`` into ``report``: BadFile before anything is published;
    a file unreadable further on, or Kafka down, stops it with ``report`` saying how far."""
    refuse_default_secrets(settings.kafka, settings.postgres)
    publisher = KafkaPublisher(settings.kafka, 5.0, settings.produce_timeout_ms)
    dsn = settings.postgres.dsn.get_secret_value()
    try:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            with _progress() as progress:
                task = progress.add_task("importing labels", total=None)
                for rows in read_rows(path):
                    published, rejected = await import_batch(rows, conn, publisher, settings)
                    report.rows += len(rows)
                    report.published += published
                    report.rejected += rejected
                    progress.update(task, completed=report.rows)
    finally:
        publisher.close()


def _progress() -> Progress:
    columns = (SpinnerColumn(), TextColumn("{task.description}: {task.completed} rows"))
    return Progress(*columns, console=errors, transient=True)


def _show(report: Report) -> None:
    if report.rejected:
        table = Table(title="rejected rows")
        for column in ("line", "transaction_id", "code", "reason"):
            table.add_column(column, overflow="fold")
        for r in report.rejected:
            table.add_row(str(r.line), r.transaction_id or "", r.code, r.message)
        console.print(table)
    rejected = len(report.rejected)
    console.print(f"{report.rows} rows: {report.published} labels published, {rejected} rejected")


def import_labels(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="A CSV file."),
    ],
) -> None:
    """Publish the labels of a chargeback CSV, each row checked as POST /v1/labels checks one.

    Columns: transaction_id, kind (chargeback, confirmed_fraud, confirmed_genuine),
    optionally labelled_at (RFC 3339; default: now) and reason.

    Rejected rows are listed with their line and reason, the valid ones published all the
    same; exit status 1 if any row was rejected or the import stopped.
    """
    report = Report()
    try:
        asyncio.run(import_file(file, ApiSettings(), report))
    except (BadFile, csv.Error, UnicodeDecodeError, IngestError, psycopg.OperationalError) as exc:
        errors.print(f"[red]import of {file} stopped:[/] {exc}", highlight=False)
        _show(report)
        raise typer.Exit(1) from exc
    _show(report)
    if report.rejected:
        raise typer.Exit(1)
