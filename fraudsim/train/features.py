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
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

from decision_core.features import AccountFeatures, Observation
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
    """Every row's features, and which rows the live path accepts (a refused row's are NaN);
    ``homes``, when asked for: each row's home country as the rules see it."""

    matrix: Matrix
    accepted: Bools
    homes: list[str | None] | None = None


# What a warm-up row yields: it entered its account's state, its features were not computed.
WARMED: Final = Observation({})


def observations(
    columns: TransactionColumns, rows: Iterable[int], warm: Sequence[bool] = ()
) -> Iterator[Observation | None]:
    """Each of ``rows`` (canonical order) observed as the live agent observes it; None for a
    row it refuses (which changes no state). A row ``warm`` marks (by position in ``rows``;
    empty: none) only enters its account's state (``apply_at``, as replay's warm-up) and
    yields ``WARMED``: history whose features are never read (``sentinel score``)."""
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
            yield WARMED
        else:
            yield state.observe_at(feature_event(tx), 0, offset)


def replay(columns: TransactionColumns, rows: Iterable[int]) -> Iterator[dict[str, float] | None]:
    """Features of ``rows`` (canonical order), as the live agent computes them; None for a
    row it refuses (which changes no state)."""
    for observation in observations(columns, rows):
        yield None if observation is None else observation.features


def _matrix(columns: TransactionColumns, rows: Ints, warm: Bools | None, homes: bool) -> Features:
    out = np.full((len(rows), len(FEATURE_NAMES)), np.nan, dtype=np.float32)
    accepted = np.zeros(len(rows), dtype=bool)
    home: list[str | None] = [None] * len(rows) if homes else []
    flags = () if warm is None else warm.tolist()
    for j, observation in enumerate(observations(columns, rows.tolist(), flags)):
        if observation is not None:
            accepted[j] = True
            if observation is not WARMED:
                out[j] = observation.vector()
                if homes:
                    home[j] = observation.home_country
    return Features(out, accepted, home if homes else None)


_Task = tuple[Ints, Bools | None, bool]  # rows, which are warm-up, whether homes are wanted


def _chunk(task: _Task) -> tuple[Ints, Features]:
    if _SHARED is None:
        raise RuntimeError("worker started without the shared rows")
    return task[0], _matrix(_SHARED, *task)


def feature_matrix(
    columns: TransactionColumns,
    account: Ints,
    workers: int = 1,
    on_chunk: Callable[[int, int], None] = lambda _done, _total: None,
    warm: Bools | None = None,
    homes: bool = False,
) -> Features:
    """All rows' features (columns in ``FEATURE_NAMES`` order, float32 as the scorer uses)
    and which rows the live path accepts. Rows ``warm`` marks only enter their account's
    state (``observations``): their features are NaN, their acceptance is still checked.
    ``homes``: each row's home country too (None for warm-up and refused rows)."""
    chunks = max(1, workers * _CHUNKS_PER_WORKER)
    of_row = account % chunks
    order = np.argsort(of_row, kind="stable")  # stable: canonical order within a chunk
    tasks = np.split(order, np.cumsum(np.bincount(of_row, minlength=chunks))[:-1])
    out = np.empty((len(account), len(FEATURE_NAMES)), dtype=np.float32)
    accepted = np.empty(len(account), dtype=bool)
    home: list[str | None] = [None] * len(account) if homes else []
    jobs: list[_Task] = [(rows, None if warm is None else warm[rows], homes) for rows in tasks]
    if workers <= 1:
        for done, job in enumerate(jobs, 1):
            _place(job[0], _matrix(columns, *job), out, accepted, home)
            on_chunk(done, len(tasks))
        return Features(out, accepted, home if homes else None)
    global _SHARED
    _SHARED = columns
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for done, (rows, values) in enumerate(pool.imap_unordered(_chunk, jobs), 1):
                _place(rows, values, out, accepted, home)
                on_chunk(done, len(tasks))
    finally:
        _SHARED = None
    return Features(out, accepted, home if homes else None)


def _place(
    rows: Ints, chunk: Features, out: Matrix, accepted: Bools, home: list[str | None]
) -> None:
    """A chunk's results into the whole's rows."""
    out[rows], accepted[rows] = chunk.matrix, chunk.accepted
    if chunk.homes is not None:
        for j, i in enumerate(rows.tolist()):
            home[i] = chunk.homes[j]
