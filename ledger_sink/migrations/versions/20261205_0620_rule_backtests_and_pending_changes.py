"""The console's rule backtests and maker-checker pending changes (issue 17, ADR 0006).

Revision ID: 20261205_0620
Revises: 20261205_0610
Created: 2026-12-05

- ``rule_backtests``: one row per backtest an analyst started from the Rules pages: the
  candidate (a draft or a saved version, as the rule spec that was replayed), the range,
  who, when, its status and progress, and the replay's report as JSON. The console's
  worker process updates its own row (progress, status, result), so the console role gets
  UPDATE on it; rows are kept, never deleted.
- ``rule_changes_pending``: with ``SENTINEL_CONSOLE_MAKER_CHECKER`` on, a rule change made
  in the console waits here until a second analyst approves it (then it is published
  through ``reference_store.rules_repo`` like any other change) or rejects it with a note.
  ``base_version`` is the version the maker saw (NULL for a new rule): approval is refused
  when the rule has moved on. A row changes state once (pending to approved or rejected);
  the CHECK constraints hold the decider's columns to the state, and refuse an approval
  by the maker even to a bug in the console.
"""

from __future__ import annotations

from alembic import op

revision = "20261205_0620"
down_revision: str | None = "20261205_0610"
branch_labels = None
depends_on = None

GROUP = "sentinel_console"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE rule_backtests (
            backtest_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            rule_id        uuid,            -- NULL: the draft of a rule not saved yet
            rule_version   integer,         -- NULL: a draft, not a saved version
            candidate      jsonb NOT NULL CHECK (jsonb_typeof(candidate) = 'object'),
            since          timestamptz NOT NULL,
            until          timestamptz NOT NULL,
            requested_by   text NOT NULL,
            requested_at   timestamptz NOT NULL DEFAULT now(),
            started_at     timestamptz,
            finished_at    timestamptz,
            deadline       timestamptz NOT NULL,
            status         text NOT NULL DEFAULT 'queued' CHECK (status IN
                           ('queued', 'running', 'done', 'failed', 'timed_out', 'cancelled')),
            progress_read  bigint NOT NULL DEFAULT 0,
            progress_total bigint,
            error          text,
            result         jsonb,
            CHECK (since < until)
        );
        CREATE INDEX rule_backtests_by_rule ON rule_backtests (rule_id, backtest_id DESC);
        COMMENT ON TABLE rule_backtests IS
            'Backtests of a rule candidate through the replay engine, started in the console.';

        CREATE TABLE rule_changes_pending (
            change_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            rule_id       uuid NOT NULL,    -- drawn when a new rule is proposed
            kind          text NOT NULL CHECK (kind IN ('create', 'update', 'mode')),
            base_version  integer,          -- the version the maker saw; NULL for create
            changes       jsonb NOT NULL CHECK (jsonb_typeof(changes) = 'object'),
            audit_action  text NOT NULL,
            made_by       text NOT NULL,
            made_at       timestamptz NOT NULL DEFAULT now(),
            status        text NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'approved', 'rejected')),
            decided_by    text,
            decided_at    timestamptz,
            note          text NOT NULL DEFAULT '',
            published_version integer,
            CHECK ((kind = 'create') = (base_version IS NULL)),
            CHECK ((status = 'pending') = (decided_by IS NULL)),
            -- The maker never approves their own change (they may withdraw it: reject).
            CHECK (status <> 'approved' OR decided_by <> made_by),
            CHECK ((status = 'approved') = (published_version IS NOT NULL))
        );
        CREATE INDEX rule_changes_open ON rule_changes_pending (made_at)
            WHERE status = 'pending';
        COMMENT ON TABLE rule_changes_pending IS
            'Maker-checker: console rule changes waiting for a second analyst.';
        """
    )
    op.execute(
        f"""
        GRANT INSERT, UPDATE ON TABLE rule_backtests, rule_changes_pending TO {GROUP};
        GRANT SELECT ON TABLE rule_backtests, rule_changes_pending TO {GROUP};
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
