"""Named lists under /v1/lists and account profiles under /v1/accounts/{id}/profile (admin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Response
from psycopg.errors import UniqueViolation
from pydantic import BaseModel, ConfigDict, Field

from ingest_api.db import query
from ingest_api.deps import AdminKey, RuntimeDep
from ingest_api.errors import Conflict, InvalidRequest, NotFound
from ingest_api.models import COUNTRIES, ErrorBody, MultilineText, PrintableText
from ingest_api.reference_publish import list_publisher, profile_publisher
from ingest_api.routes.reads import Id
from reference_store import reference_repo
from schemas.records import AccountProfile, NamedList

router = APIRouter(prefix="/v1", tags=["reference data"])
ERRORS: dict[int | str, dict[str, Any]] = {
    c: {"model": ErrorBody} for c in (400, 401, 403, 404, 409, 422, 429, 503)
}
ListName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Value = Annotated[PrintableText, Field(min_length=1, max_length=256)]


class ListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="Rules use lists.<name>")
    kind: str = Field(pattern=r"^(cards|accounts|merchants|countries|devices|ips)$")
    description: MultilineText = Field(default="", max_length=2000)
    values: list[Value] = Field(default_factory=list, max_length=100_000)


class ItemsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: list[Value] = Field(min_length=1, max_length=100_000)


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    home_country: str = Field(pattern=r"^[A-Z]{2}$")
    home_lat: float | None = Field(default=None, ge=-90, le=90)
    home_lon: float | None = Field(default=None, ge=-180, le=180)


def _list_body(named: NamedList) -> Response:
    body = {"name": named.name, "kind": named.kind, "values": list(named.values)}
    return Response(orjson.dumps(body), media_type="application/json")


@router.post("/lists", status_code=201, responses={201: {}, **ERRORS}, summary="Create a list")
async def create_list(body: ListIn, runtime: RuntimeDep, key: AdminKey) -> Response:
    publish = list_publisher(runtime.publisher, runtime.settings.kafka)
    try:
        named = await query(
            runtime,
            lambda c: reference_repo.create_list(
                c, body.name, body.kind, body.description, body.values, key.name, publish
            ),
        )
    except UniqueViolation as exc:
        raise Conflict(f"a list named {body.name!r} exists", {"name": body.name}) from exc
    response = _list_body(named)
    response.status_code = 201
    return response


@router.get("/lists", responses=ERRORS, summary="Every list with its members")
async def all_lists(runtime: RuntimeDep, _key: AdminKey) -> Response:
    lists = await query(runtime, reference_repo.lists)
    body = [{"name": n, "kind": k, "values": list(v)} for n, (k, v) in sorted(lists.items())]
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/lists/{name}", responses=ERRORS, summary="One list")
async def get_list(name: ListName, runtime: RuntimeDep, _key: AdminKey) -> Response:
    named = await query(runtime, lambda c: reference_repo.get_list(c, name))
    if named is None:
        raise NotFound(f"no list {name}")
    return _list_body(named)


@router.post("/lists/{name}/items", responses=ERRORS, summary="Add members to a list")
async def add_items(name: ListName, body: ItemsIn, runtime: RuntimeDep, key: AdminKey) -> Response:
    publish = list_publisher(runtime.publisher, runtime.settings.kafka)
    named = await query(
        runtime, lambda c: reference_repo.add_items(c, name, body.values, key.name, publish)
    )
    if named is None:
        raise NotFound(f"no list {name}")
    return _list_body(named)


@router.delete("/lists/{name}/items/{value}", responses=ERRORS, summary="Remove a member")
async def remove_item(
    name: ListName, value: Annotated[str, Path(max_length=256)], runtime: RuntimeDep, _key: AdminKey
) -> Response:
    publish = list_publisher(runtime.publisher, runtime.settings.kafka)
    named = await query(runtime, lambda c: reference_repo.remove_item(c, name, value, publish))
    if named is None:
        raise NotFound(f"no list {name}")
    return _list_body(named)


@router.put(
    "/accounts/{account_id}/profile",
    responses=ERRORS,
    summary="Set an account's home (the agents compare transactions with it)",
)
async def put_profile(
    account_id: Id, body: ProfileIn, runtime: RuntimeDep, _key: AdminKey
) -> Response:
    if body.home_country not in COUNTRIES:
        raise InvalidRequest(
            "unknown country", [{"path": "home_country", "message": "not ISO 3166-1 alpha-2"}]
        )
    profile = AccountProfile(
        account_id=account_id,
        home_country=body.home_country,
        home_lat=body.home_lat,
        home_lon=body.home_lon,
        updated_at=datetime.now(UTC),
    )
    publish = profile_publisher(runtime.publisher, runtime.settings.kafka)
    await query(runtime, lambda c: reference_repo.upsert_profile(c, profile, publish))
    body_out = {"account_id": account_id, **body.model_dump()}
    return Response(orjson.dumps(body_out), media_type="application/json")
