"""The console's app factory: pages, static files, security headers, the one error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from psycopg import OperationalError
from redis.exceptions import RedisError

from console import (
    backtest_pages,
    dead_letter_pages,
    lists_pages,
    models_pages,
    overview_pages,
    pages,
    pending_pages,
    review_pages,
    rules_pages,
    search_pages,
    signin,
    webhook_pages,
)
from console.errors import ConsoleError, NotSignedIn, Unavailable
from console.runtime import Runtime
from console.settings import ConsoleSettings
from console.templating import STATIC_DIR, templates

# Scripts and styles only from the console itself: no inline script, no CDN.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.open(settings)
        app.state.runtime = runtime
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="SentinelStream analyst console",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(signin.router)
    app.include_router(overview_pages.router)
    app.include_router(pages.router)
    # Before rules_pages: their fixed paths under /console/rules are not rule ids.
    app.include_router(backtest_pages.router)
    app.include_router(pending_pages.router)
    app.include_router(rules_pages.router)
    app.include_router(search_pages.router)
    app.include_router(dead_letter_pages.router)
    app.include_router(webhook_pages.router)
    app.include_router(review_pages.router)
    app.include_router(lists_pages.router)
    app.include_router(models_pages.router)
    app.add_exception_handler(ConsoleError, _console_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _bad_form)  # type: ignore[arg-type]
    app.add_exception_handler(RedisError, _unavailable)
    app.add_exception_handler(OperationalError, _unavailable)
    app.middleware("http")(_security_headers)
    return app


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        if request.url.path.startswith("/console/static") and name == "Cache-Control":
            continue
        response.headers.setdefault(name, value)
    return response


async def _console_error(request: Request, exc: ConsoleError) -> Response:
    if isinstance(exc, NotSignedIn):
        # htmx and an EventSource (the Overview's stream) cannot follow a redirect to a form.
        if request.headers.get("HX-Request") or _wants_events(request):
            return Response(status_code=401, headers={"HX-Redirect": "/console/signin"})
        return RedirectResponse("/console/signin", status_code=303)
    return templates.TemplateResponse(
        request, "error.html", {"message": str(exc), "status": exc.status}, status_code=exc.status
    )


def _wants_events(request: Request) -> bool:
    """A stream's request: an EventSource asks for events; its URL ends in /stream."""
    accept = request.headers.get("accept", "")
    return "text/event-stream" in accept or request.url.path.endswith("/stream")


async def _bad_form(request: Request, exc: RequestValidationError) -> Response:
    """A form field missing or too long: a page, not the API's JSON error body."""
    fields = sorted({str(error["loc"][-1]) for error in exc.errors()})
    message = "the form was incomplete or too long: " + ", ".join(fields)
    return templates.TemplateResponse(
        request, "error.html", {"message": message, "status": 400}, status_code=400
    )


async def _unavailable(request: Request, exc: Exception) -> Response:
    return await _console_error(request, Unavailable("the database or Redis is unavailable"))
