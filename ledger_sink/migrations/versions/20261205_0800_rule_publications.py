"""The rules outbox: which rule versions the relay has put on the ``rules`` topic.

Revision ID: 20261205_0800
Revises: 20261205_0700
Created: 2026-12-05

The API, the console and `sentinel rules load` commit a rule's new version to PostgreSQL
only; `sentinel rules relay` (``reference_store/relay``) publishes committed versions to the
compacted ``rules`` topic, so its Kafka principal is the only one that writes there (issue
19, docs/rules.md "From a save to the agents").

- ``rule_publications``: one row per rule version the relay published, written after Kafka
  acknowledged it. Append-only (``refuse_mutation``, SQLSTATE 42501), like the versions
  themselves, which stay immutable. A rule's newest row is its watermark: the relay
  publishes a rule only when it has a version above it, and then only its newest one, so a
  version superseded before it was published is never published (and never lands on the
  topic after the version that superseded it).
- ``rule_versions_committed``: an AFTER INSERT trigger that NOTIFYs channel
  ``rule_versions`` with ``<rule_id>:<version>``. PostgreSQL delivers a notification only
  when the inserting transaction commits, so the relay wakes for committed versions only; a
  missed one (the relay was reconnecting) waits for its periodic sweep.
- ``sentinel_rules_relay``: a NOLOGIN group (created here when missing, as 20261205_0100
  does for the others) that reads the versions and appends publications, nothing else.
  ``sentinel_reader`` reads the new table as it reads every other one.
"""

from __future__ import annotations

from alembic import op

revision = "20261205_0800"
down_revision: str | None = "20261205_0700"
branch_labels = None
depends_on = None

GROUP = "sentinel_rules_relay"


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
                    USING HINT = 'Run `sentinel db roles` as a superuser first, or give '
                                 'the migration role CREATEROLE.';
        END;
        $$;
        """
    )


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE rule_publications (
            rule_id      uuid NOT NULL,
            version      integer NOT NULL,
            published_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (rule_id, version),
            FOREIGN KEY (rule_id, version) REFERENCES rule_versions (rule_id, version)
        );
        COMMENT ON TABLE rule_publications IS
            'Append-only: the rule versions `sentinel rules relay` put on the rules topic '
            '(after Kafka acknowledged them); a rule''s newest row is its watermark.';
        CREATE TRIGGER rule_publications_append_only
            BEFORE UPDATE OR DELETE ON rule_publications
            FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
        CREATE TRIGGER rule_publications_no_truncate
            BEFORE TRUNCATE ON rule_publications
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();
        """
    )
    op.execute(
        """
        CREATE FUNCTION rule_versions_notify() RETURNS trigger
        LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
        BEGIN
            PERFORM pg_notify('rule_versions', NEW.rule_id::text || ':' || NEW.version);
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER rule_versions_committed
            AFTER INSERT ON rule_versions
            FOR EACH ROW EXECUTE FUNCTION rule_versions_notify();
        """
    )
    _create_group()
    op.execute(
        f"""
        GRANT USAGE ON SCHEMA public TO {GROUP};
        GRANT SELECT ON TABLE rule_versions TO {GROUP};
        GRANT SELECT, INSERT ON TABLE rule_publications TO {GROUP};
        GRANT SELECT ON TABLE rule_publications TO sentinel_reader;
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
