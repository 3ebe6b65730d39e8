"""FastAPI dependencies as ``Annotated`` aliases: the runtime, the signed-in user, roles, CSRF."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from psycopg import OperationalError
from redis.exceptions import RedisError

from console import csrf, users
from console.errors import Forbidden, NotSignedIn, Unavailable
from console.roles import Role
from console.runtime import Runtime
from console.sessions import Session

SESSION_COOKIE = "sentinel_console_session"


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session and its user as the database has them now (role, not disabled)."""

    session_id: str
    session: Session
    role: Role

    @property
    def username(self) -> str:
        return self.session.username


async def signed_in(request: Request, runtime: RuntimeDep) -> SignedIn:
    """The request's live session. The user row is re-read on every request, so a
    disabled user or a changed role takes effect at once, not at the session's end."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise NotSignedIn("not signed in")
    try:
        session = await runtime.sessions.load(session_id, time.time())
        if session is None:
            raise NotSignedIn("the session has ended")
        async with runtime.pool.connection(timeout=2) as conn:
            user = await users.find_by_id(conn, session.user_id)
        if user is None or user.disabled:
            await runtime.sessions.destroy(session_id)
            raise NotSignedIn("the user is disabled")
    except (RedisError, OperationalError, TimeoutError) as exc:
        raise Unavailable("the session store or the database is unavailable") from exc
    return SignedIn(session_id, session, user.role)


SignedInDep = Annotated[SignedIn, Depends(signed_in)]


def requires(role: Role) -> Callable[..., Awaitable[SignedIn]]:
    """A dependency: the signed-in user, holding at least ``role``."""

    async def dependency(user: SignedInDep) -> SignedIn:
        if not user.role.allows(role):
            raise Forbidden(f"this needs the {role} role; you are {user.role}")
        return user

    return dependency


async def csrf_checked(request: Request, user: SignedInDep) -> SignedIn:
    """The signed-in user of a POST that carries its session's CSRF token."""
    presented = request.headers.get(csrf.HEADER)
    if presented is None:
        form = await request.form()
        field = form.get(csrf.FIELD)
        presented = field if isinstance(field, str) else None
    if not csrf.matches(user.session.csrf_token, presented):
        raise Forbidden("missing or wrong CSRF token; reload the page and try again")
    return user


Viewer = Annotated[SignedIn, Depends(requires(Role.VIEWER))]
Analyst = Annotated[SignedIn, Depends(requires(Role.ANALYST))]
Admin = Annotated[SignedIn, Depends(requires(Role.ADMIN))]
PostedBy = Annotated[SignedIn, Depends(csrf_checked)]
