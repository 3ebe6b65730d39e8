"""Rules with every version kept and audited, and the named lists rules refer to.

Revision ID: 20261130_0120
Revises: 20261130_0110
Created: 2026-11-30

A rule change writes a new row of rule_versions, never an update: rule_versions and
rule_audit refuse UPDATE, DELETE and TRUNCATE like the ledger (refuse_mutation, SQLSTATE
42501), and a new version must follow the rule's previous one (1, 2, 3 ... with no gap).
"""

from __future__ import annotations

from alembic import op

revision = "20261130_0120"
down_revision: str | None = "20261130_0110"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE rules (
            rule_id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            name       text NOT NULL CHECK (btrim(name) <> ''),
            created_at timestamptz NOT NULL DEFAULT now(),
            created_by text NOT NULL,
            CONSTRAINT rules_name_key UNIQUE (name)
        );
        COMMENT ON TABLE rules IS
            'One row per rule: its stable id and reserved name. Its content is in '
            'rule_versions; the current version is the highest one.';
        """
    )
    op.execute(
        """
        CREATE TABLE rule_versions (
            rule_id     uuid NOT NULL REFERENCES rules,
            version     integer NOT NULL CHECK (version >= 1),
            name        text NOT NULL CHECK (btrim(name) <> ''),
            description text NOT NULL DEFAULT '',
            expression  text NOT NULL CHECK (btrim(expression) <> ''),
            action      rule_action NOT NULL,
            score_delta double precision,
            priority    integer NOT NULL,
            mode        text NOT NULL CHECK (mode IN ('active', 'shadow', 'disabled')),
            author      text NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (rule_id, version),
            -- score_delta is the parsed adjustment of a SCORE action, and only of one.
            CONSTRAINT rule_versions_score_delta
                CHECK ((action LIKE 'SCORE%') = (score_delta IS NOT NULL))
        );
        COMMENT ON TABLE rule_versions IS
            'Immutable: every saved change of a rule is a new version (rule.avsc).';
        """
    )
    op.execute(
        """
        CREATE FUNCTION rule_versions_check_sequence() RETURNS trigger
        LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
        BEGIN
            IF NEW.version > 1 AND NOT EXISTS (
                SELECT 1 FROM rule_versions
                 WHERE rule_id = NEW.rule_id AND version = NEW.version - 1
            ) THEN
                RAISE EXCEPTION 'version % of rule % does not follow version %',
                    NEW.version, NEW.rule_id, NEW.version - 1
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER rule_versions_sequence
            BEFORE INSERT ON rule_versions
            FOR EACH ROW EXECUTE FUNCTION rule_versions_check_sequence();
        CREATE TRIGGER rule_versions_append_only
            BEFORE UPDATE OR DELETE ON rule_versions
            FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
        CREATE TRIGGER rule_versions_no_truncate
            BEFORE TRUNCATE ON rule_versions
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();
        """
    )
    # action is the kind of change (create, update, disable ...), named by the rules admin API;
    # diff is its JSON description (a patch array or an object of changed fields).
    op.execute(
        """
        CREATE TABLE rule_audit (
            id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            rule_id      uuid NOT NULL REFERENCES rules,
            from_version integer,
            to_version   integer NOT NULL,
            actor        text NOT NULL CHECK (btrim(actor) <> ''),
            action       text NOT NULL CHECK (action ~ '^[a-z][a-z_]*$'),
            at           timestamptz NOT NULL DEFAULT now(),
            diff         jsonb NOT NULL DEFAULT '{}',
            FOREIGN KEY (rule_id, to_version) REFERENCES rule_versions (rule_id, version),
            FOREIGN KEY (rule_id, from_version) REFERENCES rule_versions (rule_id, version),
            CHECK (from_version < to_version)
        );
        CREATE INDEX rule_audit_rule ON rule_audit (rule_id, at);
        CREATE TRIGGER rule_audit_append_only
            BEFORE UPDATE OR DELETE ON rule_audit
            FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
        CREATE TRIGGER rule_audit_no_truncate
            BEFORE TRUNCATE ON rule_audit
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();
        COMMENT ON TABLE rule_audit IS
            'Append-only: who changed which rule, when, from which version to which.';
        """
    )
    # list_name is how rules refer to a list (lists.blocked_merchants), hence identifier-shaped.
    op.execute(
        """
        CREATE TABLE lists (
            list_name   text PRIMARY KEY CHECK (list_name ~ '^[a-z][a-z0-9_]{0,62}$'),
            kind        text NOT NULL CHECK (kind IN (
                            'cards', 'accounts', 'merchants', 'countries', 'devices', 'ips'
                        )),
            description text NOT NULL DEFAULT '',
            created_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE list_items (
            list_name text NOT NULL REFERENCES lists ON DELETE CASCADE,
            value     text NOT NULL CHECK (value <> ''),
            added_at  timestamptz NOT NULL DEFAULT now(),
            added_by  text NOT NULL,
            PRIMARY KEY (list_name, value)
        );
        COMMENT ON TABLE lists IS 'Named allow/deny lists that rules can test membership of.';
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
