"""The maker-checker page: rule changes held for a second analyst, with their diffs, to
approve (saved through ``reference_store.rules_repo``; the relay publishes it) or reject
with a note."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from psycopg.errors import UniqueViolation

from console import pending
from console.deps import Analyst, PostedBy, RuntimeDep, Viewer
from console.errors import BadRequest, Conflict, Forbidden, NotFound
from console.pending_view import MAX_NOTE, Refused, change_diff, is_stale
from console.templating import templates
from reference_store import rules_repo

router = APIRouter(prefix="/console/rules/pending")
ChangeId = Annotated[int, Path(ge=1)]


@router.get("", response_class=HTMLResponse)
async def pending_page(request: Request, runtime: RuntimeDep, user: Viewer) -> Response:
    async with runtime.pool.connection(timeout=2) as conn:
        changes = await pending.listed(conn)
        current = {r.rule_id: r for r in await rules_repo.current_versions(conn)}
    rows = []
    for change in changes:
        now = current.get(change.rule_id)
        rows.append(
            {
                "change": change,
                "rule": now,
                "name": now.name if now else change.changes.get("name", change.rule_id),
                "diff": change_diff(change, now) if change.status == "pending" else [],
                "stale": is_stale(change, now.version if now else None),
            }
        )
    context = {"user": user, "rows": rows, "enabled": runtime.settings.maker_checker}
    return templates.TemplateResponse(request, "rules_pending.html", context)


@router.post("/{change_id}/approve")
async def approve(
    runtime: RuntimeDep, user: Analyst, _posted: PostedBy, change_id: ChangeId
) -> Response:
    try:
        async with runtime.pool.connection(timeout=2) as conn:
            done = await pending.approve(conn, change_id, user.username)
    except Refused as exc:
        raise (Forbidden if exc.self_approval else Conflict)(str(exc)) from exc
    except UniqueViolation as exc:
        raise Conflict("a rule with this name exists already: reject this change") from exc
    if done is None:
        raise NotFound(f"no pending change {change_id}")
    _change, saved = done
    return RedirectResponse(f"/console/rules/{saved.rule_id}/versions", status_code=303)


@router.post("/{change_id}/reject")
async def reject(
    runtime: RuntimeDep,
    user: Analyst,
    _posted: PostedBy,
    change_id: ChangeId,
    note: Annotated[str, Form(max_length=MAX_NOTE)] = "",
) -> Response:
    if not note.strip():
        raise BadRequest("say why in the note: the maker reads it")
    try:
        async with runtime.pool.connection(timeout=2) as conn:
            done = await pending.reject(conn, change_id, user.username, note)
    except Refused as exc:
        raise Conflict(str(exc)) from exc
    if done is None:
        raise NotFound(f"no pending change {change_id}")
    return RedirectResponse("/console/rules/pending", status_code=303)
