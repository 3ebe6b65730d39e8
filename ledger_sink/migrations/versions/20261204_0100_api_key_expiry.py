"""API keys may expire; ``last_used_at`` is now written (by the API, batched).

Revision ID: 20261204_0100
Revises: 20261130_0330
Created: 2026-12-04

A key with ``expires_at`` in the past is refused like a revoked one. ``last_used_at`` (in
the table since 20261130_0130, never written until now) lets operators find keys nobody
uses any more; the API writes it at most once a minute per key, so it is not a write per
request.
"""

from __future__ import annotations

from alembic import op

revision = "20261204_0100"
down_revision: str | None = "20261130_0330"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE api_keys
            ADD COLUMN expires_at timestamptz CONSTRAINT api_keys_expires_after_creation
                CHECK (expires_at > created_at);
        COMMENT ON COLUMN api_keys.expires_at IS
            'The key is refused from this time on; NULL: it never expires.';
        COMMENT ON COLUMN api_keys.last_used_at IS
            'Last successful authentication, written by the API at most once a minute per key.';
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
