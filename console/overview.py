"""The Overview's figures, read from the ledger's star schema (``analytics.fact_decisions``).

Its index is (date_key, time_key): the UTC day and minute of the transaction's event time.
So the figures cover the last ``minutes`` complete minutes of event time, read through that
index, without an index of their own on the hot ``decisions`` table. Late transactions
(event time older than the window) are not counted: the figures are a live view, not a
report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg import AsyncConnection

OUTCOMES = ("APPROVE", "REVIEW", "DECLINE")


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime  # inclusive, on a minute
    end: datetime  # exclusive, on a minute

    @classmethod
    def last_minutes(cls, now: datetime, minutes: int) -> Window:
        end = now.astimezone(UTC).replace(second=0, microsecond=0)
        return cls(end - timedelta(minutes=minutes), end)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def minutes(self) -> list[datetime]:
        """The start of each minute in the window, oldest first."""
        count = int(self.seconds // 60)
        return [self.start + timedelta(minutes=n) for n in range(count)]

    def bounds(self) -> dict[str, int]:
        """The window as the star schema's keys: the queries' parameters."""
        start_date, start_time = Window.keys(self.start)
        end_date, end_time = Window.keys(self.end)
        return {
            "start_date": start_date,
            "start_time": start_time,
            "end_date": end_date,
            "end_time": end_time,
        }

    @staticmethod
    def keys(moment: datetime) -> tuple[int, int]:
        """(date_key, time_key) as the star schema writes them."""
        return moment.year * 10_000 + moment.month * 100 + moment.day, (
            moment.hour * 60 + moment.minute
        )


@dataclass(frozen=True, slots=True)
class Figures:
    window: Window
    decisions: int
    mix: dict[str, int]
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @property
    def per_second(self) -> float:
        return self.decisions / self.window.seconds if self.window.seconds else 0.0

    def share(self, outcome: str) -> float:
        return self.mix.get(outcome, 0) / self.decisions if self.decisions else 0.0


_QUERY = """
SELECT outcome::text, count(*),
       percentile_cont(0.50) WITHIN GROUP (ORDER BY latency_ms),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms)
FROM analytics.fact_decisions
WHERE (date_key, time_key) >= (%(start_date)s, %(start_time)s)
  AND (date_key, time_key) < (%(end_date)s, %(end_time)s)
GROUP BY ROLLUP (outcome)
"""


async def figures(conn: AsyncConnection, window: Window) -> Figures:
    cur = await conn.execute(_QUERY, window.bounds())
    mix: dict[str, int] = {}
    total, p50, p95, p99 = 0, None, None, None
    for outcome, count, q50, q95, q99 in await cur.fetchall():
        if outcome is None:  # the ROLLUP's total row
            total, p50, p95, p99 = count, q50, q95, q99
        else:
            mix[outcome] = count
    return Figures(window, total, mix, p50, p95, p99)
