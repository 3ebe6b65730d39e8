"""The dead letters pages: the newest letters of a dead-letter topic, one letter in full,
and its re-drive (analysts; audited). Kafka work is ``console.dead_letters``'."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from console import audit, dead_letters
from console.deps import Analyst, PostedBy, RuntimeDep, SignedIn, Viewer
from console.errors import ConsoleError, Unavailable
from console.runtime import Runtime
from console.templating import templates
from dlq.kafka import DlqError
from dlq.letters import InvalidLetterId, Letter, LetterId, Unreadable
from dlq.source import DlqTopics
from schemas.pan import mask_pans

router = APIRouter(prefix="/console/dead-letters")
TopicName = Annotated[str, Query(max_length=64)]


class NoSuchLetter(ConsoleError):
    status = 404


def _topics(runtime: Runtime, topic: str) -> DlqTopics:
    try:
        return dead_letters.topics_of(topic, runtime.settings.kafka)
    except dead_letters.UnknownTopic as exc:
        raise NoSuchLetter(str(exc)) from exc


def _letter_id(text: str) -> LetterId:
    try:
        return LetterId.parse(text)
    except InvalidLetterId as exc:
        raise NoSuchLetter(str(exc)) from exc


def _broker_down(exc: DlqError) -> Unavailable:
    return Unavailable(f"Kafka: {mask_pans(str(exc))}")


@router.get("", response_class=HTMLResponse)
async def letters_page(
    request: Request, runtime: RuntimeDep, user: Viewer, topic: TopicName = dead_letters.TOPICS[0]
) -> Response:
    topics = _topics(runtime, topic)
    last = runtime.settings.dead_letters_per_partition
    try:
        loaded = await dead_letters.recent(runtime.settings.kafka, topics, last)
    except DlqError as exc:
        raise _broker_down(exc) from exc
    context = {
        "user": user,
        "topic": topic,
        "topics": dead_letters.TOPICS,
        "rows": dead_letters.rows(loaded),
        "last": last,
    }
    return templates.TemplateResponse(request, "dead_letters.html", context)


@router.get("/{topic}/{letter_id}", response_class=HTMLResponse)
async def letter_page(
    request: Request, runtime: RuntimeDep, user: Viewer, topic: str, letter_id: str
) -> Response:
    letter = await _load(runtime, _topics(runtime, topic), _letter_id(letter_id))
    return _detail(request, user, topic, letter, None)


@router.post("/{topic}/{letter_id}/redrive", response_class=HTMLResponse)
async def redrive_letter(
    request: Request,
    runtime: RuntimeDep,
    user: Analyst,
    posted: PostedBy,
    topic: str,
    letter_id: str,
) -> Response:
    """Re-drive one letter the way `sentinel dlq redrive ID` does, then audit the result
    (the effect is in Kafka: the audit row follows it, and the mark names the user too)."""
    topics, wanted = _topics(runtime, topic), _letter_id(letter_id)
    target = f"{topics.declared}/{wanted}"
    try:
        report = await dead_letters.redrive_one(
            runtime.settings.kafka, topics, wanted, by=f"console:{user.username}"
        )
    except DlqError as exc:
        await _audit(runtime, user, target, {"result": "failed", "error": mask_pans(str(exc))})
        raise _broker_down(exc) from exc
    result, message = dead_letters.outcome(report, wanted)
    await _audit(runtime, user, target, {"result": result})
    letter = await _load(runtime, topics, wanted)
    return _detail(request, user, topic, letter, message)


async def _load(runtime: Runtime, topics: DlqTopics, letter_id: LetterId) -> Letter:
    try:
        found = await dead_letters.one(runtime.settings.kafka, topics, letter_id)
    except DlqError as exc:
        raise _broker_down(exc) from exc
    if found is None:
        raise NoSuchLetter(f"no record at {letter_id} on {topics.declared} (any more)")
    if isinstance(found, Unreadable):
        raise NoSuchLetter(f"{letter_id} on {topics.declared} is not a dead letter")
    return found


def _detail(
    request: Request, user: SignedIn, topic: str, letter: Letter, message: str | None
) -> Response:
    context: dict[str, Any] = {
        "user": user,
        "topic": topic,
        "letter": dead_letters.detail(letter),
        "message": message,
    }
    return templates.TemplateResponse(request, "dead_letter.html", context)


async def _audit(runtime: Runtime, user: SignedIn, target: str, detail: dict[str, Any]) -> None:
    async with runtime.pool.connection(timeout=2) as conn:
        await audit.record(conn, user.username, audit.DEAD_LETTER_REDRIVE, target, detail)
