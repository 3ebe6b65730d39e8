"""The ledger sink's errors, under one root, and the SQLSTATEs its schema raises on purpose."""

from __future__ import annotations


class LedgerSinkError(Exception):
    """Root of every error the ledger sink raises."""


class MigrationError(LedgerSinkError):
    """The schema could not be read or brought to the requested revision."""


class CanonicalEncodingError(LedgerSinkError, ValueError):
    """A ledger entry holds a value with no canonical encoding (or that storage would alter)."""


# Raised by the triggers of the append-only tables (ledger_entries, rule_versions, rule_audit)
# on UPDATE, DELETE and TRUNCATE: insufficient_privilege, psycopg.errors.InsufficientPrivilege.
# It is the code a REVOKE would give too, so callers need not care which layer refused.
IMMUTABLE_ROW_SQLSTATE = "42501"
# Raised when an inserted ledger entry does not extend its account's chain (a gap in seq, or a
# prev_hash that is not the previous entry's hash): integrity_constraint_violation.
BROKEN_CHAIN_SQLSTATE = "23000"


class Unwritable(LedgerSinkError):
    """A decision that decodes but can never be written: dead-lettered with `code`, not retried."""

    code = "unwritable"


class InconsistentDecision(Unwritable):
    """The decision contradicts its embedded transaction or its own id (decision_id_for)."""

    code = "inconsistent_decision"


class CurrencyMismatch(Unwritable):
    """An approved transaction in another currency than its account's ledger (no FX here)."""

    code = "currency_mismatch"


class BalanceOutOfRange(Unwritable):
    """An approved amount that would take its account's balance past numeric(38, 4)."""

    code = "balance_out_of_range"


class KafkaUnavailable(LedgerSinkError):
    """The broker did not acknowledge a produce or a commit in time: transient, retried."""


class InvalidSubscription(LedgerSinkError, ValueError):
    """A webhook subscription's URL, secret or event types are not acceptable."""


class ConflictingDuplicate(Unwritable):
    """A transaction id already in the ledger (or earlier in the batch) with other content:
    a reused id, not a redelivery (``schemas.fingerprint``)."""

    code = "conflicting_duplicate"
