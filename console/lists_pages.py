"""The Lists pages: every named allow/deny list, one list's members, and adding and
removing members (analyst). Changes go through ``reference_store.reference_repo``, the
API's own path: the rows and the whole membership published on the compacted ``lists``
topic before the transaction commits, with the console's audit row in the same one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from console import audit, lists
from console.deps import Analyst, PostedBy, RuntimeDep, SignedIn, Viewer
from console.errors import NotFound
from console.lists import Problem
from console.templating import templates
from reference_store import reference_repo
from schemas.pan import mask_pans

router = APIRouter(prefix="/console/lists")
# The lists table's own rule for a name (migration 20261130_0120).
ListName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


def actor(user: SignedIn) -> str:
    """Who a list item names as having added it: the console user, told apart from keys."""
    return f"console:{user.username}"


@router.get("", response_class=HTMLResponse)
async def lists_page(request: Request, runtime: RuntimeDep, user: Viewer) -> Response:
    async with runtime.pool.connection(timeout=2) as conn:
        found = await lists.summaries(conn)
    return templates.TemplateResponse(request, "lists.html", {"user": user, "lists": found})


@router.get("/{name}", response_class=HTMLResponse)
async def list_page(
    request: Request,
    runtime: RuntimeDep,
    user: Viewer,
    name: ListName,
    q: Annotated[str, Query(max_length=256)] = "",
) -> Response:
    return await _list(request, runtime, user, name, q)


@router.post("/{name}/items", response_class=HTMLResponse)
async def add_items(
    request: Request,
    runtime: RuntimeDep,
    user: Analyst,
    _posted: PostedBy,
    name: ListName,
    values: Annotated[str, Form(max_length=300_000)],
) -> Response:
    """Add the values (one a line); none is added if any is refused."""
    wanted, problems = lists.parsed_values(values)
    if problems:
        return await _list(request, runtime, user, name, "", problems, mask_pans(values), 422)
    async with runtime.pool.connection(timeout=5) as conn, conn.transaction():
        detail = {"count": len(wanted), "values": [mask_pans(v) for v in wanted[:20]]}
        await audit.record(conn, user.username, audit.LIST_ITEMS_ADDED, name, detail)
        named = await reference_repo.add_items(
            conn, name, wanted, actor(user), runtime.publisher.named_list
        )
        if named is None:
            raise NotFound(f"no list {name}")
    return RedirectResponse(f"/console/lists/{name}", status_code=303)


@router.post("/{name}/items/remove")
async def remove_item(
    runtime: RuntimeDep,
    user: Analyst,
    _posted: PostedBy,
    name: ListName,
    value: Annotated[str, Form(min_length=1, max_length=256)],
) -> Response:
    """Remove one member (the value in the form: values may hold ``/``)."""
    async with runtime.pool.connection(timeout=5) as conn, conn.transaction():
        detail = {"value": mask_pans(value)}
        await audit.record(conn, user.username, audit.LIST_ITEM_REMOVED, name, detail)
        named = await reference_repo.remove_item(conn, name, value, runtime.publisher.named_list)
        if named is None:
            raise NotFound(f"no list {name}")
    return RedirectResponse(f"/console/lists/{name}", status_code=303)


async def _list(
    request: Request,
    runtime: RuntimeDep,
    user: SignedIn,
    name: str,
    contains: str,
    problems: list[Problem] | None = None,
    typed: str = "",
    status: int = 200,
) -> Response:
    async with runtime.pool.connection(timeout=2) as conn:
        found = await lists.summaries(conn, name)
        if not found:
            raise NotFound(f"no list {name}")
        members, matching = await lists.items(conn, name, contains)
    context = {
        "user": user,
        "named": found[0],
        "items": members,
        "matching": matching,
        "shown": lists.SHOWN,
        "q": contains,
        "problems": problems or [],
        "typed": typed,
    }
    return templates.TemplateResponse(request, "list.html", context, status_code=status)
