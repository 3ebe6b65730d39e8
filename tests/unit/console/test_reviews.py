"""The review queue's pure parts: ageing against the SLA, the age as shown, the reason codes'
bars, and the resolution a case form submits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from console.reviews import Ageing, Verdict, age_text, ageing, contribution_bars, resolution_of
from schemas.enums import Outcome

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
SLA = timedelta(minutes=60)


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(0, Ageing.WITHIN), (44, Ageing.WITHIN), (45, Ageing.NEAR), (59, Ageing.NEAR),
     (60, Ageing.BREACHED), (600, Ageing.BREACHED)],
)  # fmt: skip
def test_a_case_nears_its_sla_at_three_quarters_and_breaches_it_at_the_end(
    minutes: int, expected: Ageing
) -> None:
    assert ageing(NOW - timedelta(minutes=minutes), NOW, SLA) is expected


@pytest.mark.parametrize(
    ("age", "text"),
    [(timedelta(seconds=45), "45 s"), (timedelta(minutes=12), "12 min"),
     (timedelta(hours=3, minutes=5), "3 h 05 min"), (timedelta(days=2, hours=4), "2 d 4 h"),
     (-timedelta(seconds=3), "0 s")],
)  # fmt: skip
def test_ages_read_as_a_queue_shows_them(age: timedelta, text: str) -> None:
    assert age_text(NOW - age, NOW) == text


def test_bars_grow_from_the_middle_towards_fraud_or_genuine_scaled_to_the_largest() -> None:
    bars = contribution_bars(
        [
            {"feature": "amount_zscore", "value": 3.1, "contribution": 0.2},
            {"feature": "merchant_risk", "value": 0.01, "contribution": -0.1},
            # A feature with no value (NaN to the model) is stored as null: still a reason.
            {"feature": "km_from_home", "value": None, "contribution": 0.05},
        ]
    )
    assert [(b.x, b.width) for b in bars] == [(150.0, 150.0), (75.0, 75.0), (150.0, 37.5)]
    assert [b.value for b in bars] == [3.1, 0.01, None]
    assert contribution_bars([]) == []


def test_the_form_submits_its_own_resolution_id_and_fraud_only_as_a_decline() -> None:
    case = {"transaction_id": "tx-1", "account_id": "acct-1", "decision_id": str(uuid.uuid4())}
    rid = str(uuid.uuid4())
    fraud = resolution_of(case, Verdict.FRAUD, "stolen card", "ana", rid, NOW)
    approve = resolution_of(case, Verdict.APPROVE, "", "ana", rid, NOW)
    assert (fraud.verdict, fraud.confirmed_fraud, fraud.resolution_id) == (
        Outcome.DECLINE,
        True,
        rid,
    )
    assert (approve.verdict, approve.confirmed_fraud) == (Outcome.APPROVE, False)
    with pytest.raises(ValueError):
        resolution_of(case, Verdict.DECLINE, "", "ana", "not-a-uuid", NOW)
