"""The backtest pages: start a backtest of a draft (from the editor) or of a saved version
(from the versions page), follow its progress, read its result (candidate against live).

The replay runs in a worker process (``console/backtests.py``); these routes only write
the row, start the process and read the row back.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from console import audit, backtests
from console.backtest_view import (
    BadRange,
    Range,
    candidate_spec,
    outcome_bars,
    parse_range,
    progress_share,
    shown_status,
    summarize,
)
from console.backtest_worker import BacktestJob
from console.deps import Analyst, PostedBy, RuntimeDep, SignedIn, Viewer
from console.errors import BadRequest, NotFound
from console.rules_pages import Description, Expression, editor_page
from console.rules_view import Problem, check
from console.runtime import Runtime
from console.templating import templates
from reference_store import rules_repo
from replay.errors import ReplayError
from replay.plan import parse_duration
from replay.settings import agents_breaker, agents_thresholds
from schemas.enums import RuleMode

router = APIRouter(prefix="/console/rules/backtests")
BacktestId = Annotated[int, Path(ge=1)]
Moment = Annotated[str, Form(max_length=40)]
DRAFT_NAME = "draft"


@router.post("", response_class=HTMLResponse)
async def start_draft(
    request: Request,
    runtime: RuntimeDep,
    user: Analyst,
    _posted: PostedBy,
    since: Moment,
    until: Moment,
    expression: Expression,
    action: Annotated[str, Form(max_length=32)],
    backtest_mode: Annotated[RuleMode, Form()] = RuleMode.ACTIVE,
    priority: Annotated[int, Form(ge=-1000, le=1000)] = 0,
    description: Description = "",
    name: Annotated[str, Form(max_length=100)] = "",
    rule_id: Annotated[uuid.UUID | None, Form()] = None,
) -> Response:
    """The editor's draft (of a saved rule, or of a new one) over the range."""
    current = await _latest(runtime, rule_id) if rule_id else None
    fields: dict[str, Any] = {"name": name, "description": description, "priority": priority}
    fields |= {"expression": expression, "action": action, "mode": "shadow"}
    problems = await asyncio.to_thread(check, expression, action)
    try:
        span = _range(runtime, since, until)
    except BadRange as exc:
        problems.append(Problem("backtest", str(exc)))
    if problems:
        if current is not None:
            fields |= {"name": current.name, "mode": current.mode}
        return editor_page(request, user, current, fields, problems, 422)
    candidate = candidate_spec(
        rule_id=current.rule_id if current else str(uuid.uuid4()),
        version=current.version + 1 if current else 1,
        name=current.name if current else (name.strip() or DRAFT_NAME),
        expression=expression,
        action=action,
        priority=priority,
        mode=backtest_mode.value,
        description=description,
    )
    rid = current.rule_id if current else None
    backtest_id = await _start(runtime, user, rid, None, candidate, span)
    return RedirectResponse(f"/console/rules/backtests/{backtest_id}", status_code=303)


@router.post("/version", response_class=HTMLResponse)
async def start_version(
    runtime: RuntimeDep,
    user: Analyst,
    _posted: PostedBy,
    rule_id: Annotated[uuid.UUID, Form()],
    version: Annotated[int, Form(ge=1)],
    since: Moment,
    until: Moment,
    backtest_mode: Annotated[RuleMode, Form()] = RuleMode.ACTIVE,
) -> Response:
    """A saved version over the range (from the versions page)."""
    async with runtime.pool.connection(timeout=2) as conn:
        versions = await rules_repo.history(conn, str(rule_id))
    chosen = next((v for v in versions if v.version == version), None)
    if chosen is None:
        raise NotFound(f"no version {version} of rule {rule_id}")
    try:
        span = _range(runtime, since, until)
    except BadRange as exc:
        raise BadRequest(str(exc)) from exc
    candidate = candidate_spec(
        rule_id=chosen.rule_id,
        version=chosen.version,
        name=chosen.name,
        expression=chosen.expression,
        action=chosen.action,  # stored normalised ("DECLINE", "SCORE+0.2"): parses again
        priority=chosen.priority,
        mode=backtest_mode.value,
        description=chosen.description,
    )
    backtest_id = await _start(runtime, user, chosen.rule_id, chosen.version, candidate, span)
    return RedirectResponse(f"/console/rules/backtests/{backtest_id}", status_code=303)


@router.get("/{backtest_id}", response_class=HTMLResponse)
async def result_page(
    request: Request, runtime: RuntimeDep, user: Viewer, backtest_id: BacktestId
) -> Response:
    backtest = await _get(runtime, backtest_id)
    context = _context(backtest) | {"user": user}
    return templates.TemplateResponse(request, "rule_backtest.html", context)


@router.get("/{backtest_id}/progress", response_class=HTMLResponse)
async def progress(
    request: Request, runtime: RuntimeDep, user: Viewer, backtest_id: BacktestId
) -> Response:
    """The progress fragment htmx polls; once the backtest ended, the page reloads."""
    backtest = await _get(runtime, backtest_id)
    context = _context(backtest)
    if not context["open"]:
        return Response(status_code=200, headers={"HX-Refresh": "true"})
    return templates.TemplateResponse(request, "_backtest_progress.html", context)


def _range(runtime: Runtime, since: str, until: str) -> Range:
    return parse_range(since, until, datetime.now(UTC), runtime.settings.backtest_max_days)


async def _start(
    runtime: Runtime,
    user: SignedIn,
    rule_id: str | None,
    version: int | None,
    candidate: dict[str, Any],
    span: Range,
) -> int:
    """Write the row and its audit row, then start the worker process."""
    settings = runtime.settings
    try:
        warmup_ms = parse_duration(settings.backtest_warmup)
    except ReplayError as exc:
        raise BadRequest(f"SENTINEL_CONSOLE_BACKTEST_WARMUP: {exc}") from exc
    runtime.backtests.reserve()
    try:
        async with runtime.pool.connection(timeout=2) as conn, conn.transaction():
            backtest_id = await backtests.create(
                conn,
                rule_id=rule_id,
                rule_version=version,
                candidate=candidate,
                span=span,
                by=user.username,
                budget_s=settings.backtest_budget_s,
            )
            detail = {"backtest_id": backtest_id, "version": version or "draft"}
            detail |= {"since": span.since.isoformat(), "until": span.until.isoformat()}
            detail["mode"] = candidate["mode"]
            target = rule_id or f"draft:{candidate['name']}"
            await audit.record(conn, user.username, audit.RULE_BACKTEST, target, detail)
    except BaseException:
        runtime.backtests.release()
        raise
    job = BacktestJob(
        backtest_id=backtest_id,
        candidate=candidate,
        since=span.since,
        until=span.until,
        warmup_ms=warmup_ms,
        kafka=settings.kafka,
        postgres=settings.postgres,
        registry=runtime.agents.model_registry,
        thresholds=agents_thresholds(runtime.agents),
        breaker=agents_breaker(runtime.agents),
    )
    runtime.backtests.start(job, settings.backtest_budget_s)
    return backtest_id


async def _get(runtime: Runtime, backtest_id: int) -> backtests.Backtest:
    async with runtime.pool.connection(timeout=2) as conn:
        found = await backtests.get(conn, backtest_id)
    if found is None:
        raise NotFound(f"no backtest {backtest_id}")
    return found


async def _latest(runtime: Runtime, rule_id: uuid.UUID) -> rules_repo.RuleVersion:
    async with runtime.pool.connection(timeout=2) as conn:
        rule = await rules_repo.latest(conn, str(rule_id))
    if rule is None:
        raise NotFound(f"no rule {rule_id}")
    return rule


def _context(backtest: backtests.Backtest) -> dict[str, Any]:
    status = shown_status(backtest.status, backtest.deadline, datetime.now(UTC))
    context: dict[str, Any] = {
        "backtest": backtest,
        "status": status,
        "open": status in ("queued", "running"),
        "share": progress_share(backtest.progress_read, backtest.progress_total),
        "summary": None,
        "bars": [],
    }
    if backtest.status == "done" and backtest.result is not None:
        summary = summarize(backtest.result, backtest.candidate["rule_id"])
        context |= {"summary": summary, "bars": outcome_bars(summary)}
    return context
