"""The webhooks page: every subscription (URL without credentials, events, enabled, created)
beside its last hour of deliveries (the dispatcher's statistics) and its dead-lettered
deliveries. Viewers read; nothing here changes anything."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from console import dead_letters, webhooks
from console.deps import RuntimeDep, Viewer
from console.errors import Unavailable
from console.templating import templates
from dlq.kafka import DlqError
from schemas.pan import mask_pans
from schemas.topics import WEBHOOKS_DEAD_LETTER

router = APIRouter(prefix="/console")


@router.get("/webhooks", response_class=HTMLResponse)
async def webhooks_page(request: Request, runtime: RuntimeDep, user: Viewer) -> Response:
    async with runtime.pool.connection(timeout=2) as conn:
        subscriptions = await webhooks.subscriptions(conn)
        figures = await webhooks.delivery_stats(conn)
    kafka = runtime.settings.kafka
    last = runtime.settings.dead_letters_per_partition
    topics = dead_letters.topics_of(WEBHOOKS_DEAD_LETTER.name, kafka)
    try:
        loaded = await dead_letters.recent(kafka, topics, last)
    except DlqError as exc:
        raise Unavailable(f"Kafka: {mask_pans(str(exc))}") from exc
    context = {
        "user": user,
        "subscriptions": subscriptions,
        "figures": figures,
        "dead": webhooks.dead_lettered(loaded.letters),
        "last": last,
        "topic": WEBHOOKS_DEAD_LETTER.name,
    }
    return templates.TemplateResponse(request, "webhooks.html", context)
