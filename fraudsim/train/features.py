"""Offline features computed by the stream's own code, replayed account by account.

Each row becomes a ``Transaction`` (``fraudsim.tables``), then ``feature_event`` and
``AccountFeatures(FEATURE_CONFIG).observe_at`` exactly as ``decision_core.pipeline`` calls
them, in canonical order per account and without a home profile (the simulator publishes
none, so the live agent learns homes too). Nothing is vectorised: the features offline are
the live ones by construction. Features depend only on an account's own events, so
accounts are shared out among worker processes without changing any value.

A row the live path refuses (``schemas.validation.transaction_problem``: the API answers
422, the agent dead-letters it, so it never enters an account's state there) gets no
features here and never enters its account's state either: one definition of a valid
transaction for serving and training (issue 21). Its event-time window is the one check
left out: it is measured against the Kafka record's timestamp, which a data set has not.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from decision_core.features import AccountFeatures
from decision_core.transaction_features import FEATURE_CONFIG, feature_event
from fraudsim.tables import TransactionColumns
from schemas.features import FEATURE_NAMES
from schemas.validation import transaction_problem

Matrix = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
_CHUNKS_PER_WORKER = 8  # small enough chunks to keep both cores busy to the end

# Set in the parent just before forking: workers read it copy-on-write instead of
# receiving millions of pickled values.
_SHARED: TransactionColumns | None = None


class Features(NamedTuple):
    """Every row's features, and which rows the live path accepts (a refused row's are NaN)."""

    matrix: Matrix
    accepted: Bools


def replay(
    columns: TransactionColumns, rows: Iterable[int], warm: Sequence[bool] = ()
) -> Iterator[dict[str, float] | None]:
    """Features of ``rows`` (canonical order), as the live agent computes them; None for a
    row it refuses (which changes no state). A row ``warm`` marks (by position in ``rows``;
    empty: none) only enters its account's state and yields an empty dict: warm-up history
    whose features are never read (``sentinel score``), ``apply_at`` as replay's warm-up."""
    accounts: dict[str, AccountFeatures] = {}
    for offset, i in enumerate(rows):
        tx = columns.record(i)
        if transaction_problem(tx, None) is not None:
            yield None
            continue
        state = accounts.get(tx.account_id)
        if state is None:
            state = accounts[tx.account_id] = AccountFeatures(FEATURE_CONFIG)
        # One source partition, offsets in replay order: every event is applied once.
        if warm and warm[offset]:
            state.apply_at(feature_event(tx), 0, offset)
            yield {}
        else:
            yield state.observe_at(feature_event(tx), 0, offset).features


def _matrix(columns: TransactionColumns, rows: Ints, warm: Bools | None = None) -> Features:
    out = np.full((len(rows), len(FEATURE_NAMES)), np.nan, dtype=np.float32)
    accepted = np.zeros(len(rows), dtype=bool)
    flags = () if warm is None else warm.tolist()
    for j, features in enumerate(replay(columns, rows.tolist(), flags)):
        if features is not None:
            accepted[j] = True
            if features:
                out[j] = list(features.values())
    return Features(out, accepted)


def _chunk(task: tuple[Ints, Bools | None]) -> tuple[Ints, Features]:
    if _SHARED is None:
        raise RuntimeError("worker started without the shared rows")
    rows, warm = task
    return rows, _matrix(_SHARED, rows, warm)


def feature_matrix(
    columns: TransactionColumns,
    account: Ints,
    workers: int = 1,
    on_chunk: Callable[[int, int], None] = lambda _done, _total: None,
    warm: Bools | None = None,
) -> Features:
    """All rows' features (columns in ``FEATURE_NAMES`` order, float32 as the scorer uses)
    and which rows the live path accepts. Rows ``warm`` marks only enter their account's
    state (``replay``): their features are NaN, their acceptance is still checked."""
    chunks = max(1, workers * _CHUNKS_PER_WORKER)
    of_row = account % chunks
    order = np.argsort(of_row, kind="stable")  # stable: canonical order within a chunk
    tasks = np.split(order, np.cumsum(np.bincount(of_row, minlength=chunks))[:-1])
    out = np.empty((len(account), len(FEATURE_NAMES)), dtype=np.float32)
    accepted = np.empty(len(account), dtype=bool)
    jobs = [(rows, None if warm is None else warm[rows]) for rows in tasks]
    if workers <= 1:
        for done, (rows, flags) in enumerate(jobs, 1):
            out[rows], accepted[rows] = _matrix(columns, rows, flags)
            on_chunk(done, len(tasks))
        return Features(out, accepted)
    global _SHARED
    _SHARED = columns
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for done, (rows, values) in enumerate(pool.imap_unordered(_chunk, jobs), 1):
                out[rows], accepted[rows] = values
                on_chunk(done, len(tasks))
    finally:
        _SHARED = None
    return Features(out, accepted)
