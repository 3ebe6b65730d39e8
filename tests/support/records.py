"""Valid source records for tests: one builder instead of a copy in every test file."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from schemas.enums import Channel, RuleMode, TxType
from schemas.records import Rule, Transaction

AT = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def transaction(**changes: object) -> Transaction:
    """A valid card debit (a fresh id, ``acct-1``, 25.00 INR at a POS in India at ``AT``);
    ``changes`` replace any field."""
    fields: dict[str, object] = {
        "transaction_id": str(uuid.uuid4()),
        "account_id": "acct-1",
        "card_token": "tok_abcdefgh",
        "amount": Decimal("25.00"),
        "currency": "INR",
        "merchant_id": "m-1",
        "country": "IN",
        "channel": Channel.POS,
        "timestamp": AT,
        "type": TxType.DEBIT,
    }
    fields.update(changes)
    return Transaction(**fields)  # type: ignore[arg-type]


def rule(rule_id: str, expression: str, action: str = "REVIEW", **changes: object) -> Rule:
    """An active rule, version 1, as an analyst publishes it at ``AT``; ``changes`` replace
    any other field."""
    fields: dict[str, object] = {
        "rule_id": rule_id,
        "version": 1,
        "name": rule_id,
        "description": "",
        "expression": expression,
        "action": action,
        "priority": 10,
        "mode": RuleMode.ACTIVE,
        "author": "analyst@bank",
        "updated_at": AT,
    }
    fields.update(changes)
    return Rule(**fields)  # type: ignore[arg-type]
