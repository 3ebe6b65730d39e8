"""The Models pages: the registry's versions with their cards' metrics, the champion and
challenger announced on the models topic, the ledger's live comparison of the two, a
version's figures (served from inside the registry only), and announcing a version as
champion or challenger (admin) through ``fraudsim.promotion``, the CLI's own code."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse

from console import audit, models
from console.deps import Admin, PostedBy, RuntimeDep, SignedIn, Viewer
from console.errors import Conflict, NotFound, Unavailable
from console.model_cards import FIGURES, figure_path
from console.runtime import Runtime
from console.templating import templates
from decision_core.thresholds import DEFAULT_THRESHOLDS, card_thresholds
from fraudsim import live_compare, promotion
from fraudsim.announce import AnnounceError
from fraudsim.registry import RegistryError

router = APIRouter(prefix="/console/models")
VersionName = Annotated[str, PathParam(min_length=1, max_length=200)]
Role = Annotated[Literal["champion", "challenger"], Form()]


def announcer(user: SignedIn) -> str:
    """Who an announcement names: the console user, told apart from a CLI's user@host."""
    return f"console:{user.username}"


def _registry(runtime: Runtime) -> Path:
    registry = runtime.settings.model_registry
    if registry is None:
        raise NotFound(
            "no model registry is configured: set SENTINEL_CONSOLE_MODEL_REGISTRY"
            " (or SENTINEL_AGENTS_MODEL_REGISTRY)"
        )
    return registry


async def _versions(runtime: Runtime) -> list[models.Version]:
    try:
        return await models.versions(_registry(runtime))
    except (OSError, ValueError) as exc:
        raise Unavailable(f"the model registry cannot be read: {exc}") from exc


@router.get("", response_class=HTMLResponse)
async def models_page(request: Request, runtime: RuntimeDep, user: Viewer) -> Response:
    registry = runtime.settings.model_registry
    found = await _versions(runtime) if registry is not None else []
    async with runtime.model_io:
        announced = await models.roles(runtime.settings.kafka)
    champion = announced.roles.get(promotion.CHAMPION)
    card = next((v.entry.card for v in found if champion and v.version == champion.version), None)
    thresholds = card_thresholds(card) or DEFAULT_THRESHOLDS
    now = datetime.now(UTC)
    async with runtime.pool.connection(timeout=5) as conn:
        compared = await live_compare.comparisons(
            conn, now - timedelta(hours=24), now, thresholds.review_at, thresholds.decline_at
        )
    context = {
        "user": user,
        "registry": registry,
        "versions": found,
        "announced": announced,
        "review_at": thresholds.review_at,
        "decline_at": thresholds.decline_at,
        "comparisons": compared,
    }
    return templates.TemplateResponse(request, "models.html", context)


@router.get("/{version}", response_class=HTMLResponse)
async def model_page(
    request: Request, runtime: RuntimeDep, user: Viewer, version: VersionName
) -> Response:
    return await _model(request, runtime, user, version)


@router.get("/{version}/figures/{name}")
async def model_figure(
    runtime: RuntimeDep, user: Viewer, version: VersionName, name: str
) -> Response:
    """A figure of a version's card: only the PNGs training writes, only inside the registry."""
    path = figure_path(_registry(runtime), version, name)
    if path is None:
        raise NotFound(f"no figure {name!r} of model {version!r}")
    return FileResponse(
        path, media_type="image/png", headers={"Cache-Control": "private, max-age=300"}
    )


@router.post("/{version}/announce", response_class=HTMLResponse)
async def announce(
    request: Request,
    runtime: RuntimeDep,
    user: Admin,
    _posted: PostedBy,
    version: VersionName,
    role: Role,
) -> Response:
    """Announce ``version`` as champion (`sentinel models promote`) or challenger
    (`sentinel models challenge`); audited whether or not Kafka took it."""
    registry, by = _registry(runtime), announcer(user)
    kafka = runtime.settings.kafka
    detail: dict[str, Any] = {"role": role, "version": version}
    try:
        async with runtime.model_io:
            if role == promotion.CHAMPION:
                done = await asyncio.to_thread(
                    promotion.promote, kafka, registry, version, False, by
                )
                detail |= {"challenger_cleared": done.challenger_cleared, "warnings": done.warnings}
                result = _promoted(version, done)
            else:
                await asyncio.to_thread(promotion.challenge, kafka, registry, version, False, by)
                result = [f"{version} is challenger: scored in shadow, recorded, never deciding."]
    except RegistryError as exc:
        await _audit(runtime, user, version, detail | {"result": "refused", "why": str(exc)})
        raise Conflict(str(exc)) from exc
    except AnnounceError as exc:
        await _audit(runtime, user, version, detail | {"result": "failed", "why": str(exc)})
        raise Unavailable(str(exc)) from exc
    await _audit(runtime, user, version, detail | {"result": "announced"})
    return await _model(request, runtime, user, version, result)


@router.post("/challenger/clear", response_class=HTMLResponse)
async def clear_challenger(
    request: Request, runtime: RuntimeDep, user: Admin, _posted: PostedBy
) -> Response:
    """Stop shadow scoring (`sentinel models challenge --clear`)."""
    kafka, by = runtime.settings.kafka, announcer(user)
    detail: dict[str, Any] = {"role": promotion.CHALLENGER, "version": None}
    try:
        async with runtime.model_io:
            await asyncio.to_thread(promotion.challenge, kafka, _registry(runtime), None, False, by)
    except AnnounceError as exc:
        await _audit(runtime, user, None, detail | {"result": "failed", "why": str(exc)})
        raise Unavailable(str(exc)) from exc
    await _audit(runtime, user, None, detail | {"result": "announced"})
    return await models_page(request, runtime, user)


def _promoted(version: str, done: promotion.Promotion) -> list[str]:
    said = [f"{version} is champion: running agents swap it in between two batches."]
    if done.challenger_cleared:
        said.append(f"{version} no longer shadows as challenger.")
    return said + done.warnings


async def _audit(
    runtime: Runtime, user: SignedIn, version: str | None, detail: dict[str, Any]
) -> None:
    """The effect is in Kafka, not PostgreSQL: the row follows the attempt, whatever it did."""
    async with runtime.pool.connection(timeout=5) as conn:
        await audit.record(conn, user.username, audit.MODEL_ANNOUNCED, version, detail)


async def _model(
    request: Request,
    runtime: Runtime,
    user: SignedIn,
    version: str,
    result: list[str] | None = None,
) -> Response:
    found = next((v for v in await _versions(runtime) if v.version == version), None)
    if found is None:
        raise NotFound(f"no model {version!r} in the registry")
    async with runtime.model_io:
        announced = await models.roles(runtime.settings.kafka)
    registry = _registry(runtime)
    shown = {n: t for n, t in FIGURES.items() if figure_path(registry, version, n) is not None}
    context = {
        "user": user,
        "model": found,
        "announced": announced,
        "figures": shown,
        "result": result or [],
    }
    return templates.TemplateResponse(request, "model.html", context)
