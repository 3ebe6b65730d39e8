"""The analyst console's users and its append-only audit trail (issue 17, ADR 0006).

Revision ID: 20261205_0300
Revises: 20261205_0200
Created: 2026-12-05

- ``console_users``: one row per person who signs in to the console, with a role
  (viewer < analyst < admin), an argon2id hash (``console/passwords.py``; never the
  password) and a ``disabled`` flag. Rows are never deleted: a user who leaves is disabled,
  so the audit trail keeps naming someone who existed.
- ``console_audit``: who did what to which target, when, with a JSON detail. Append-only
  like the ledger (``refuse_mutation``, SQLSTATE 42501 on UPDATE, DELETE or TRUNCATE).

A new NOLOGIN group ``sentinel_console`` (created here when missing, as 20261205_0100 does
for the others) reads what the console shows and writes only its own two tables.
"""

from __future__ import annotations

from alembic import op

revision = "20261205_0300"
down_revision: str | None = "20261205_0200"
branch_labels = None
depends_on = None

GROUP = "sentinel_console"


def _create_group() -> None:
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{GROUP}') THEN
                CREATE ROLE {GROUP} NOLOGIN;
            END IF;
        EXCEPTION
            WHEN duplicate_object THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role {GROUP} does not exist and % may not create it',
                    current_user
                    USING HINT = 'Create it as a superuser first, or give the migration '
                                 'role CREATEROLE.';
        END;
        $$;
        """
    )


def upgrade() -> None:
    op.execute(
        """
        CREATE TYPE console_role AS ENUM ('viewer', 'analyst', 'admin');
        CREATE TABLE console_users (
            user_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            username      text NOT NULL
                          CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
            role          console_role NOT NULL,
            password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
            disabled      boolean NOT NULL DEFAULT false,
            created_at    timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT console_users_username_unique UNIQUE (username)
        );
        COMMENT ON TABLE console_users IS
            'People who sign in to the analyst console; disabled, never deleted.';

        CREATE TABLE console_audit (
            audit_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            actor     text NOT NULL,
            action    text NOT NULL,
            target    text,
            at        timestamptz NOT NULL DEFAULT now(),
            detail    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object')
        );
        CREATE INDEX console_audit_recent ON console_audit (at DESC);
        CREATE INDEX console_audit_actor ON console_audit (actor, at DESC);
        COMMENT ON TABLE console_audit IS
            'Every console action (sign-ins and their failures included), append-only.';
        COMMENT ON COLUMN console_audit.actor IS
            'The console user, or for a failed sign-in the name that was presented.';

        CREATE TRIGGER console_audit_append_only
            BEFORE UPDATE OR DELETE ON console_audit
            FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
        CREATE TRIGGER console_audit_no_truncate
            BEFORE TRUNCATE ON console_audit
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();
        """
    )
    _create_group()
    op.execute(
        f"""
        GRANT USAGE ON SCHEMA public, analytics TO {GROUP};
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO {GROUP};
        -- UPDATE only for the disabled flag and a password change; never DELETE.
        GRANT INSERT, UPDATE ON TABLE console_users TO {GROUP};
        GRANT INSERT ON TABLE console_audit TO {GROUP};
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
