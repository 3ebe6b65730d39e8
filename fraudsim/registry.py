"""The model registry folder: list versions, check and promote one, stage one.

Layout and loading are ``decision_core.scoring``'s (``<root>/<version>/model.ubj`` and
``card.json``). Running agents learn the champion and challenger from the models topic
(``fraudsim.announce``); ``<root>/CURRENT`` keeps naming the champion for offline tools
(replay, ``sentinel models list``, the demo's bootstrap), rewritten atomically on promotion.
A model whose features the live agent does not compute (``live_ready`` false) is never
announced or made current without ``force``: the agent would score those columns as missing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from decision_core.scoring import CURRENT, Model, publish
from schemas.features import LIVE_FEATURE_NAMES

if TYPE_CHECKING:
    import xgboost as xgb

STAGING = ".staging"


class RegistryError(Exception):
    """A registry operation that cannot be done (unknown version, unsafe promotion)."""


@dataclass(frozen=True, slots=True)
class Entry:
    version: str
    current: bool
    card: dict[str, Any]

    @property
    def live_ready(self) -> bool:
        return live_ready(self.card)


def live_ready(card: Mapping[str, Any]) -> bool:
    """True when the live agent computes every feature the model reads."""
    return set(card.get("feature_names", ())) <= set(LIVE_FEATURE_NAMES)


def current_version(root: Path) -> str | None:
    try:
        return (root / CURRENT).read_text().strip() or None
    except FileNotFoundError:
        return None


def entries(root: Path) -> list[Entry]:
    """Every version in the registry, oldest first (by the card's creation time)."""
    current = current_version(root)
    found = []
    for card_path in sorted(root.glob("*/card.json")):
        if card_path.parent.name.startswith("."):
            continue
        card = json.loads(card_path.read_text())
        found.append(Entry(card_path.parent.name, card_path.parent.name == current, card))
    return sorted(found, key=lambda e: (str(e.card.get("created_at", "")), e.version))


def check(root: Path, version: str, force: bool = False) -> Model:
    """``version`` loaded, if it is in the registry and live-ready (or ``force``)."""
    directory = root / version
    if version.startswith(".") or "/" in version or not (directory / "card.json").is_file():
        raise RegistryError(f"no model {version!r} in {root}")
    card = json.loads((directory / "card.json").read_text())
    if not live_ready(card) and not force:
        extra = sorted(set(card["feature_names"]) - set(LIVE_FEATURE_NAMES))
        raise RegistryError(f"{version} reads features the live agent does not compute: {extra}")
    from xgboost.core import XGBoostError

    try:
        return Model.load(directory)  # refuse a broken artifact before any agent tries it
    except (OSError, KeyError, ValueError, XGBoostError) as exc:
        raise RegistryError(f"{version} does not load: {exc}") from exc


def write_current(root: Path, version: str) -> None:
    pointer = root / f".{CURRENT}.tmp"
    pointer.write_text(version)
    pointer.replace(root / CURRENT)  # atomic: a reader sees the old or the new version


def promote(root: Path, version: str, force: bool = False) -> Model:
    """Make ``version`` current in the folder after ``check`` (no announcement)."""
    model = check(root, version, force)
    write_current(root, version)
    return model


def ensure_new(root: Path, version: str) -> None:
    """Refuse a version the registry already holds (versions are never overwritten)."""
    if (root / version).exists():
        raise RegistryError(f"model {version!r} already exists in {root}")


def save(
    root: Path, booster: xgb.Booster, version: str, card: Mapping[str, Any], make_current: bool
) -> Path:
    """Write an artifact with ``publish``; unless ``make_current``, ``CURRENT`` is untouched."""
    ensure_new(root, version)
    if make_current:
        return publish(root, booster, version, card)
    # publish() always moves its folder's CURRENT: let it move a staging folder's, then
    # rename the finished artifact into the registry in one step.
    staging = root / STAGING
    built = publish(staging, booster, version, card)
    target = root / version
    built.rename(target)
    (staging / CURRENT).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # another run may be staging beside us
        staging.rmdir()
    return target
