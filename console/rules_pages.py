"""The Rules pages: the list, the editor (live validation, dry run), versions with diffs,
and the mode changes. Saves go through ``reference_store.rules_repo``, the API's own path
to the ``rules`` table, with the console's audit row in the same transaction; `sentinel
rules relay` publishes the committed versions."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from psycopg.errors import UniqueViolation
from pydantic import AfterValidator

from console import audit, backtests, pending, rules_store
from console.backtest_view import backtest_modes, default_range
from console.deps import Analyst, PostedBy, RuntimeDep, SignedIn, Viewer
from console.errors import Conflict, NotFound
from console.rules_view import MODE_ACTIONS, Problem, check, mode_choices, newlines, with_diffs
from console.runtime import Runtime
from console.templating import templates
from reference_store import reference_repo, rules_repo, samples
from reference_store.rules_repo import RuleVersion, StaleVersion
from rule_engine.dry_run import DryRunReport, draft_set, evaluate_draft, list_set
from schemas.enums import RuleMode

router = APIRouter(prefix="/console/rules")
RuleId = Annotated[uuid.UUID, Path()]
Expression = Annotated[str, Form(max_length=4000), AfterValidator(newlines)]
Action = Annotated[str, Form(max_length=32)]
Description = Annotated[str, Form(max_length=2000), AfterValidator(newlines)]
Priority = Annotated[int, Form(ge=-1000, le=1000)]
Version = Annotated[int, Form(ge=1)]


def author(user: SignedIn) -> str:
    """Who a rule version names: the console user, told apart from API keys."""
    return f"console:{user.username}"


@router.get("", response_class=HTMLResponse)
async def rules_page(request: Request, runtime: RuntimeDep, user: Viewer) -> Response:
    async with runtime.pool.connection(timeout=2) as conn:
        rules = await rules_store.listed(conn)
    context = {"user": user, "rules": rules, "choices": mode_choices}
    return templates.TemplateResponse(request, "rules.html", context)


@router.get("/new", response_class=HTMLResponse)
async def new_page(request: Request, user: Analyst) -> Response:
    return editor_page(request, user, None, {"action": "REVIEW", "mode": "shadow", "priority": 0})


@router.get("/{rule_id}/edit", response_class=HTMLResponse)
async def edit_page(
    request: Request, runtime: RuntimeDep, user: Analyst, rule_id: RuleId
) -> Response:
    rule = await _current(runtime, rule_id)
    return editor_page(request, user, rule, _fields(rule))


@router.post("/validate", response_class=HTMLResponse)
async def validate(
    request: Request, user: Analyst, _posted: PostedBy, expression: Expression, action: Action
) -> Response:
    """The editor's live check: each problem at its line and column (htmx fragment)."""
    problems = await asyncio.to_thread(check, expression, action)
    return templates.TemplateResponse(request, "_rule_check.html", {"problems": problems})


@router.post("/dry-run", response_class=HTMLResponse)
async def dry_run(
    request: Request,
    runtime: RuntimeDep,
    user: Analyst,
    _posted: PostedBy,
    expression: Expression,
    action: Action,
) -> Response:
    """The draft over the last decided transactions: hits, and the outcomes it would change."""
    problems = await asyncio.to_thread(check, expression, action)
    if problems:
        return templates.TemplateResponse(request, "_rule_check.html", {"problems": problems})
    report = await _dry_run(runtime, expression, action)
    return templates.TemplateResponse(request, "_dry_run.html", {"report": report})


@router.post("/new", response_class=HTMLResponse)
async def create(
    request: Request,
    runtime: RuntimeDep,
    user: Analyst,
    _posted: PostedBy,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    expression: Expression,
    action: Action,
    priority: Priority = 0,
    mode: Annotated[RuleMode, Form()] = RuleMode.SHADOW,
    description: Description = "",
) -> Response:
    fields: dict[str, Any] = {"name": name.strip(), "description": description}
    fields |= {"expression": expression, "action": action, "priority": priority}
    fields["mode"] = mode.value
    problems = await asyncio.to_thread(check, expression, action)
    if not fields["name"]:
        problems.append(Problem("name", "a rule needs a name"))
    if problems:
        return editor_page(request, user, None, fields, problems, 422)
    draft = rules_repo.draft(
        name=fields["name"],
        description=description,
        expression=expression,
        action=action,
        priority=priority,
        mode=mode.value,
        author=author(user),
    )
    draft = rules_repo.replace_id(draft, str(uuid.uuid4()))
    if runtime.settings.maker_checker:
        async with runtime.pool.connection(timeout=2) as conn:
            if await rules_repo.by_name(conn, draft.name) is not None:
                taken = [Problem("name", f"a rule named {draft.name!r} exists already")]
                return editor_page(request, user, None, fields, taken, 409)
        held = {k: fields[k] for k in ("name", "description", "expression", "action")}
        held |= {"priority": priority, "mode": mode.value}
        await _hold(runtime, user, draft.rule_id, "create", None, held, audit.RULE_CREATED)
        return RedirectResponse("/console/rules/pending", status_code=303)
    try:
        async with runtime.pool.connection(timeout=2) as conn, conn.transaction():
            detail = {"to_version": 1, "name": draft.name, "mode": draft.mode}
            await audit.record(conn, user.username, audit.RULE_CREATED, draft.rule_id, detail)
            saved = await rules_repo.create(conn, draft)
    except UniqueViolation:
        taken = [Problem("name", f"a rule named {draft.name!r} exists already")]
        return editor_page(request, user, None, fields, taken, 409)
    return RedirectResponse(f"/console/rules/{saved.rule_id}/versions", status_code=303)


@router.post("/{rule_id}/edit", response_class=HTMLResponse)
async def save_version(
    request: Request,
    runtime: RuntimeDep,
    user: Analyst,
    _posted: PostedBy,
    rule_id: RuleId,
    expected_version: Version,
    expression: Expression,
    action: Action,
    priority: Priority = 0,
    description: Description = "",
) -> Response:
    current = await _current(runtime, rule_id)
    fields = {**_fields(current), "description": description, "expression": expression}
    fields |= {"action": action, "priority": priority}
    problems = await asyncio.to_thread(check, expression, action)
    if problems:
        return editor_page(request, user, current, fields, problems, 422)
    text, delta = rules_repo.normalise_action(action)
    changes: dict[str, Any] = {"description": description, "expression": expression}
    changes["action"] = text
    changes |= {"score_delta": delta, "priority": priority}
    return await _change_or_hold(
        runtime, user, rule_id, changes, expected_version, audit.RULE_UPDATED
    )


@router.post("/{rule_id}/mode")
async def change_mode(
    runtime: RuntimeDep,
    user: Analyst,
    _posted: PostedBy,
    rule_id: RuleId,
    expected_version: Version,
    mode: Annotated[RuleMode, Form()],
) -> Response:
    """Activate, shadow or disable: a new version in ``mode``, published like any other."""
    return await _change_or_hold(
        runtime, user, rule_id, {"mode": mode.value}, expected_version, MODE_ACTIONS[mode]
    )


@router.get("/{rule_id}/versions", response_class=HTMLResponse)
async def versions_page(
    request: Request, runtime: RuntimeDep, user: Viewer, rule_id: RuleId
) -> Response:
    async with runtime.pool.connection(timeout=2) as conn:
        versions = await rules_repo.history(conn, str(rule_id))
        tests = await backtests.for_rule(conn, str(rule_id))
    if not versions:
        raise NotFound(f"no rule {rule_id}")
    context = {
        "user": user,
        "rule": versions[0],
        "rows": with_diffs(versions),
        "choices": mode_choices(versions[0].mode),
        "backtests": tests,
        "range": default_range(datetime.now(UTC)),
        "modes": backtest_modes(),
        "maker_checker": runtime.settings.maker_checker,
    }
    return templates.TemplateResponse(request, "rule_versions.html", context)


async def _change_or_hold(
    runtime: Runtime,
    user: SignedIn,
    rule_id: uuid.UUID,
    changes: dict[str, Any],
    expected: int,
    action: str,
) -> Response:
    """Publish the change now, or with maker-checker on, hold it for a second analyst."""
    if not runtime.settings.maker_checker:
        await _change(runtime, user, rule_id, changes, expected, action)
        return RedirectResponse(f"/console/rules/{rule_id}/versions", status_code=303)
    current = await _current(runtime, rule_id)
    if current.version != expected:
        raise Conflict(
            f"the rule changed meanwhile (now version {current.version}); reload and try again"
        )
    kind = "mode" if set(changes) == {"mode"} else "update"
    await _hold(runtime, user, str(rule_id), kind, expected, changes, action)
    return RedirectResponse("/console/rules/pending", status_code=303)


async def _hold(
    runtime: Runtime,
    user: SignedIn,
    rule_id: str,
    kind: str,
    base: int | None,
    changes: dict[str, Any],
    action: str,
) -> None:
    async with runtime.pool.connection(timeout=2) as conn, conn.transaction():
        await pending.submit(
            conn,
            rule_id=rule_id,
            kind=kind,
            base_version=base,
            changes=changes,
            audit_action=action,
            maker=user.username,
        )


async def _change(
    runtime: Runtime,
    user: SignedIn,
    rule_id: uuid.UUID,
    changes: dict[str, Any],
    expected: int,
    action: str,
) -> RuleVersion:
    """A new version after ``expected`` and its audit row, in one transaction that commits
    after Kafka acknowledged the version (``rules_repo.change``)."""
    kind = action.removeprefix("rule.")
    detail = {"from_version": expected, "to_version": expected + 1, **_audited(changes)}
    try:
        async with runtime.pool.connection(timeout=2) as conn, conn.transaction():
            await audit.record(conn, user.username, action, str(rule_id), detail)
            saved = await rules_repo.change(
                conn, str(rule_id), changes, author(user), kind, expected
            )
            if saved is None:
                raise NotFound(f"no rule {rule_id}")
    except StaleVersion as exc:
        raise Conflict(
            f"the rule changed meanwhile (now version {exc.current}); reload and try again"
        ) from exc
    return saved


def _audited(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in changes.items() if k in ("mode", "action", "priority")}


async def _current(runtime: Runtime, rule_id: uuid.UUID) -> RuleVersion:
    async with runtime.pool.connection(timeout=2) as conn:
        rule = await rules_repo.latest(conn, str(rule_id))
    if rule is None:
        raise NotFound(f"no rule {rule_id}")
    return rule


async def _dry_run(runtime: Runtime, expression: str, action: str) -> DryRunReport:
    settings = runtime.settings
    async with runtime.pool.connection(timeout=5) as conn:
        rows = await samples.recent_decided(conn, settings.dry_run_rows)
        lists = await reference_repo.lists(conn)
    async with runtime.dry_runs:
        rules = await asyncio.to_thread(draft_set, expression, action)
        return await asyncio.to_thread(
            evaluate_draft, rules, rows, list_set(lists), settings.dry_run_budget_s
        )


def _fields(rule: RuleVersion) -> dict[str, Any]:
    keys = ("name", "description", "expression", "action", "priority", "mode")
    return {k: getattr(rule, k) for k in keys}


def editor_page(
    request: Request,
    user: SignedIn,
    rule: RuleVersion | None,
    fields: dict[str, Any],
    problems: list[Problem] | None = None,
    status: int = 200,
) -> Response:
    """The editor with ``fields`` (a draft kept across a refused save or backtest)."""
    context: dict[str, Any] = {"user": user, "rule": rule, "fields": fields}
    context |= {
        "problems": problems or [],
        "range": default_range(datetime.now(UTC)),
        "modes": backtest_modes(),
    }
    return templates.TemplateResponse(request, "rule_edit.html", context, status_code=status)
