"""The champion and challenger a worker scores with, as the compacted models topic announces them.

``sentinel models promote|challenge`` announce a registry version per role (key ``champion``
or ``challenger``; a tombstone clears the role). Every worker follows the topic whole in a
background thread (``schemas.follower.TopicFollower``, like the rules) that hands each record
to ``ModelBook.apply``: it loads the announced artifact from the shared registry folder in
that thread, off the hot path, and then replaces its ``LiveModels`` in one reference
assignment: the pipeline reads it once per micro-batch, so a swap lands between two batches
and never inside one. The decision thresholds travel with the champion: its card's chosen
ones, unless ``SENTINEL_AGENTS_REVIEW_AT``/``_DECLINE_AT`` override them (``thresholds``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from decision_core.observer import SILENT, Observer
from decision_core.scoring import LiveModels, Model
from decision_core.thresholds import NO_OVERRIDES, ThresholdOverrides, select_thresholds
from schemas.codec import decode_model_announcement
from schemas.topics import MODEL_ROLES

log = logging.getLogger("decision_core.models")
CHAMPION, CHALLENGER = MODEL_ROLES


class ModelBook:
    """The announced roles and their loaded models; each change publishes a new LiveModels.

    ``apply`` runs in the follower thread; ``live`` is what the pipeline reads per batch.
    A model that fails to load leaves its role as it was (logged, reported to ``observer``:
    the agents count it in ``sentinel_agent_model_load_failures_total``) and is remembered
    in ``failed``.
    """

    def __init__(
        self,
        root: Path | None,
        overrides: ThresholdOverrides = NO_OVERRIDES,
        loader: Callable[[Path], Model] = Model.load,
        observer: Observer = SILENT,
    ) -> None:
        self.root = root
        self.overrides = overrides
        self.loader = loader
        self.observer = observer
        self.announced: dict[str, str] = {}  # role -> version
        self.failed: dict[str, str] = {}  # role -> why its latest announcement is not live
        thresholds, _source = select_thresholds(None, overrides)
        self._live = LiveModels(thresholds=thresholds)

    def live(self) -> LiveModels:
        return self._live

    def apply(self, _role: str, key: bytes | None, value: bytes | None) -> None:
        """Apply one record of the models topic (a None value clears its role)."""
        role = (key or b"").decode()
        if role not in MODEL_ROLES:
            raise ValueError(f"unknown model role {role!r}, expected one of {MODEL_ROLES}")
        version = None if value is None else decode_model_announcement(value).version
        self.set(role, version)

    def set(self, role: str, version: str | None) -> None:
        """Put ``version`` in ``role`` (None: empty it) and swap the live set once loaded."""
        current = self._live
        models = {CHAMPION: current.champion, CHALLENGER: current.challenger}
        if version is not None:
            self.announced[role] = version
            model = self._load(role, version, models)
            if model is None:
                return
            models[role] = model
        else:
            self.announced.pop(role, None)
            models[role] = None
        self.failed.pop(role, None)
        champion = models[CHAMPION]
        thresholds, source = select_thresholds(champion.card if champion else None, self.overrides)
        # One reference assignment: the next micro-batch sees all of it, none sees a part.
        self._live = LiveModels(champion, models[CHALLENGER], thresholds)
        self.observer.model_swapped(role)
        log.info(
            "%s is now %s; thresholds review %g, decline %g (%s)",
            role, version or "none", thresholds.review_at, thresholds.decline_at, source,
        )  # fmt: skip

    def _load(self, role: str, version: str, models: Mapping[str, Model | None]) -> Model | None:
        # A model already loaded in another role (a challenger promoted) is reused as it is.
        for model in models.values():
            if model is not None and model.version == version:
                return model
        try:
            if self.root is None:
                raise FileNotFoundError("no model registry folder (SENTINEL_AGENTS_MODEL_REGISTRY)")
            if version.startswith(".") or "/" in version:
                raise ValueError(f"not a registry version name: {version!r}")
            return self.loader(self.root / version)
        except Exception as exc:  # whatever breaks the artifact, the role stays as it was
            self.failed[role] = f"{version}: {type(exc).__name__}: {exc}"
            self.observer.model_load_failed(role)
            log.error("cannot load %s %s; keeping the previous one: %s", role, version, exc)
            return None


def shadow_scores(
    challenger: Model | None, rows: Sequence[Mapping[str, float]], observer: Observer = SILENT
) -> list[float | None]:
    """The challenger's probabilities for a batch, one call; None for each row when there is
    no challenger or it fails: a shadow model must never stop or change a decision."""
    if challenger is None:
        return [None] * len(rows)
    try:
        return list(challenger.probabilities(rows))
    except Exception as exc:  # whatever the challenger does, the champion's batch goes on
        observer.challenger_failed()
        log.warning("challenger %s could not score a batch: %s", challenger.version, exc)
        return [None] * len(rows)
