"""The Overview's live parts without I/O: what one push holds, the chart's series, and the
server-sent events that carry them (framed by FastAPI's ``EventSourceResponse``).

Events of ``/console/overview/stream``, in the names the page's htmx SSE attributes use:

- ``figures``: the figures fragment (``_figures.html``), swapped into ``#figures``;
- ``chart``: the chart's series as JSON, drawn by ``static/overview.js`` with uPlot;
- ``end``: the session ended (signed out, expired, user disabled); the page closes the
  stream (``sse-close``) and goes to the sign-in form. The stream ends after it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from fastapi.sse import ServerSentEvent

from console.activity import Decline, MinuteRow, TopRule
from console.lag import Lags
from console.overview import Figures, Window

FIGURES, CHART, END = "figures", "chart", "end"
CHART_MINUTES = 15


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one push of the Overview shows, read at ``at``."""

    at: datetime
    figures: Figures
    rules: list[TopRule]
    declines: list[Decline]
    lags: Lags
    chart: Chart

    def share(self, rule: TopRule) -> float:
        """The rule's hits as a share of the window's decisions."""
        return rule.hits / self.figures.decisions if self.figures.decisions else 0.0


@dataclass(frozen=True, slots=True)
class Chart:
    """One point a minute, oldest first: the minute's start (epoch seconds, UTC), decisions/s
    over it, and its p99 latency in ms (None for a minute without decisions: a gap)."""

    x: list[int]
    rate: list[float]
    p99: list[float | None]

    def to_json(self) -> str:
        return json.dumps({"x": self.x, "rate": self.rate, "p99": self.p99}, separators=(",", ":"))


def chart_series(window: Window, rows: list[MinuteRow]) -> Chart:
    """Every minute of ``window``, zero where the ledger has no decision for it."""
    found = {(row.date_key, row.time_key): row for row in rows}
    x: list[int] = []
    rate: list[float] = []
    p99: list[float | None] = []
    for minute in window.minutes:
        row = found.get(Window.keys(minute))
        x.append(int(minute.timestamp()))
        rate.append(round(row.decisions / 60, 3) if row else 0.0)
        p99.append(None if row is None or row.p99_ms is None else round(row.p99_ms, 1))
    return Chart(x, rate, p99)


def opening(push_s: float) -> ServerSentEvent:
    """The first event: tells the browser to reconnect after one push interval if the
    stream breaks (a console restart), rather than its default of a few seconds."""
    return ServerSentEvent(comment="overview", retry=int(push_s * 1000))


def figures_event(html: str) -> ServerSentEvent:
    """The figures fragment; its line breaks become one ``data:`` line each."""
    return ServerSentEvent(event=FIGURES, raw_data=html)


def chart_event(chart: Chart) -> ServerSentEvent:
    return ServerSentEvent(event=CHART, raw_data=chart.to_json())


def end_event(why: str) -> ServerSentEvent:
    return ServerSentEvent(event=END, raw_data=why)
