"""The enumerations of the contracts; their values are the Avro enum symbols, verbatim."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """Where the card was used."""

    POS = "POS"
    ECOM = "ECOM"
    ATM = "ATM"


class TxType(StrEnum):
    """Direction of the money movement."""

    DEBIT = "debit"
    CREDIT = "credit"
    REFUND = "refund"


class RuleMode(StrEnum):
    """Whether a rule decides (active), is only recorded (shadow), or is ignored (disabled)."""

    ACTIVE = "active"
    SHADOW = "shadow"
    DISABLED = "disabled"


class Outcome(StrEnum):
    """A decision outcome, ordered by strictness: APPROVE < REVIEW < DECLINE.

    StrEnum would otherwise compare alphabetically (APPROVE < DECLINE < REVIEW), so the
    comparisons are overridden, and comparing with a plain str is a TypeError rather than a
    silently alphabetical answer.
    """

    APPROVE = "APPROVE"
    REVIEW = "REVIEW"
    DECLINE = "DECLINE"

    @property
    def rank(self) -> int:
        """0 for APPROVE, 1 for REVIEW, 2 for DECLINE."""
        return _RANK[self]

    @classmethod
    def strictest(cls, *outcomes: Outcome) -> Outcome:
        """The strictest of `outcomes`; APPROVE (the least strict) when there are none."""
        return max(outcomes, key=_RANK.__getitem__, default=cls.APPROVE)

    def __lt__(self, other: object) -> bool:
        return self.rank < _rank_of(other)

    def __le__(self, other: object) -> bool:
        return self.rank <= _rank_of(other)

    def __gt__(self, other: object) -> bool:
        return self.rank > _rank_of(other)

    def __ge__(self, other: object) -> bool:
        return self.rank >= _rank_of(other)


_RANK: dict[Outcome, int] = {outcome: rank for rank, outcome in enumerate(Outcome)}


def _rank_of(other: object) -> int:
    if not isinstance(other, Outcome):
        raise TypeError(f"cannot order Outcome against {type(other).__name__}")
    return _RANK[other]


class LabelKind(StrEnum):
    """What a bank's system says of a transaction (POST /v1/labels, `sentinel labels import`).

    A label from the bank carries its kind as the label's ``scenario``, beside the
    simulator's pattern names and the console's ``analyst_review``. A chargeback here is a
    fraud-coded one: a dispute over goods never delivered is no fraud label.
    """

    CHARGEBACK = "chargeback"
    CONFIRMED_FRAUD = "confirmed_fraud"
    CONFIRMED_GENUINE = "confirmed_genuine"

    @property
    def is_fraud(self) -> bool:
        return self is not LabelKind.CONFIRMED_GENUINE
