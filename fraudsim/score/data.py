"""The rows `sentinel score` reads: a data set up to the end of the scored range.

Rows are replayed in the file's order, as training replays them (the simulator and the
importer write them in time order). Rows from ``end_ms`` on are not read: they come after
the range. Labels are optional (a file of unlabelled transactions has none); those present
feed merchant risk exactly as in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fraudsim.tables import LABELS_FILE, TRANSACTIONS_FILE, epoch_ms
from fraudsim.train.data import TrainingData, prepare
from schemas.enums import Channel, TxType

_TS = pa.timestamp("ms", tz="UTC")


class ScoreError(Exception):
    """Input `sentinel score` cannot use (a missing file or column, an unknown model)."""


@dataclass(frozen=True, slots=True)
class Range:
    """Scored: ``start_ms <= timestamp < end_ms``; None leaves a side open. Rows before
    ``start_ms`` are history (warm-up), never written."""

    start_ms: int | None = None
    end_ms: int | None = None

    def __post_init__(self) -> None:
        if self.start_ms is not None and self.end_ms is not None and self.start_ms >= self.end_ms:
            raise ScoreError("--from must be before --to")

    def history(self, ts_ms: Any) -> Any:
        """Which rows (epoch ms) are warm-up history."""
        if self.start_ms is None:
            return np.zeros(len(ts_ms), dtype=bool)
        return np.asarray(ts_ms < self.start_ms)


def load(directory: Path, scored: Range) -> TrainingData:
    """The data set's rows before ``scored.end_ms``, as training prepares them."""
    path = directory / TRANSACTIONS_FILE
    if not path.is_file():
        raise ScoreError(f"{directory} has no {TRANSACTIONS_FILE}")
    transactions = pq.read_table(path)
    if "timestamp" not in transactions.column_names:
        raise ScoreError(f"{path} has no timestamp column")
    if scored.end_ms is not None:
        before = epoch_ms(transactions.column("timestamp")) < scored.end_ms
        transactions = transactions.filter(pa.array(before))
    labels = _labels(directory / LABELS_FILE, transactions.column("transaction_id"))
    try:
        data = prepare(transactions, labels)
    except KeyError as exc:
        raise ScoreError(f"{path} lacks the column {exc}: see fraudsim/tables.py") from exc
    _check_enums(data, path)
    return data


def _check_enums(data: TrainingData, path: Path) -> None:
    """Refuse a value the Transaction contract cannot hold, naming its first row, before
    the replay would stop on it (the live path could not even decode such a record)."""
    for name, kind in (("channel", Channel), ("type", TxType)):
        values = data.columns.values[name]
        unknown = set(values) - {member.value for member in kind}
        if unknown:
            row = next(i for i, v in enumerate(values) if v in unknown)
            tid = data.columns.values["transaction_id"][row]
            raise ScoreError(
                f"{path}: row {row} (transaction {tid}): {name} {values[row]!r} is not one of "
                f"{[member.value for member in kind]}"
            )


def _labels(path: Path, transaction_ids: Any) -> Any:
    """The labels of the rows read (none when the data set has no labels file)."""
    if not path.is_file():
        return _no_labels()
    labels = pq.read_table(path)
    if labels.num_rows == 0:
        return _no_labels()
    return labels.filter(
        pc.is_in(labels.column("transaction_id"), value_set=transaction_ids.combine_chunks())
    )


def _no_labels() -> Any:
    return pa.table(
        {
            "transaction_id": pa.array([], pa.string()),
            "is_fraud": pa.array([], pa.bool_()),
            "scenario": pa.array([], pa.string()),
            "labelled_at": pa.array([], _TS),
        }
    )
