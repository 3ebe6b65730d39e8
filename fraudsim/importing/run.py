"""One import: source batches -> checked rows -> a dataset folder, a rejection report and
``import.json``, the record of what was imported (source, mapping, counts, assumptions).

Accepted rows are held as Arrow batches (not Python objects) until the end, when they are
put in canonical (event time, transaction id) order and written by ``fraudsim.tables``.
Rejections are streamed to the report as they are found, card numbers masked.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from fraudsim import tables
from fraudsim.importing.mapping import Mapping
from fraudsim.importing.rows import Rejection, RowReader
from fraudsim.importing.source import Source, SourceError, open_source

IMPORT_FILE: Final = "import.json"
REJECTED_FILE: Final = "rejected.csv"
METADATA_KEY: Final = "sentinel.import"
Progress = Callable[[int, int], None]  # (done, total) in the source's unit


@dataclass(slots=True)
class Summary:
    """What an import read, wrote and rejected."""

    read: int = 0
    written: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # by kind (field, duplicate...)
    examples: dict[str, str] = field(default_factory=dict)  # kind -> first reason, with its row
    labels: int = 0
    first_ms: int | None = None
    last_ms: int | None = None

    @property
    def fraud_share(self) -> float:
        return self.labels / self.written if self.written else 0.0

    def count(self, rejection: Rejection) -> None:
        self.rejected[rejection.kind] += 1
        self.examples.setdefault(rejection.kind, f"row {rejection.row}: {rejection.reason}")


def run_import(
    source_path: Path,
    mapping: Mapping,
    out: Path,
    *,
    rejected_path: Path | None = None,
    mapping_path: Path | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Import ``source_path`` into the dataset folder ``out``; see the module docstring."""
    source = open_source(source_path, mapping)
    out.mkdir(parents=True, exist_ok=True)
    rejected_path = rejected_path or out / REJECTED_FILE
    summary, batches = Summary(), []
    try:
        with rejected_path.open("w", newline="", encoding="utf-8") as report:
            writer = csv.writer(report)
            writer.writerow(("row", "transaction_id", "field", "reason"))
            batches = _read(source, RowReader(mapping), summary, writer, progress)
    finally:
        source.close()
    transactions, labels = _dataset(batches)
    summary.labels = labels.num_rows
    if transactions.num_rows:
        stamps = tables.epoch_ms(transactions.column("timestamp"))
        summary.first_ms, summary.last_ms = int(stamps[0]), int(stamps[-1])
    record = _record(source_path, mapping, mapping_path, rejected_path, summary)
    text = json.dumps(record, indent=2, ensure_ascii=False)
    tables.write_tables(transactions, labels, out, {METADATA_KEY: text})
    (out / IMPORT_FILE).write_text(text + "\n", encoding="utf-8")
    return summary


def _read(
    source: Source, reader: RowReader, summary: Summary, writer: Any, progress: Progress | None
) -> list[Any]:
    batches, reported = [], 0

    def report(rejected: list[Rejection]) -> None:
        summary.read += len(rejected)
        for rejection in rejected:
            summary.count(rejection)
            writer.writerow((rejection.row, rejection.transaction_id or "", rejection.kind,
                             rejection.reason))  # fmt: skip

    try:
        for batch in source:
            accepted, rejected = reader.read(batch.columns, batch.rows)
            # Lines the CSV parser skipped are reported with the batch they were read with.
            report(source.malformed[reported:] + rejected)
            reported = len(source.malformed)
            summary.read += len(accepted)
            summary.written += len(accepted)
            if len(accepted):
                batches.append(tables.rows_table(accepted.columns(), accepted.labels))
            if progress is not None:
                progress(source.done(), source.total)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(
            f"{source.path}: unreadable after row {summary.read} ({exc}); nothing was written"
        ) from exc
    report(source.malformed[reported:])
    return batches


def _dataset(batches: list[Any]) -> tuple[Any, Any]:
    if not batches:
        empty = tables.TransactionColumns({n: [] for n in _EMPTY_NAMES}, [], [])
        batches = [tables.rows_table(empty, {"is_fraud": [], "scenario": [], "labelled_at": []})]
    return tables.split_rows(tables.canonical(pa.concat_tables(batches)))


_EMPTY_NAMES: Final = [n for n in tables.TRANSACTION_COLUMNS if n not in ("amount", "timestamp")]


def _record(
    source: Path, mapping: Mapping, mapping_path: Path | None, rejected: Path, s: Summary
) -> dict[str, Any]:
    """import.json: enough to tell, later, where this data set came from and what it assumed."""
    labels = mapping.labels
    if labels is None:
        labelled_at = "no labels in the source: every transaction is genuine"
    elif labels.delay_days is not None:
        labelled_at = (f"ASSUMED: the source has no label time; each fraud label is taken to be "
                       f"known {labels.delay_days:g} days after its transaction")  # fmt: skip
    else:
        labelled_at = f"from the source column {labels.time_column!r}"
    return {
        "source": str(source.resolve()),
        "mapping_file": None if mapping_path is None else str(mapping_path.resolve()),
        "mapping": mapping.document,
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows_read": s.read,
        "rows_written": s.written,
        "rows_rejected": dict(s.rejected.most_common()),
        "rejected_report": str(rejected.resolve()),
        "duplicates": "the first accepted row with a transaction id keeps it; later ones are "
        "rejected",
        "fraud_labels": s.labels,
        "fraud_share": s.fraud_share,
        "label_delay_days": None if labels is None else labels.delay_days,
        "labelled_at": labelled_at,
        "first_event": _iso(s.first_ms),
        "last_event": _iso(s.last_ms),
    }


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
