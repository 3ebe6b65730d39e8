"""The audit page (the Overview has its own module: ``console/overview_pages.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from console import audit
from console.deps import Analyst, RuntimeDep
from console.templating import templates

router = APIRouter(prefix="/console")


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, runtime: RuntimeDep, user: Analyst) -> Response:
    async with runtime.pool.connection(timeout=2) as conn:
        entries = await audit.latest(conn, 200)
    return templates.TemplateResponse(request, "audit.html", {"user": user, "entries": entries})
