"""Running a query on the API's connection pool, with database outages mapped to 503."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from psycopg import AsyncConnection, InterfaceError, OperationalError

from ingest_api.errors import Unavailable
from ingest_api.runtime import Runtime

T = TypeVar("T")


async def query(runtime: Runtime, run: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    try:
        async with runtime.pool.connection(timeout=2) as conn:
            return await run(conn)
    except (OperationalError, InterfaceError, TimeoutError) as exc:
        # Only "cannot reach or use the database" is a 503; a constraint violation is the
        # caller's business (e.g. a taken name is a 409).
        raise Unavailable("the ledger database is unavailable; retry shortly", 1) from exc
