"""The signed-in pages so far: the Overview (with its htmx-refreshed figures) and the audit."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from console import audit, overview
from console.deps import Analyst, RuntimeDep, Viewer
from console.templating import templates

router = APIRouter(prefix="/console")
WINDOW_MINUTES = 5


@router.get("/", response_class=HTMLResponse)
async def overview_page(request: Request, runtime: RuntimeDep, user: Viewer) -> Response:
    figures = await _figures(runtime)
    return templates.TemplateResponse(
        request, "overview.html", {"user": user, "figures": figures, "outcomes": overview.OUTCOMES}
    )


@router.get("/overview/figures", response_class=HTMLResponse)
async def overview_figures(request: Request, runtime: RuntimeDep, user: Viewer) -> Response:
    """The figures alone: what the Overview's htmx poll swaps in."""
    figures = await _figures(runtime)
    return templates.TemplateResponse(
        request, "_figures.html", {"figures": figures, "outcomes": overview.OUTCOMES}
    )


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, runtime: RuntimeDep, user: Analyst) -> Response:
    async with runtime.pool.connection(timeout=2) as conn:
        entries = await audit.latest(conn, 200)
    return templates.TemplateResponse(request, "audit.html", {"user": user, "entries": entries})


async def _figures(runtime: RuntimeDep) -> overview.Figures:
    window = overview.Window.last_minutes(datetime.now(UTC), WINDOW_MINUTES)
    async with runtime.pool.connection(timeout=2) as conn:
        return await overview.figures(conn, window)
