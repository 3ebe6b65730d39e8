"""Live traffic from the endless simulation: each record stamped with the moment it is sent.

The simulation decides what happens and in which order; the wall clock decides when. Each
transaction's event time is the time it is taken to be sent (the producer's pacing sets
that), so the demo's traffic is always current whatever simulated day it comes from. A
fraud's label goes out once the stream has reached the label's time in simulated days, with
the transaction's real event time and the real time it is sent as ``labelled_at``.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import timedelta

from fraudsim.simulate.dataset import SimulatedData
from fraudsim.simulate.produce import Record
from fraudsim.tables import (
    EPOCH,
    TransactionColumns,
    label_records,
    labels_table,
    transactions_table,
)
from schemas.codec import encode_label, encode_transaction
from schemas.records import Label
from schemas.topics import LABELS, TRANSACTIONS

_MS = timedelta(milliseconds=1)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class EventClock:
    """Event times from the wall clock that never go back, strictly increasing per account.

    Strict per account: the feature engine orders an account's events by (time, id), so two
    in one millisecond would be taken in id order rather than the order they happened.
    Remembers one time per account, so its memory is bounded by the population.
    """

    def __init__(self, now_ms: Callable[[], int] = wall_ms) -> None:
        self._now_ms = now_ms
        self._last = 0
        self._accounts: dict[str, int] = {}

    def now(self) -> int:
        self._last = max(self._now_ms(), self._last)
        return self._last

    def stamp(self, account: str) -> int:
        at = max(self.now(), self._accounts.get(account, -1) + 1)
        self._accounts[account] = self._last = at
        return at


def live_records(
    days: Iterable[SimulatedData], clock: EventClock, prefix: str = ""
) -> Iterator[Record]:
    """Every day's transactions in order, stamped as they are taken, and their labels later.

    Holds one day's rows, and the labels (and their transactions' real times) not yet due:
    at most the simulation's label delay's worth of days of fraud.
    """
    due: list[tuple[int, int, Label]] = []  # heap of (simulated labelled_at ms, n, label)
    sent: dict[str, int] = {}  # real event time of each fraud whose label is not yet sent
    numbering = itertools.count()
    for day in days:
        columns = TransactionColumns.from_table(transactions_table(day))
        fraud = set()
        for label in label_records(labels_table(day)):
            fraud.add(label.transaction_id)
            heapq.heappush(due, ((label.labelled_at - EPOCH) // _MS, next(numbering), label))
        del day  # the day's rows live on in ``columns`` only
        for i in range(len(columns)):
            # Strictly before: a label is never due before its own transaction is sent.
            while due and due[0][0] < columns.ts_ms[i]:
                label = heapq.heappop(due)[2]
                if (at := sent.pop(label.transaction_id, None)) is not None:
                    yield _label(label, at, clock, prefix)
            tx = columns.record(i)
            at = clock.stamp(tx.account_id)
            if tx.transaction_id in fraud:
                sent[tx.transaction_id] = at
            tx = replace(tx, timestamp=EPOCH + at * _MS)
            yield prefix + TRANSACTIONS.name, tx.account_id.encode(), encode_transaction(tx), False


def _label(label: Label, tx_at: int, clock: EventClock, prefix: str) -> Record:
    known = replace(
        label,
        transaction_timestamp=EPOCH + tx_at * _MS,
        labelled_at=EPOCH + max(clock.now(), tx_at + 1) * _MS,
    )
    return prefix + LABELS.name, label.account_id.encode(), encode_label(known), True
