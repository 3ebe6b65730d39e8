"""The simulator's parameters (reference values of the published design) and scenario names."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

DAY_MS: Final = 86_400_000

# Scenario codes as stored per transaction (0 = genuine); names as written in labels.
# The first three are the published design's, applied in that order; the rest are ours.
SCENARIOS: Final[tuple[str, ...]] = (
    "genuine",
    "large_amount",
    "compromised_terminal",
    "compromised_card",
    "card_testing",
    "account_takeover",
    "impossible_travel",
)
LARGE_AMOUNT, COMPROMISED_TERMINAL, COMPROMISED_CARD = 1, 2, 3
CARD_TESTING, ACCOUNT_TAKEOVER, IMPOSSIBLE_TRAVEL = 4, 5, 6


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Sizes, seed and scenario rates; the defaults are the published reference size."""

    customers: int = 5_000
    terminals: int = 10_000
    days: int = 183
    seed: int = 0
    start: datetime = datetime(2018, 4, 1, tzinfo=UTC)
    radius: float = 5.0  # grid units on the 100 x 100 square
    # Reference scenarios 2 and 3: how many are compromised each day, and for how long.
    terminals_per_day: int = 2
    terminal_days: int = 28
    cards_per_day: int = 3
    card_days: int = 14
    # Extra scenarios, incidents per day (0 disables one).
    card_testing_per_day: int = 1
    takeovers_per_day: int = 1
    impossible_travel_per_day: int = 1
    # Fraud labels arrive this many days after the transaction (uniform). At most 7: the
    # training protocol's delay gap assumes every fraud older than a week is known.
    label_delay_days: tuple[float, float] = (0.5, 7.0)

    def __post_init__(self) -> None:
        if min(self.customers, self.terminals, self.days) < 1:
            raise ValueError("customers, terminals and days must be positive")
        if self.start.tzinfo is None or self.start.timestamp() % 86_400:
            raise ValueError("start must be an aware UTC midnight")
        low, high = self.label_delay_days
        if not 0 <= low <= high <= 7:
            raise ValueError("label delays must lie within [0, 7] days")

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp()) * 1000

    def reference_only(self) -> SimConfig:
        """The published design alone: no extra scenarios (for comparison with its results)."""
        return replace(
            self, card_testing_per_day=0, takeovers_per_day=0, impossible_travel_per_day=0
        )
