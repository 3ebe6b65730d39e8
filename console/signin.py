"""Sign-in and sign-out: the form, the checks in cost order, the session cookie, the audit."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from console import audit, csrf, passwords, users
from console.deps import SESSION_COOKIE, PostedBy, RuntimeDep, client_address
from console.errors import Forbidden
from console.runtime import Runtime
from console.sessions import new_token
from console.templating import templates

router = APIRouter(prefix="/console")
REFUSED = "wrong user name or password"
LOCKED = "too many failed sign-ins; wait a while and try again"


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request, runtime: RuntimeDep) -> Response:
    return _form(request, runtime, None, 200)


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request,
    runtime: RuntimeDep,
    username: Annotated[str, Form(max_length=256)],
    password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    if not csrf.matches(request.cookies.get(csrf.SIGNIN_COOKIE), csrf_token):
        raise Forbidden("missing or wrong CSRF token; reload the sign-in page")
    address = client_address(request)
    name = username.strip().lower()
    if await runtime.lockout.locked(name, address):
        await _audit(runtime, name, audit.SIGNIN_FAILED, {"address": address, "why": "locked"})
        return _form(request, runtime, LOCKED, 429)
    async with runtime.pool.connection(timeout=2) as conn:
        user = await users.find_by_name(conn, name)
    good = passwords.verify(user.password_hash if user else None, password)
    if user is None or not good or user.disabled:
        why = "unknown user" if user is None else ("disabled" if good else "wrong password")
        await runtime.lockout.failed(name, address)
        await _audit(runtime, name, audit.SIGNIN_FAILED, {"address": address, "why": why})
        return _form(request, runtime, REFUSED, 401)
    await runtime.lockout.succeeded(name)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:  # a new id at every sign-in, and the one before it ends (no fixation)
        await runtime.sessions.destroy(previous)
    session_id, _ = await runtime.sessions.create(
        user.user_id, user.username, user.role, time.time()
    )
    async with runtime.pool.connection(timeout=2) as conn:
        if passwords.needs_rehash(user.password_hash):
            await users.set_hash(conn, user.user_id, passwords.hash_password(password))
        await audit.record(conn, user.username, audit.SIGNIN, None, {"address": address})
    response = RedirectResponse("/console/", status_code=303)
    _set_cookie(response, runtime, SESSION_COOKIE, session_id)
    response.delete_cookie(csrf.SIGNIN_COOKIE, path="/console")
    return response


@router.post("/signout")
async def signout(request: Request, runtime: RuntimeDep, user: PostedBy) -> Response:
    await runtime.sessions.destroy(user.session_id)
    address = client_address(request)
    await _audit(runtime, user.username, audit.SIGNOUT, {"address": address})
    response = RedirectResponse("/console/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


def _form(request: Request, runtime: Runtime, error: str | None, status: int) -> Response:
    """The sign-in page with a fresh double-submit token in its cookie and its form."""
    token = new_token()
    response = templates.TemplateResponse(
        request, "signin.html", {"csrf_token": token, "error": error}, status_code=status
    )
    _set_cookie(response, runtime, csrf.SIGNIN_COOKIE, token)
    return response


def _set_cookie(response: Response, runtime: Runtime, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=runtime.settings.cookies_secure(),
    )


async def _audit(runtime: Runtime, actor: str, action: str, detail: dict[str, str]) -> None:
    async with runtime.pool.connection(timeout=2) as conn:
        await audit.record(conn, actor, action, None, detail)
