"""Rules admin under /v1/rules: create, new version, disable, list, history, validate, dry-run.

A save answers 201 once the version is committed to PostgreSQL; `sentinel rules relay`
puts it on the rules topic (this internet-facing process may not write that topic).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Response
from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from pydantic import BaseModel, ConfigDict, Field

from ingest_api.db import query
from ingest_api.deps import AdminKey, RuntimeDep
from ingest_api.errors import Conflict, NotFound
from ingest_api.models import ErrorBody, MultilineText, PrintableText
from ingest_api.rules_check import action_or_422, compiled_or_422, draft_set, off_loop
from ingest_api.runtime import Runtime
from reference_store import reference_repo, rules_repo, samples
from rule_engine.dry_run import evaluate_draft, list_set, trial
from schemas.enums import RuleMode

router = APIRouter(prefix="/v1/rules", tags=["rules"])
ERRORS: dict[int | str, dict[str, Any]] = {
    c: {"model": ErrorBody} for c in (400, 401, 403, 404, 409, 422, 429, 503)
}
RuleId = Annotated[uuid.UUID, Path(description="The rule's id (a UUID)")]


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PrintableText = Field(min_length=1, max_length=100)
    description: MultilineText = Field(default="", max_length=2000)
    expression: MultilineText = Field(
        min_length=1, max_length=4000, examples=["amount > 5000 && country != home_country"]
    )
    action: str = Field(description="APPROVE, REVIEW, DECLINE, or SCORE+0.2 / SCORE-0.1")
    priority: int = Field(default=0, ge=-1000, le=1000)
    mode: RuleMode = RuleMode.ACTIVE


class RuleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: MultilineText | None = Field(default=None, max_length=2000)
    expression: MultilineText | None = Field(default=None, min_length=1, max_length=4000)
    action: str | None = None
    priority: int | None = Field(default=None, ge=-1000, le=1000)
    mode: RuleMode | None = None


class TryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expression: MultilineText = Field(min_length=1, max_length=4000)
    sample: dict[str, Any] = Field(default_factory=dict, description="A transaction's fields.")
    features: dict[str, float] = Field(default_factory=dict)
    home_country: str | None = None
    lists: dict[str, list[str]] = Field(default_factory=dict)


class DryRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expression: MultilineText = Field(min_length=1, max_length=4000)
    limit: int = Field(default=1000, ge=1, le=100_000)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


@router.post("", status_code=201, responses={201: {}, **ERRORS}, summary="Create a rule")
async def create_rule(body: RuleIn, runtime: RuntimeDep, key: AdminKey) -> Response:
    await off_loop(compiled_or_422, body.expression)
    action_or_422(body.action)
    draft = rules_repo.draft(
        name=body.name,
        description=body.description,
        expression=body.expression,
        action=body.action,
        priority=body.priority,
        mode=body.mode.value,
        author=key.name,
    )
    try:
        saved = await query(runtime, lambda c: rules_repo.create(c, draft))
    except UniqueViolation as exc:
        raise Conflict(f"a rule named {body.name!r} exists", {"name": body.name}) from exc
    return _json(saved.public(), 201)


@router.post(
    "/{rule_id}/versions",
    status_code=201,
    responses={201: {}, **ERRORS},
    summary="Save a new version of a rule",
)
async def new_version(
    rule_id: RuleId, body: RuleChange, runtime: RuntimeDep, key: AdminKey
) -> Response:
    changes: dict[str, Any] = body.model_dump(exclude_none=True)
    if "expression" in changes:
        await off_loop(compiled_or_422, changes["expression"])
    if "action" in changes:
        action_or_422(changes["action"])
        changes["action"], changes["score_delta"] = rules_repo.normalise_action(changes["action"])
    if "mode" in changes:
        changes["mode"] = changes["mode"].value
    return await _change(runtime, rule_id, changes, key.name, "update")


@router.post(
    "/{rule_id}/disable",
    status_code=201,
    responses={201: {}, **ERRORS},
    summary="Disable a rule (a new version in mode disabled)",
)
async def disable(rule_id: RuleId, runtime: RuntimeDep, key: AdminKey) -> Response:
    return await _change(runtime, rule_id, {"mode": RuleMode.DISABLED.value}, key.name, "disable")


async def _change(
    runtime: Runtime, rule_id: uuid.UUID, changes: dict[str, Any], actor: str, action: str
) -> Response:
    saved = await query(
        runtime, lambda c: rules_repo.change(c, str(rule_id), changes, actor, action)
    )
    if saved is None:
        raise NotFound(f"no rule {rule_id}")
    return _json(saved.public(), 201)


@router.get("", responses=ERRORS, summary="The current version of every rule")
async def list_rules(runtime: RuntimeDep, _key: AdminKey) -> Response:
    rules = await query(runtime, rules_repo.current_versions)
    return _json([r.public() for r in sorted(rules, key=lambda r: r.name)])


# ":uuid" routes only ids here, so GET /v1/rules/validate is a 405 (POST only), not a 422.
@router.get("/{rule_id:uuid}", responses=ERRORS, summary="A rule with its versions and audit log")
async def get_rule(rule_id: RuleId, runtime: RuntimeDep, _key: AdminKey) -> Response:
    async def load(conn: AsyncConnection) -> tuple[list[Any], list[Any]]:
        return (
            await rules_repo.history(conn, str(rule_id)),
            await rules_repo.audit_log(conn, str(rule_id)),
        )

    versions, audit = await query(runtime, load)
    if not versions:
        raise NotFound(f"no rule {rule_id}")
    return _json(
        {
            "current": versions[0].public(),
            "versions": [v.public() for v in versions],
            "audit": audit,
        }
    )


@router.post("/validate", responses=ERRORS, summary="Compile a rule and try it on a sample")
async def validate(body: TryIn, _key: AdminKey) -> Response:
    rules = await off_loop(draft_set, body.expression)
    named = list_set({n: ("merchants", v) for n, v in body.lists.items()})
    result = await off_loop(trial, rules, body.sample, body.features, body.home_country, named)
    return _json({"valid": True, "fired": result.fired, "runtime_error": result.error})


@router.post(
    "/dry-run",
    responses=ERRORS,
    summary="How often a draft would fire on the latest ledger transactions",
)
async def dry_run(body: DryRunIn, runtime: RuntimeDep, _key: AdminKey) -> Response:
    rules = await off_loop(draft_set, body.expression)

    async def load(conn: AsyncConnection) -> tuple[list[dict[str, Any]], Any]:
        return await samples.recent_decided(conn, body.limit), await reference_repo.lists(conn)

    rows, lists = await query(runtime, load)
    budget_s = runtime.settings.rules_dry_run_budget_s
    report = await off_loop(evaluate_draft, rules, rows, list_set(lists), budget_s)
    return _json(report.public())
