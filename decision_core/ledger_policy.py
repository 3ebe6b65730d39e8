"""What the ledger would refuse or mis-book, decided before any decision goes out (issue 18).

The sink books what the agent decided, after the decision, its webhook event and any
``/authorize`` answer have left. Whatever the ledger cannot book must therefore be settled
here, from the account's state, so that the ledger, the webhook and ``/authorize`` agree:

- Currency: an account's ledger is kept in the currency of its first decided transaction
  (``ledger_sink.ledger``, which has no FX). The state remembers that currency; a
  transaction in another one is DECLINED with the reason code ``currency_mismatch`` (the
  ledger records a decline in another currency as moving nothing), instead of being
  approved here and dead-lettered at the sink.
- Conflicting duplicates: a transaction id the account's state remembers, arriving with
  different content, is not a redelivery but a reuse of the id. It is dead-lettered
  (``conflicting_duplicate``) and nothing is decided for it. The state keeps what the
  features need (time, amount, merchant, country, location), so that is what is compared
  here; the API and the agents' claims (every account within the window, every field, by
  content hash: ``schemas.transaction_claims``) and the sink (every account, every field)
  check the rest.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from decision_core.features import AccountWindows, FeatureEvent
from decision_core.features.view import micro_location
from decision_core.records import Judgement
from schemas.enums import Outcome
from schemas.records import ReasonCode

CONFLICTING_DUPLICATE: Final = "conflicting_duplicate"
# A policy reason, not a model contribution: value 1 (the mismatch holds), contribution 0.
CURRENCY_MISMATCH: Final = ReasonCode(feature="currency_mismatch", value=1.0, contribution=0.0)


def settle_currency(state: AccountWindows, currency: str) -> bool:
    """Whether ``currency`` is the account's; the first decided transaction sets it.

    A state written before the currency was kept learns it here too, from its next
    transaction (see docs/ledger.md for what that leaves to the sink).
    """
    if state.currency is None:
        state.currency = currency
        return True
    return state.currency == currency


def declined_for_currency(judgement: Judgement) -> Judgement:
    """The judgement with the outcome the ledger can book: DECLINE, the score kept."""
    return replace(judgement, outcome=Outcome.DECLINE)


def conflicting_fields(state: AccountWindows, event: FeatureEvent) -> tuple[str, ...]:
    """The fields in which ``event`` differs from the stored event of the same id.

    Empty when the id is not remembered (a new transaction) or the content is the same
    (a redelivery, which the features already score as of its first arrival).
    """
    row = state.index_of(event.event_id)
    if row is None:
        return ()
    stored = state.stored_event(row)
    pairs = {
        "timestamp": (stored.ts_ms, event.ts_ms),
        "amount": (stored.amount_minor, event.amount_minor),
        "merchant_id": (stored.merchant_id, event.merchant_id),
        "country": (stored.country, event.country),
        # Stored in microdegrees: compared as stored, not as the floats that came in.
        "location": ((state.lats[row], state.lons[row]), _micro(event)),
    }
    return tuple(name for name, (old, new) in pairs.items() if old != new)


def _micro(event: FeatureEvent) -> tuple[int | None, int | None]:
    return micro_location(event.lat, event.lon) or (None, None)
