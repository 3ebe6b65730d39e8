"""The one place where errors become HTTP responses, all with the body {code, message, details}."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from ingest_api.admin_idempotency import Replayed, replay_response
from ingest_api.errors import IngestError, Unavailable

log = logging.getLogger("ingest_api")


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> Response:
    body = orjson.dumps({"code": code, "message": message, "details": details})
    return Response(body, status, headers=headers, media_type="application/json")


def field_errors(errors: list[Any]) -> list[dict[str, Any]]:
    """Pydantic errors as {path, message, type}, the path a dotted JSON path."""
    return [
        {
            "path": ".".join(str(part) for part in error["loc"] if part != "body") or "$",
            "message": error["msg"],
            "type": error["type"],
        }
        for error in errors
    ]


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method the most specific routes at this path serve (RFC 9110's Allow for a 405).

    Starlette names only the first route whose path matched (GET /v1/rules beside POST
    /v1/rules answered an OPTIONS with "Allow: POST"). A literal segment beats a parameter:
    /v1/rules/dry-run is POST only, though GET /v1/rules/{rule_id} matches it too.
    """
    matched: dict[str, set[str]] = {}
    for route in routes:
        match, _ = route.matches(scope)
        if match in (Match.FULL, Match.PARTIAL) and isinstance(route, Route):
            matched.setdefault(route.path, set()).update(route.methods or ())
    if not matched:
        return []
    fewest = min(template.count("{") for template in matched)
    best = (m for template, m in matched.items() if template.count("{") == fewest)
    return sorted(set().union(*best))


def install(app: FastAPI) -> None:
    @app.exception_handler(IngestError)
    async def domain_error(request: Request, exc: IngestError) -> Response:
        if isinstance(exc, Unavailable):
            # The cause is for operators only: it names hosts, databases, driver states.
            log.warning(
                "503 on %s %s: %s (%r)", request.method, request.url.path, exc, exc.__cause__
            )
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(Replayed)
    async def replayed(_request: Request, exc: Replayed) -> Response:
        return replay_response(exc)

    @app.exception_handler(ValidationError)
    async def model_error(_request: Request, exc: ValidationError) -> Response:
        return error_response(
            422,
            "validation_failed",
            "the request body is invalid",
            field_errors(exc.errors(include_url=False, include_input=False)),
        )

    @app.exception_handler(RequestValidationError)
    async def request_error(_request: Request, exc: RequestValidationError) -> Response:
        return error_response(
            422, "validation_failed", "the request is invalid", field_errors(list(exc.errors()))
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            routes = getattr(request.app.state, "method_routes", [])
            headers["Allow"] = ", ".join(allowed_methods(routes, request.scope))
        return error_response(exc.status_code, code, str(exc.detail), None, headers)

    @app.exception_handler(ClientDisconnect)
    async def gone(_request: Request, _exc: ClientDisconnect) -> Response:
        # The client hung up mid-request; nothing was published, nobody reads the answer.
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Logged in full here; the client gets no stack trace.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error", None)
