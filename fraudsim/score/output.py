"""The scored file: one row per transaction of the range, written batch by batch.

Columns: ``transaction_id``, ``account_id``, ``timestamp``, ``score`` (the risk score the
outcome was taken from: the model's plus the fired rules' adjustments; null when rejected),
``model_score`` (the model's own probability), ``outcome`` (APPROVE, REVIEW, DECLINE, or
REJECTED for a row the live path refuses), ``rules_fired`` and ``shadow_rules_fired`` (rule
ids joined by ``;``), ``reason_{1,2,3}`` with ``_value`` and ``_contribution`` (the
decision's reason codes, strongest first), ``rejected_reason`` and ``model_version``. CSV or
Parquet by the file's extension.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from decision_core.scoring import REASONS_PER_DECISION
from fraudsim.score.data import ScoreError
from schemas.records import ReasonCode

REJECTED = "REJECTED"
_REASONS = [
    field
    for k in range(1, REASONS_PER_DECISION + 1)
    for field in (
        pa.field(f"reason_{k}", pa.string()),
        pa.field(f"reason_{k}_value", pa.float64()),
        pa.field(f"reason_{k}_contribution", pa.float64()),
    )
]
SCHEMA = pa.schema(
    [
        pa.field("transaction_id", pa.string()),
        pa.field("account_id", pa.string()),
        pa.field("timestamp", pa.timestamp("ms", tz="UTC")),
        pa.field("score", pa.float64()),
        pa.field("model_score", pa.float64()),
        pa.field("outcome", pa.string()),
        pa.field("rules_fired", pa.string()),
        pa.field("shadow_rules_fired", pa.string()),
        *_REASONS,
        pa.field("rejected_reason", pa.string()),
        pa.field("model_version", pa.string()),
    ]
)


class Writer(Protocol):
    def write_batch(self, batch: Any) -> None: ...

    def close(self) -> None: ...


def check_out(path: Path) -> str:
    """The output's format from its extension (``csv`` or ``parquet``), checked before any work."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("csv", "parquet"):
        raise ScoreError(f"--out {path}: the extension must be .csv or .parquet")
    return suffix


def open_writer(path: Path) -> Writer:
    """A streaming writer for ``path``: ``.csv`` or ``.parquet``."""
    kind = check_out(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        writer: Writer = pacsv.CSVWriter(str(path), SCHEMA)
        return writer
    writer = pq.ParquetWriter(str(path), SCHEMA, compression="zstd")
    return writer


def summary_path(path: Path) -> Path:
    """The JSON summary beside the output: ``scores.csv`` -> ``scores.summary.json``."""
    return path.with_suffix(".summary.json")


def reason_columns(reasons: Sequence[Sequence[ReasonCode] | None]) -> dict[str, list[Any]]:
    """The reason columns of a batch (None: a rejected row, no reasons)."""
    columns: dict[str, list[Any]] = {field.name: [] for field in _REASONS}
    for row in reasons:
        for k in range(REASONS_PER_DECISION):
            code = row[k] if row is not None and k < len(row) else None
            columns[f"reason_{k + 1}"].append(code.feature if code else None)
            columns[f"reason_{k + 1}_value"].append(code.value if code else None)
            columns[f"reason_{k + 1}_contribution"].append(code.contribution if code else None)
    return columns
