"""The decline circuit breaker: trips over the cap, degrades to REVIEW, recovers by itself."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rule_engine import (
    BreakerConfig,
    DeclineBreaker,
    Firing,
    RuleAction,
    RuleVerdict,
)
from schemas.enums import Outcome

DECLINE = RuleAction(Outcome.DECLINE)


def verdict(*rule_ids: str, review: tuple[str, ...] = ()) -> RuleVerdict:
    fired = [Firing(r, 1, DECLINE, 0) for r in rule_ids]
    fired += [Firing(r, 1, RuleAction(Outcome.REVIEW), 0) for r in review]
    return RuleVerdict.of(tuple(fired))


def test_a_rule_over_its_share_is_degraded_until_it_falls_back() -> None:
    breaker = DeclineBreaker(BreakerConfig(max_share=0.2, min_volume=10, window_events=10))
    outcomes = []
    for i in range(10):  # 2 of 10 declined: exactly the cap, not over it
        outcomes.append(breaker.apply(verdict("hot") if i in (3, 7) else verdict(), now=i).outcome)
    assert outcomes.count(Outcome.DECLINE) == 2 and not breaker.state("hot").tripped
    third = breaker.apply(verdict("hot"), now=10)  # window: 3 of 10 declines -> tripped
    assert third.outcome is Outcome.REVIEW and third.degraded == ("hot",)
    assert [h.action for h in third.hits()] == ["DECLINE->REVIEW"]
    state = breaker.state("hot")
    assert (state.declines, state.volume, state.tripped, state.trips) == (3, 10, True, 1)
    assert state.share == pytest.approx(0.3)
    for i in range(11, 18):  # quiet traffic: the early declines slide out of the window
        breaker.apply(verdict(), now=i)
    assert not breaker.state("hot").tripped
    assert breaker.apply(verdict("hot"), now=18).outcome is Outcome.DECLINE


def test_degraded_declines_still_count_so_the_breaker_does_not_flap() -> None:
    breaker = DeclineBreaker(BreakerConfig(max_share=0.5, min_volume=4, window_events=4))
    results = [breaker.apply(verdict("always"), now=i) for i in range(20)]
    assert [r.outcome for r in results[:3]] == [Outcome.DECLINE] * 3  # under min_volume
    assert all(r.outcome is Outcome.REVIEW for r in results[3:])
    assert breaker.state("always").trips == 1


def test_nothing_trips_below_the_minimum_volume() -> None:
    breaker = DeclineBreaker(BreakerConfig(max_share=0.01, min_volume=50, window_events=1000))
    assert all(breaker.apply(verdict("r"), now=i).outcome is Outcome.DECLINE for i in range(49))
    assert breaker.apply(verdict("r"), now=49).outcome is Outcome.REVIEW


def test_only_the_tripped_rule_is_degraded() -> None:
    breaker = DeclineBreaker(BreakerConfig(max_share=0.3, min_volume=1, window_events=10))
    for i in range(5):
        breaker.apply(verdict("noisy"), now=i)
    both = breaker.apply(verdict("noisy", "rare", review=("soft",)), now=5)
    assert both.outcome is Outcome.DECLINE  # "rare" still declines
    assert both.degraded == ("noisy",)
    assert {f.rule_id: f.outcome for f in both.fired} == {
        "noisy": Outcome.REVIEW,
        "rare": Outcome.DECLINE,
        "soft": Outcome.REVIEW,
    }


def test_a_window_in_seconds_forgets_by_the_clock() -> None:
    breaker = DeclineBreaker(
        BreakerConfig(max_share=0.5, min_volume=2, window_events=None, window_seconds=60.0)
    )
    breaker.apply(verdict("r"), now=0.0)
    assert breaker.apply(verdict("r"), now=1.0).outcome is Outcome.REVIEW
    assert breaker.volume == 2
    for t in (30.0, 40.0, 50.0):
        breaker.apply(verdict(), now=t)
    assert breaker.state("r").share == pytest.approx(2 / 5)
    assert not breaker.state("r").tripped
    breaker.apply(verdict(), now=60.5)  # t=0 is out: window (0.5, 60.5]
    assert (breaker.state("r").declines, breaker.volume) == (1, 5)
    assert set(breaker.states()) == {"r"}


@pytest.mark.parametrize(
    "fields",
    [
        {"window_events": None},
        {"window_events": 10, "window_seconds": 5.0},
        {"max_share": 0.0},
        {"max_share": 1.5},
        {"min_volume": 0},
        {"window_events": 0},
    ],
)
def test_bad_configurations_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        BreakerConfig(**fields)  # type: ignore[arg-type]


@given(st.lists(st.booleans(), min_size=1, max_size=300), st.integers(1, 50))
def test_a_rule_is_degraded_exactly_when_its_window_share_exceeds_the_cap(
    fires: list[bool], window: int
) -> None:
    config = BreakerConfig(max_share=0.25, min_volume=5, window_events=window)
    breaker = DeclineBreaker(config)
    for i, fired in enumerate(fires):
        result = breaker.apply(verdict("r") if fired else verdict(), now=i)
        recent = fires[max(0, i + 1 - window) : i + 1]
        over = len(recent) >= 5 and sum(recent) > 0.25 * len(recent)
        assert result.degraded == (("r",) if fired and over else ())
