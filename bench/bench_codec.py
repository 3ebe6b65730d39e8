"""Benchmark: µs per Transaction through schemas.codec (encode, decode, round trip).

Run: .venv/bin/python bench/bench_codec.py
Each figure is the median over RUNS runs of LOOPS calls, after a warm-up.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from io import BytesIO

from fastavro import schemaless_reader, schemaless_writer
from rich.console import Console
from rich.table import Table

from schemas.codec import decode_transaction, encode_transaction
from schemas.records import Channel, Transaction, TxType
from schemas.registry import default_registry

RUNS = 9
LOOPS = 20_000


def sample_transaction() -> Transaction:
    """A realistic transaction with most optional fields set."""
    return Transaction(
        transaction_id="2f1e4c3a-9b7d-4e0f-8a6b-1c2d3e4f5a6b",
        account_id="acct-000123",
        card_token="tok_9f8e7d6c5b4a3f2e",  # noqa: S106 - a made-up card token, no secret
        amount=Decimal("5123.4500"),
        currency="INR",
        merchant_id="merch-004567",
        country="IN",
        channel=Channel.ECOM,
        timestamp=datetime(2025, 3, 1, 9, 30, 15, 250_000, tzinfo=UTC),
        type=TxType.DEBIT,
        mcc="5411",
        city="Pune",
        lat=18.5204,
        lon=73.8567,
        device_id="dev-77aa",
        ip="203.0.113.7",
        ingested_at=datetime(2025, 3, 1, 9, 30, 15, 262_000, tzinfo=UTC),
        idempotency_key="idem-5a6b",
        merchant_name="Chai Point",
    )


def median_us(operation: Callable[[], object]) -> float:
    """Median µs per call of `operation` over RUNS runs of LOOPS calls."""
    for _ in range(LOOPS // 10):
        operation()
    per_run = []
    for _ in range(RUNS):
        start = time.perf_counter_ns()
        for _ in range(LOOPS):
            operation()
        per_run.append((time.perf_counter_ns() - start) / LOOPS / 1000)
    return statistics.median(per_run)


def main() -> None:
    tx = sample_transaction()
    data = encode_transaction(tx)
    parsed = default_registry().latest("transaction").parsed
    value = tx.to_avro()
    body = data[5:]

    def fastavro_only() -> object:
        # The floor: fastavro alone, no framing, no dataclass conversion.
        buf = BytesIO()
        schemaless_writer(buf, parsed, value)
        buf.seek(0)
        return schemaless_reader(buf, parsed, None)

    cases: dict[str, Callable[[], object]] = {
        "encode_transaction": lambda: encode_transaction(tx),
        "decode_transaction": lambda: decode_transaction(data),
        "round trip (encode + decode)": lambda: decode_transaction(encode_transaction(tx)),
        "fastavro only, dict in/out": fastavro_only,
        "to_avro + from_avro only": lambda: Transaction.from_avro(tx.to_avro()),
    }
    table = Table(title=f"schemas.codec, Transaction ({len(data)} bytes, body {len(body)})")
    table.add_column("operation")
    table.add_column("µs / call (median)", justify="right")
    for name, operation in cases.items():
        table.add_row(name, f"{median_us(operation):.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
