"""Backtests of rule candidates: their ``rule_backtests`` rows, and the worker processes
that run them (``console/backtest_worker.py``), a few at a time, each within a budget.

The console's event loop only starts a process and watches it: the replay itself runs in
the spawned process, which writes its progress and report to the row. A process still
alive at its deadline is killed and its backtest marked ``timed_out``; one that died
without a word is marked ``failed``; the console's shutdown kills what is running and
marks it ``cancelled``. Spawned, not forked: a fork of a process holding librdkafka and
psycopg threads is unsafe, and replay's own runner spawns for XGBoost's sake.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from console.backtest_view import Range
from console.backtest_worker import BacktestJob, run
from console.errors import Busy

log = logging.getLogger("console.backtests")
POLL_S = 0.5


@dataclass(frozen=True, slots=True)
class Backtest:
    backtest_id: int
    rule_id: str | None
    rule_version: int | None
    candidate: dict[str, Any]
    since: datetime
    until: datetime
    requested_by: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deadline: datetime
    status: str
    progress_read: int
    progress_total: int | None
    error: str | None
    result: dict[str, Any] | None


_COLUMNS = (
    "backtest_id, rule_id::text, rule_version, candidate, since, until, requested_by,"
    " requested_at, started_at, finished_at, deadline, status, progress_read, progress_total,"
    " error, result"
)


async def create(
    conn: AsyncConnection,
    *,
    rule_id: str | None,
    rule_version: int | None,
    candidate: dict[str, Any],
    span: Range,
    by: str,
    budget_s: float,
) -> int:
    cur = await conn.execute(
        "INSERT INTO rule_backtests (rule_id, rule_version, candidate, since, until,"
        " requested_by, deadline) VALUES (%s, %s, %s, %s, %s, %s, now() + %s)"
        " RETURNING backtest_id",
        (
            rule_id,
            rule_version,
            Jsonb(candidate),
            span.since,
            span.until,
            by,
            timedelta(seconds=budget_s),
        ),
    )
    row = await cur.fetchone()
    assert row is not None  # noqa: S101 - INSERT ... RETURNING yields its row
    return int(row[0])


async def get(conn: AsyncConnection, backtest_id: int) -> Backtest | None:
    async with conn.cursor(row_factory=class_row(Backtest)) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM rule_backtests WHERE backtest_id = %s",  # noqa: S608
            (backtest_id,),
        )
        return await cur.fetchone()


async def for_rule(conn: AsyncConnection, rule_id: str, limit: int = 20) -> list[Backtest]:
    """A rule's backtests, newest first."""
    async with conn.cursor(row_factory=class_row(Backtest)) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM rule_backtests WHERE rule_id = %s"  # noqa: S608
            " ORDER BY backtest_id DESC LIMIT %s",
            (rule_id, limit),
        )
        return await cur.fetchall()


async def end_if_open(conn: AsyncConnection, backtest_id: int, status: str, error: str) -> None:
    """Mark a backtest ended by the console (its process killed or dead), unless the
    process recorded its own end first."""
    await conn.execute(
        "UPDATE rule_backtests SET status = %s, error = %s, finished_at = now()"
        " WHERE backtest_id = %s AND status IN ('queued', 'running')",
        (status, error, backtest_id),
    )


class Runner:
    """The running backtests of this console process: at most ``limit`` at a time."""

    def __init__(self, pool: AsyncConnectionPool, limit: int) -> None:
        self.pool = pool
        self.limit = limit
        self.reserved = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.context = multiprocessing.get_context("spawn")

    def reserve(self) -> None:
        """Take a slot before the row is written (no await between check and take)."""
        if self.reserved >= self.limit:
            raise Busy(
                f"{self.reserved} backtest(s) running, the most this console runs at once;"
                " try again when one has finished"
            )
        self.reserved += 1

    def release(self) -> None:
        self.reserved -= 1

    def start(self, job: BacktestJob, budget_s: float) -> None:
        """Run ``job`` in a new process (its slot taken by ``reserve``)."""
        task = asyncio.create_task(self._supervise(job, budget_s))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _supervise(self, job: BacktestJob, budget_s: float) -> None:
        process = self.context.Process(
            target=run, args=(job,), name=f"backtest-{job.backtest_id}", daemon=True
        )
        try:
            await asyncio.to_thread(process.start)  # spawning takes a moment: not on the loop
            ended = await _watch(process, time.monotonic() + budget_s)
            if not ended:
                await _stop(process)
                await self._end(job, "timed_out", f"stopped after its budget of {budget_s:g} s")
            elif process.exitcode != 0:
                await self._end(job, "failed", f"the worker process exited ({process.exitcode})")
        except asyncio.CancelledError:
            await _stop(process)
            await self._end(job, "cancelled", "the console stopped while it ran")
            raise
        except Exception:
            log.exception("backtest %s: supervising failed", job.backtest_id)
            await _stop(process)
            await self._end(job, "failed", "the console could not run the worker process")
        finally:
            self.release()

    async def _end(self, job: BacktestJob, status: str, error: str) -> None:
        async with self.pool.connection(timeout=5) as conn:
            await end_if_open(conn, job.backtest_id, status, error)

    async def close(self) -> None:
        """Cancel every running backtest (their processes are killed and marked)."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _watch(process: Any, deadline: float) -> bool:
    """Whether the process ended before ``deadline`` (polled: no thread blocks on it)."""
    while process.is_alive():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_S)
    await asyncio.to_thread(process.join)
    return True


async def _stop(process: Any) -> None:
    if process.pid is not None and process.is_alive():
        process.kill()
        await asyncio.to_thread(process.join, 10)
