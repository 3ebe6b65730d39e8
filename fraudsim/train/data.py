"""A simulated dataset prepared for training: records, account and day of each row, labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fraudsim.simulate.config import DAY_MS, SCENARIOS
from fraudsim.tables import TransactionColumns, epoch_ms, read_dataset

Ints = npt.NDArray[np.int64]
SCENARIO_NAMES = (*SCENARIOS, "other")


@dataclass(frozen=True, slots=True)
class TrainingData:
    """Rows in canonical order; a row is fraud when a fraud label names its transaction."""

    columns: TransactionColumns
    account: Ints  # account code per row
    merchant: Ints  # merchant code per row
    ts_ms: Ints
    day: Ints  # whole days since the first day of the data (UTC)
    scenario: Ints  # 0 genuine, else an index into SCENARIOS
    labelled_at_ms: Ints  # when each fraud became known (unused for genuine rows)
    # Rows dropped because the live path refuses them (``accepted_only``): the API answers
    # 422 and the agent dead-letters such a transaction, so it is in no account's state.
    refused: int = 0

    @property
    def fraud(self) -> npt.NDArray[np.bool_]:
        return self.scenario > 0

    def known_fraud(self, at_ms: int) -> npt.NDArray[np.bool_]:
        """Rows whose fraud label had arrived before ``at_ms``: what a model trained then
        learns from. A fraud labelled later is genuine traffic to it, as in production."""
        return self.fraud & (self.labelled_at_ms < at_ms)

    def day_start_ms(self, day: int) -> int:
        """When day ``day`` of the data (0: the first) begins, in epoch milliseconds."""
        return (int(self.ts_ms.min()) // DAY_MS + day) * DAY_MS if len(self) else 0

    def late_labels(self, days: int) -> int:
        """Fraud labels that arrived more than ``days`` after their transaction."""
        delay = self.labelled_at_ms[self.fraud] - self.ts_ms[self.fraud]
        return int((delay > days * DAY_MS).sum())

    @property
    def days(self) -> int:
        return int(self.day.max()) + 1 if len(self.day) else 0

    def __len__(self) -> int:
        return len(self.ts_ms)

    def accepted_only(self, accepted: npt.NDArray[np.bool_]) -> TrainingData:
        """The rows `accepted` marks, in the same order; the others counted as refused."""
        keep = np.flatnonzero(accepted)
        c = self.columns
        columns = TransactionColumns(
            {name: [values[i] for i in keep] for name, values in c.values.items()},
            [c.ts_ms[i] for i in keep],
            [c.cents[i] for i in keep],
        )
        return TrainingData(
            columns,
            self.account[keep],
            self.merchant[keep],
            self.ts_ms[keep],
            self.day[keep],
            self.scenario[keep],
            self.labelled_at_ms[keep],
            self.refused + len(accepted) - len(keep),
        )


def load(directory: Path) -> TrainingData:
    transactions, labels = read_dataset(directory)
    return prepare(transactions, labels)


def prepare(transactions: Any, labels: Any) -> TrainingData:
    columns = TransactionColumns.from_table(transactions)
    ts_ms = np.asarray(columns.ts_ms, dtype=np.int64)
    first_day = int(ts_ms.min()) // DAY_MS if len(ts_ms) else 0
    row_of = {tid: i for i, tid in enumerate(columns.values["transaction_id"])}
    try:
        rows = np.array(
            [row_of[t] for t in labels.column("transaction_id").to_pylist()], dtype=np.int64
        )
    except KeyError as exc:
        raise ValueError(f"a label names a transaction not in the data: {exc}") from exc
    fraud = np.asarray(labels.column("is_fraud").to_pylist(), dtype=bool)
    names = labels.column("scenario").to_pylist()
    scenario = np.zeros(len(ts_ms), dtype=np.int64)
    scenario[rows[fraud]] = [
        _scenario_code(name) for name, f in zip(names, fraud, strict=True) if f
    ]
    labelled_at = np.zeros(len(ts_ms), dtype=np.int64)
    labelled_at[rows] = epoch_ms(labels.column("labelled_at"))
    return TrainingData(
        columns,
        codes(columns.values["account_id"]),
        codes(columns.values["merchant_id"]),
        ts_ms,
        ts_ms // DAY_MS - first_day,
        scenario,
        labelled_at,
    )


def codes(values: list[str]) -> Ints:
    # Codes in order of first appearance.
    seen: dict[str, int] = {}
    return np.array([seen.setdefault(v, len(seen)) for v in values], dtype=np.int64)


def _scenario_code(name: str | None) -> int:
    # A fraud label without a known scenario still counts as fraud.
    return SCENARIOS.index(name) if name in SCENARIOS[1:] else len(SCENARIOS)  # "other"
