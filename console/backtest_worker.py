"""A backtest's worker process: the replay engine over the range with the candidate swapped
into the live rule set, its progress and report written to its ``rule_backtests`` row.

Runs in a process of its own (``console/backtests.py`` spawns it), never in the console's
event loop: a replay is CPU-bound for as long as the range takes. Every write is guarded
by the row's status, so a backtest the console marked timed out or cancelled (and killed)
is never overwritten by a late write.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from decision_core.thresholds import ThresholdOverrides
from replay.settings import ReplaySettings
from replay.source import Selection
from rule_engine import BreakerConfig, RuleSpec
from schemas.connections import KafkaConnection, PostgresConnection

if TYPE_CHECKING:
    from replay.service import ReplayRequest

log = logging.getLogger("console.backtest")
PROGRESS_EVERY_S = 1.0
MAX_ERROR = 2000


@dataclass(frozen=True)
class BacktestJob:
    """What the worker process needs (picklable: it crosses to the process)."""

    backtest_id: int
    candidate: dict[str, Any]
    since: datetime
    until: datetime
    warmup_ms: int | None
    kafka: KafkaConnection
    postgres: PostgresConnection
    registry: Path | None
    thresholds: ThresholdOverrides
    breaker: BreakerConfig | None


_OPEN = "status IN ('queued', 'running')"


class _Row:
    """The backtest's row, written through one connection of the worker's own."""

    def __init__(self, dsn: str, backtest_id: int) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        self.backtest_id = backtest_id
        self.read = 0
        self.written_at = 0.0

    def set(self, assignments: str, *values: object) -> None:
        self.conn.execute(
            f"UPDATE rule_backtests SET {assignments} WHERE backtest_id = %s AND {_OPEN}",  # noqa: S608 - our own fragments
            (*values, self.backtest_id),
        )

    def planned(self, total: int) -> None:
        self.set("progress_total = %s", total)

    def advanced(self, n: int) -> None:
        """Count records read; written at most once a second (a replay reads thousands)."""
        self.read += n
        if time.monotonic() - self.written_at >= PROGRESS_EVERY_S:
            self.written_at = time.monotonic()
            self.set("progress_read = %s", self.read)


def request_of(job: BacktestJob) -> ReplayRequest:
    """The replay the backtest is: the live rules (the rules topic) with the candidate in
    place of its live version, the agents' model and thresholds, compared with the ledger.

    replay.service is imported here, in the worker process: it brings xgboost (with
    scikit-learn and scipy, ~2 s of CPU), which the console itself never needs."""
    from replay.service import ReplayRequest

    return ReplayRequest(
        selection=Selection(since=job.since, until=job.until, warmup_ms=job.warmup_ms),
        rules=(RuleSpec.from_dict(job.candidate),),
        rules_base="live",
        registry=job.registry,
        thresholds=job.thresholds,
        breaker=job.breaker,
        compare_ledger=True,
    )


def run(job: BacktestJob) -> None:
    """The process's target: run the replay and record how it ended."""
    from replay.service import replay

    logging.basicConfig(level=logging.INFO)
    row = _Row(job.postgres.dsn.get_secret_value(), job.backtest_id)
    try:
        row.set("status = 'running', started_at = now()")
        # One worker: the console's backtest is one process, whatever the range's size.
        settings = ReplaySettings(kafka=job.kafka, postgres=job.postgres, workers=1)
        outcome = replay(request_of(job), settings, progress=row.advanced, planned=row.planned)
        row.set(
            "status = 'done', finished_at = now(), progress_read = %s, result = %s",
            row.read,
            Jsonb(outcome.report, dumps=_dumps),
        )
    except Exception as exc:  # the page shows why; the process ends either way
        log.exception("backtest %s failed", job.backtest_id)
        row.set(
            "status = 'failed', finished_at = now(), error = %s", f"{exc}"[:MAX_ERROR] or repr(exc)
        )
    finally:
        row.conn.close()


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)
