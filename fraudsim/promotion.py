"""Promoting a registry version to champion, or setting a challenger: the checks, the
announcement on the models topic and the folder's ``CURRENT``, in the order `sentinel
models promote|challenge` and the console's Models page both run them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from decision_core.scoring import Model
from fraudsim.announce import AnnounceError, announce, announced
from fraudsim.registry import check, write_current
from schemas.connections import KafkaConnection

CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True, slots=True)
class Promotion:
    """What a promotion did beyond announcing the champion."""

    model: Model
    challenger_cleared: bool = False
    warnings: list[str] = field(default_factory=list)


def promote(
    kafka: KafkaConnection,
    registry: Path,
    version: str,
    force: bool = False,
    by: str | None = None,
) -> Promotion:
    """Announce ``version`` as champion once it is checked (RegistryError: not in the
    registry, does not load, not live-ready without ``force``; AnnounceError: Kafka did not
    take it), then point ``CURRENT`` at it; a challenger of the same version stops
    shadowing. What fails after the announcement is a warning: the champion is live."""
    model = check(registry, version, force)
    announce(kafka, CHAMPION, version, forced=force, by=by)
    warnings = []
    try:
        write_current(registry, version)
    except OSError as exc:
        warnings.append(f"CURRENT not rewritten in {registry}: {exc}")
    try:
        challenger = announced(kafka).get(CHALLENGER)
    except AnnounceError as exc:
        warnings.append(f"could not check the challenger: {exc}")
        return Promotion(model, False, warnings)
    if challenger is None or challenger.version != version:
        return Promotion(model, False, warnings)
    announce(kafka, CHALLENGER, None, by=by)
    return Promotion(model, True, warnings)


def challenge(
    kafka: KafkaConnection,
    registry: Path,
    version: str | None,
    force: bool = False,
    by: str | None = None,
) -> Model | None:
    """Announce ``version`` as challenger once checked (None clears the challenger)."""
    if version is None:
        announce(kafka, CHALLENGER, None, by=by)
        return None
    model = check(registry, version, force)
    announce(kafka, CHALLENGER, version, forced=force, by=by)
    return model
