"""What makes a transaction decidable: one definition for the HTTP edge and the Kafka path.

The API refuses a bad transaction with a ``422`` naming the field; the agent dead-letters
the same transaction when a gateway produces it straight to Kafka. Both call these
checks, so the two paths cannot drift apart: a positive amount with no more decimals than
its ISO 4217 currency allows (``JPY 1.5`` is not money), an ISO 3166-1 alpha-2 country,
no card number in ``card_token``, and an event time inside a window around a reference.
Plus what the ledger's columns refuse (``ledger_problem``: id lengths, the MCC's shape,
finite coordinates in range): the API's own schema is stricter, and a record produced
straight to Kafka is dead-lettered by the agent before any decision goes out, rather than
approved and then refused by the sink (issue 18, item 9).

The reference time differs by path, never the window. The API's is its clock at receipt.
The agent's is the Kafka record's timestamp (when the producer sent it, or when the broker
appended it): not the processing clock, so a replay of a months-old topic keeps every
record the live run kept, while a record stamped hours after it was sent (which would
hold an account's velocity windows frozen until its time came) is dead-lettered.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import Final

import iso4217
import pycountry

from schemas.pan import contains_pan
from schemas.records import Transaction

CURRENCY_EXPONENT: Final[dict[str, int]] = {
    c.code: c.exponent for c in iso4217.Currency if c.exponent is not None
}
COUNTRIES: Final[frozenset[str]] = frozenset(c.alpha_2 for c in pycountry.countries)
# The ledger's external_id domain and column checks (ledger_sink/migrations, 0100).
EXTERNAL_ID_MAX: Final = 256
_MCC: Final = re.compile(r"[0-9]{4}")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """How far an event time may lie after (clock skew) and before its reference time."""

    max_future_skew_s: int = 300
    max_age_days: int = 90


DEFAULT_WINDOW: Final = TimeWindow()


def currency_problem(code: str) -> str | None:
    if code not in CURRENCY_EXPONENT:
        return f"{code} is not an ISO 4217 currency code"
    return None


def country_problem(code: str) -> str | None:
    if code not in COUNTRIES:
        return f"{code} is not an ISO 3166-1 alpha-2 country code"
    return None


def amount_problem(amount: Decimal, currency: str) -> str | None:
    """A non-positive amount, or more decimals than the currency's minor units."""
    if not amount.is_finite() or amount <= 0:
        return "amount must be greater than zero"
    exponent = CURRENCY_EXPONENT.get(currency)
    decimals = -int(amount.normalize().as_tuple().exponent)
    if exponent is not None and decimals > exponent:
        return f"amount has {decimals} decimals; {currency} allows {exponent}"
    return None


def card_token_problem(token: str) -> str | None:
    if contains_pan(token):
        return "looks like a card number (PAN); send a token instead"
    return None


def free_text_problem(tx: Transaction) -> str | None:
    """The first text field other than ``card_token`` that holds a card number (by name)."""
    values = _FREE_TEXT(tx)
    # One scan of them all first (every transaction pays it), each field only when it
    # finds one: a line break is neither a digit nor a letter nor part of a UUID, so the
    # joined text holds every PAN word of the fields and none made of two.
    if not contains_pan("\n".join(v for v in values if isinstance(v, str))):
        return None
    for name, value in zip(_FREE_TEXT_NAMES, values, strict=True):
        if isinstance(value, str) and contains_pan(value):
            return f"{name} holds a card number (PAN); card numbers are never stored"
    return None  # pragma: no cover - the scan above found one


_FREE_TEXT_NAMES: Final = tuple(f.name for f in fields(Transaction) if f.name != "card_token")
_FREE_TEXT: Final = attrgetter(*_FREE_TEXT_NAMES)


def external_id_problem(value: str) -> str | None:
    """Why ``value`` is no id the ledger can hold (its ``external_id`` domain), or None.

    Any text of 1 to ``EXTERNAL_ID_MAX`` characters that PostgreSQL stores: no NUL, valid
    UTF-8 (no lone surrogate). Ids are not held to the API's shape: records produced
    straight to Kafka carry others. Client input naming an id (a search, a cursor) is
    checked with this before it reaches a query.
    """
    if not 1 <= len(value) <= EXTERNAL_ID_MAX:
        return f"must be 1 to {EXTERNAL_ID_MAX} characters"
    if "\x00" in value:
        return "must not contain a NUL character"
    try:
        value.encode()
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    return None


def account_id_problem(account_id: str) -> str | None:
    """An account id with a control character: it would reach the features' table keys
    (``stream_agents.checkpoint`` keeps internal keys apart by that rule)."""
    return None if account_id.isprintable() else "must not contain control characters"


def ledger_problem(tx: Transaction) -> str | None:
    """What the ledger's ``transactions`` columns would refuse, naming the field, or None."""
    for name in ("transaction_id", "account_id", "merchant_id"):
        problem = external_id_problem(getattr(tx, name))
        if problem is not None:
            return f"{name} {problem}"
    if tx.mcc is not None and not _MCC.fullmatch(tx.mcc):
        return "mcc must be four digits"
    for name, bound in (("lat", 90), ("lon", 180)):
        value = getattr(tx, name)
        if value is not None and not (math.isfinite(value) and -bound <= value <= bound):
            return f"{name} must be a number from -{bound} to {bound}"
    return None


def time_problem(
    event_time: datetime, reference: datetime, window: TimeWindow = DEFAULT_WINDOW
) -> str | None:
    """An event time after ``reference`` by more than the skew, or older than the window."""
    if event_time > reference + timedelta(seconds=window.max_future_skew_s):
        return "is in the future beyond the allowed clock skew"
    if event_time < reference - timedelta(days=window.max_age_days):
        return f"is older than {window.max_age_days} days"
    return None


def transaction_problem(
    tx: Transaction, reference: datetime | None, window: TimeWindow = DEFAULT_WINDOW
) -> str | None:
    """Why ``tx`` cannot be decided, naming the field, or None. ``reference``: the time
    the event time is bounded by (None: unknown, the time window is not checked)."""
    amount = amount_problem(tx.amount, tx.currency)  # its messages name the amount
    if amount is not None:
        return amount
    checks = (
        ("currency", currency_problem(tx.currency)),
        ("country", country_problem(tx.country)),
        ("card_token", card_token_problem(tx.card_token)),
        ("", free_text_problem(tx)),
        ("account_id", account_id_problem(tx.account_id)),
        ("", ledger_problem(tx)),
        ("timestamp", None if reference is None else time_problem(tx.timestamp, reference, window)),
    )
    found = ((name, problem) for name, problem in checks if problem is not None)
    return next((f"{name} {problem}".lstrip() for name, problem in found), None)


def format_character_problem(value: str) -> str | None:
    """Unicode format characters (category Cf: bidi overrides and isolates, zero-width
    spaces and joiners, soft hyphens) make text display unlike what it holds (a rule name
    that reads backwards, a city that looks like another), in the console, in logs and in
    an analyst's spreadsheet: the first one's position, or None."""
    if value.isascii():
        return None  # the common case: no ASCII character is a format character
    for index, char in enumerate(value):
        if unicodedata.category(char) == "Cf":
            return f"contains the invisible format character U+{ord(char):04X} at index {index}"
    return None


def list_value_problem(value: str) -> str | None:
    """Why ``value`` cannot be a member of a named list (``/v1/lists``' rule: 1 to 256
    printable characters, no control or format character; and, as everywhere, no card
    number: a cards list holds card tokens), or None."""
    if not 1 <= len(value) <= EXTERNAL_ID_MAX:
        return f"must be 1 to {EXTERNAL_ID_MAX} characters"
    if _CONTROL.search(value):
        return "must not contain a control character"
    if contains_pan(value):
        return "looks like a card number; lists hold card tokens, never card numbers"
    return format_character_problem(value)
