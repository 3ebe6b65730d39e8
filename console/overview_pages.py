"""The Overview: its page, the figures fragment alone, and the live stream (server-sent events).

The stream pushes a ``Snapshot`` every ``overview_push_s``: the figures fragment and the
chart's series. Between pushes it holds nothing: each push takes a pooled connection for its
queries and gives it back, so open Overviews never starve the pool. Before each push the
session is checked again without touching its idle clock (``SessionStore.peek``) and the
user re-read, so a sign-out, an expiry or a disabled user ends the stream with an ``end``
event. A client that goes away cancels the generator (Starlette listens for the disconnect).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from psycopg import AsyncConnection, OperationalError
from psycopg_pool import PoolTimeout
from redis.exceptions import RedisError

from console import activity, live, overview, users
from console.deps import RuntimeDep, SignedIn, Viewer
from console.roles import Role
from console.runtime import Runtime
from console.templating import templates

router = APIRouter(prefix="/console")
log = logging.getLogger(__name__)
WINDOW_MINUTES = 5


class SessionEnded(Exception):
    """The stream's session is over: signed out, expired, or its user disabled or demoted."""


@router.get("/", response_class=HTMLResponse)
async def overview_page(request: Request, runtime: RuntimeDep, user: Viewer) -> Response:
    # Kafka's lag is not waited for here: the stream's first push, at once, brings it.
    snapshot = await _snapshot(runtime, wait_for_lag=False)
    return templates.TemplateResponse(
        request, "overview.html", {"user": user, **_context(snapshot)}
    )


@router.get("/overview/figures", response_class=HTMLResponse)
async def overview_figures(request: Request, runtime: RuntimeDep, user: Viewer) -> Response:
    """The figures fragment once: for a client that cannot hold a stream open (a proxy that
    buffers responses) and for scripts; the page itself listens to the stream."""
    snapshot = await _snapshot(runtime)
    return templates.TemplateResponse(request, "_figures.html", _context(snapshot))


@router.get("/overview/stream", response_class=EventSourceResponse)
async def overview_stream(runtime: RuntimeDep, user: Viewer) -> AsyncIterator[ServerSentEvent]:
    """The figures and the chart every ``overview_push_s``, the first at once."""
    push_s = runtime.settings.overview_push_s
    yield live.opening(push_s)
    while True:
        try:
            snapshot = await _snapshot(runtime, user)
        except SessionEnded as ended:
            yield live.end_event(str(ended))
            return
        except (OperationalError, PoolTimeout, RedisError) as exc:
            # Nothing pushed: the page keeps its last figures; the next push retries.
            log.warning("overview push skipped: %s", exc)
        else:
            html = templates.get_template("_figures.html").render(_context(snapshot))
            yield live.figures_event(html)
            yield live.chart_event(snapshot.chart)
        await asyncio.sleep(push_s)


async def _snapshot(
    runtime: Runtime, stream_of: SignedIn | None = None, *, wait_for_lag: bool = True
) -> live.Snapshot:
    """One push's figures; for a stream, its session checked first (``SessionEnded``)."""
    now = datetime.now(UTC)
    window = overview.Window.last_minutes(now, WINDOW_MINUTES)
    chart_window = overview.Window.last_minutes(now, live.CHART_MINUTES)
    if stream_of is not None:
        await _check_session(runtime, stream_of)
    async with runtime.pool.connection(timeout=2) as conn:
        if stream_of is not None:
            await _check_user(conn, stream_of)
        figures = await overview.figures(conn, window)
        rules = await activity.top_rules(conn, window)
        declines = await activity.latest_declines(conn, window)
        minutes = await activity.per_minute(conn, chart_window)
    lags = await runtime.lags.read() if wait_for_lag else runtime.lags.known()
    chart = live.chart_series(chart_window, minutes)
    return live.Snapshot(now, figures, rules, declines, lags, chart)


async def _check_session(runtime: Runtime, user: SignedIn) -> None:
    if await runtime.sessions.peek(user.session_id, time.time()) is None:
        raise SessionEnded("the session has ended")


async def _check_user(conn: AsyncConnection, user: SignedIn) -> None:
    row = await users.find_by_id(conn, user.session.user_id)
    if row is None or row.disabled or not row.role.allows(Role.VIEWER):
        raise SessionEnded("the user is disabled")


def _context(snapshot: live.Snapshot) -> dict[str, object]:
    return {
        "snap": snapshot,
        "figures": snapshot.figures,
        "outcomes": overview.OUTCOMES,
        "chart_minutes": live.CHART_MINUTES,
    }
