"""The FastAPI app factory: routes, the error handler, metrics, and the runtime's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

from ingest_api import handlers
from ingest_api.admin_idempotency import AdminIdempotencyMiddleware
from ingest_api.body_limit import BodyLimitMiddleware
from ingest_api.label_intake import LabelIn
from ingest_api.metrics import MetricsMiddleware
from ingest_api.models import TransactionIn
from ingest_api.routes import (
    authorize,
    health,
    labels,
    reads,
    reference,
    rules,
    transactions,
    webhooks,
)
from ingest_api.runtime import Runtime
from ingest_api.settings import ApiSettings

API_VERSION = "1.0.0"


def create_app(settings: ApiSettings | None = None, *, with_runtime: bool = True) -> FastAPI:
    """Build the app; ``with_runtime=False`` builds it without connecting (OpenAPI export)."""
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not with_runtime:
            yield
            return
        runtime = await Runtime.open(settings)
        app.state.runtime = runtime
        try:
            yield
        finally:
            await runtime.close()

    docs = settings.docs_enabled()
    app = FastAPI(
        title="SentinelStream ingest API",
        version=API_VERSION,
        summary="Card transactions in, fraud decisions out.",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    handlers.install(app)
    app.add_middleware(AdminIdempotencyMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)  # added last, so outermost: it counts the 413s too
    routes = (transactions, authorize, labels, reads, rules, reference, webhooks)
    routers = [m.router for m in routes]
    routers += [health.router] + ([health.metrics_router] if settings.metrics_enabled() else [])
    for router in routers:
        app.include_router(router)
    # Every route with its methods, for the Allow header of a 405 (handlers.allowed_methods).
    app.state.method_routes = [
        *(route for route in app.router.routes if isinstance(route, Route)),
        *(route for router in routers for route in router.routes),
    ]
    _document_raw_bodies(app, settings)
    return app


def _document_raw_bodies(app: FastAPI, settings: ApiSettings) -> None:
    """Put the request-body models into the OpenAPI components.

    The ingest and label routes read the raw body themselves (it is hashed for idempotency
    and parsed once, strictly, by pydantic's JSON parser), so FastAPI cannot see their models.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        tx = TransactionIn.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(tx.pop("$defs", {}))
        schemas["TransactionIn"] = tx
        label = LabelIn.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(label.pop("$defs", {}))
        schemas["LabelIn"] = label
        schemas["BatchIn"] = {
            "title": "BatchIn",
            "type": "object",
            "additionalProperties": False,
            "required": ["transactions"],
            "properties": {
                "transactions": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": settings.batch_max_items,
                    "items": {"$ref": "#/components/schemas/TransactionIn"},
                }
            },
        }
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
