"""A simulated dataset on disk and in memory: Arrow tables, Parquet files, contract records.

Two Parquet files per dataset: ``transactions.parquet`` (the Transaction contract's fields,
in canonical order) and ``labels.parquet`` (one fraud Label per fraud transaction, with its
scenario and when it became known); a transaction without a label is genuine, as in
production. Both the producer and training turn rows into ``Transaction`` records here, so
they send and replay the very same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fraudsim.simulate.config import SCENARIOS
from fraudsim.simulate.dataset import SimulatedData
from fraudsim.simulate.geography import CURRENCY, Ints
from fraudsim.simulate.population import CHANNELS, MCCS
from schemas.enums import Channel, TxType
from schemas.records import Label, Transaction

TRANSACTIONS_FILE: Final = "transactions.parquet"
LABELS_FILE: Final = "labels.parquet"
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_TS = pa.timestamp("ms", tz="UTC")
# The transactions table's columns, in order; the string ones among them are stored
# dictionary-encoded (few distinct values, many rows).
TRANSACTION_COLUMNS: Final = ("transaction_id", "account_id", "card_token", "amount", "currency",
    "merchant_id", "mcc", "country", "city", "lat", "lon", "channel", "device_id", "timestamp",
    "type")  # fmt: skip
_STRINGS: Final = ("transaction_id", "account_id", "card_token", "currency", "merchant_id", "mcc",
                   "country", "city", "channel", "device_id", "type")  # fmt: skip
# The columns a labels table adds to its transaction's (``rows_table`` carries them along).
LABEL_COLUMNS: Final = ("is_fraud", "scenario", "labelled_at")


def _dictionary(indices: Ints, values: list[str], null: Any = None) -> Any:
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32(), mask=null), values)


def _amounts(cents: Ints) -> Any:
    """decimal(18, 2) straight from cents: the unscaled value is the cent count."""
    words = np.zeros((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents  # little-endian 128-bit integers; amounts are positive
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words)])


def account_ids(customers: int) -> list[str]:
    return [f"acct-{i:05d}" for i in range(customers)]


def transactions_table(data: SimulatedData) -> Any:
    rows, merchants = data.rows, data.merchants
    n = len(rows)
    zeros = np.zeros(n, dtype=np.int64)
    columns = {
        "transaction_id": pa.array(data.transaction_ids, pa.string()),
        "account_id": _dictionary(rows.customer, account_ids(data.config.customers)),
        "card_token": _dictionary(rows.customer, data.customers.tokens),
        "amount": _amounts(rows.cents),
        "currency": _dictionary(zeros, [CURRENCY]),
        "merchant_id": _dictionary(rows.merchant, merchants.ids),
        "mcc": _dictionary(merchants.mcc[rows.merchant], list(MCCS)),
        "country": _dictionary(rows.merchant, merchants.country),
        "city": _dictionary(rows.merchant, merchants.city),
        "lat": pa.array(rows.lat, pa.float64()),
        "lon": pa.array(rows.lon, pa.float64()),
        "channel": _dictionary(merchants.channel[rows.merchant], list(CHANNELS)),
        "device_id": _dictionary(rows.device, data.device_ids, null=rows.device < 0),
        "timestamp": pa.array(rows.ts_ms, _TS),
        "type": _dictionary(zeros, [TxType.DEBIT.value]),
    }
    return pa.table(columns)


def labels_table(data: SimulatedData) -> Any:
    fraud = np.flatnonzero(data.is_fraud)
    rows = data.rows.take(fraud)
    return pa.table(
        {
            "transaction_id": pa.array(data.transaction_ids[fraud], pa.string()),
            "account_id": _dictionary(rows.customer, account_ids(data.config.customers)),
            "merchant_id": _dictionary(rows.merchant, data.merchants.ids),
            "is_fraud": pa.array(np.ones(len(fraud), dtype=bool)),
            "scenario": _dictionary(rows.scenario, list(SCENARIOS)),
            "labelled_at": pa.array(data.labelled_at_ms[fraud], _TS),
            "transaction_timestamp": pa.array(rows.ts_ms, _TS),
        }
    )


def rows_table(columns: TransactionColumns, labels: dict[str, list[Any]]) -> Any:
    """Rows given as plain columns (an importer's batch), with their ``LABEL_COLUMNS``
    (``labelled_at`` in epoch ms), strings not yet dictionary-encoded: batches concatenate,
    then ``canonical`` orders and encodes them, and ``split_rows`` makes the two tables."""
    arrays = {name: pa.array(columns.values[name], pa.string()) for name in _STRINGS}
    arrays |= {name: pa.array(columns.values[name], pa.float64()) for name in ("lat", "lon")}
    arrays["amount"] = _amounts(np.asarray(columns.cents, dtype=np.int64))
    arrays["timestamp"] = pa.array(columns.ts_ms, pa.int64()).cast(_TS)
    table = pa.table({name: arrays[name] for name in TRANSACTION_COLUMNS})
    table = table.append_column("is_fraud", pa.array(labels["is_fraud"], pa.bool_()))
    table = table.append_column("scenario", pa.array(labels["scenario"], pa.string()))
    stamps = pa.array(labels["labelled_at"], pa.int64()).cast(_TS)
    return table.append_column("labelled_at", stamps)


def canonical(table: Any) -> Any:
    """``table`` in canonical (event time, transaction id) order, strings dictionary-encoded
    as ``transactions_table`` stores them."""
    order = pc.sort_indices(table, [("timestamp", "ascending"), ("transaction_id", "ascending")])
    table = table.take(order)
    for name in (*_STRINGS[1:], "scenario"):
        if name in table.column_names:
            encoded = pc.dictionary_encode(table.column(name).combine_chunks())
            table = table.set_column(table.column_names.index(name), name, encoded)
    return table


def split_rows(table: Any) -> tuple[Any, Any]:
    """(transactions, labels) of a ``canonical`` rows table: one label per fraud row, as
    ``labels_table`` writes them (a transaction without a label is genuine)."""
    fraud = table.filter(table.column("is_fraud"))
    labels = pa.table(
        {
            "transaction_id": fraud.column("transaction_id"),
            "account_id": fraud.column("account_id"),
            "merchant_id": fraud.column("merchant_id"),
            "is_fraud": fraud.column("is_fraud"),
            "scenario": fraud.column("scenario"),
            "labelled_at": fraud.column("labelled_at"),
            "transaction_timestamp": fraud.column("timestamp"),
        }
    )
    return table.select(list(TRANSACTION_COLUMNS)), labels


def write_tables(
    transactions: Any, labels: Any, directory: Path, metadata: dict[str, str] | None = None
) -> tuple[Path, Path]:
    """Write a dataset folder; ``metadata`` goes into both files' key-value metadata."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / TRANSACTIONS_FILE, directory / LABELS_FILE
    for table, path in zip((transactions, labels), paths, strict=True):
        if metadata:
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
        pq.write_table(table, path, compression="zstd")
    return paths


def write_dataset(data: SimulatedData, directory: Path) -> tuple[Path, Path]:
    return write_tables(transactions_table(data), labels_table(data), directory)


def read_dataset(directory: Path) -> tuple[Any, Any]:
    """(transactions, labels) tables of a dataset folder."""
    return pq.read_table(directory / TRANSACTIONS_FILE), pq.read_table(directory / LABELS_FILE)


def python_list(column: Any) -> list[Any]:
    """A column's values as Python objects (None for nulls), fast for dictionary columns."""
    values: list[Any] = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            lookup = np.array([*chunk.dictionary.to_pylist(), None], dtype=object)
            indices = chunk.indices.fill_null(len(chunk.dictionary))
            values += lookup[indices.to_numpy(zero_copy_only=False)].tolist()
        else:
            values += chunk.to_numpy(zero_copy_only=False).tolist()
    return values


def utc(moment: datetime) -> datetime:
    """A time given without a zone is UTC: the zone of the data sets, the ledger and the
    command line's ``--since``/``--from`` options."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def epoch_ms(column: Any) -> Ints:
    """A timestamp column as epoch milliseconds."""
    return np.asarray(pc.cast(column, pa.int64()).to_numpy(), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class TransactionColumns:
    """A transactions table as Python lists, for building records row by row."""

    values: dict[str, list[Any]]
    ts_ms: list[int]
    cents: list[int]

    @classmethod
    def from_table(cls, table: Any) -> TransactionColumns:
        names = ("transaction_id", "account_id", "card_token", "currency", "merchant_id", "mcc",
                 "country", "city", "lat", "lon", "channel", "device_id", "type")  # fmt: skip
        values = {name: python_list(table.column(name)) for name in names}
        hundred = pa.scalar(Decimal(100), pa.decimal128(3, 0))
        cents = pc.cast(pc.multiply(table.column("amount"), hundred), pa.int64())
        return cls(values, epoch_ms(table.column("timestamp")).tolist(), cents.to_pylist())

    def __len__(self) -> int:
        return len(self.ts_ms)

    def record(self, i: int) -> Transaction:
        v = self.values
        return Transaction(
            transaction_id=v["transaction_id"][i],
            account_id=v["account_id"][i],
            card_token=v["card_token"][i],
            amount=Decimal(self.cents[i]).scaleb(-2),
            currency=v["currency"][i],
            merchant_id=v["merchant_id"][i],
            mcc=v["mcc"][i],
            country=v["country"][i],
            city=v["city"][i],
            lat=v["lat"][i],
            lon=v["lon"][i],
            channel=Channel(v["channel"][i]),
            device_id=v["device_id"][i],
            timestamp=EPOCH + timedelta(milliseconds=self.ts_ms[i]),
            type=TxType(v["type"][i]),
        )


def label_records(table: Any) -> list[Label]:
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    stamps = {name: epoch_ms(table.column(name)).tolist()
              for name in ("labelled_at", "transaction_timestamp")}  # fmt: skip
    return [
        Label(
            transaction_id=columns["transaction_id"][i],
            account_id=columns["account_id"][i],
            merchant_id=columns["merchant_id"][i],
            is_fraud=columns["is_fraud"][i],
            scenario=columns["scenario"][i],
            labelled_at=EPOCH + timedelta(milliseconds=stamps["labelled_at"][i]),
            transaction_timestamp=EPOCH
            + timedelta(milliseconds=stamps["transaction_timestamp"][i]),
        )
        for i in range(table.num_rows)
    ]
