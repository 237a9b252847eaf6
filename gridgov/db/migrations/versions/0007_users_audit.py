"""Accounts and the audit log.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28

users: viewer / planner / admin, with a scrypt password hash and/or the hash of an API key.
audit_log: one row per written row of the accountable tables (who, when, what, before, after),
written by a trigger, so no code path can forget it. The actor is the transaction's
``gridgov.actor`` setting (the service sets it from the signed-in user; the CLI from the OS
user), else the database role.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

AUDITED = ("assignments", "practice_sites", "party_orgs", "compounds", "members", "users")

SETUP = r"""
CREATE TABLE users (
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT,
    api_key_hash TEXT,
    disabled BOOLEAN DEFAULT false NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT pk_users PRIMARY KEY (username),
    CONSTRAINT ck_users_role CHECK (role IN ('viewer', 'planner', 'admin')),
    CONSTRAINT uq_users_api_key_hash UNIQUE (api_key_hash)
);

CREATE TABLE audit_log (
    id BIGSERIAL NOT NULL,
    at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    table_name TEXT NOT NULL,
    record_key TEXT NOT NULL,
    before JSONB,
    after JSONB,
    CONSTRAINT pk_audit_log PRIMARY KEY (id)
);
CREATE INDEX ix_audit_log_record ON audit_log (table_name, record_key);
CREATE INDEX ix_audit_log_actor ON audit_log (actor, at);

CREATE OR REPLACE FUNCTION gridgov_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
    row_key text;
BEGIN
    -- secrets never reach the log
    old_row := old_row - 'password_hash' - 'api_key_hash';
    new_row := new_row - 'password_hash' - 'api_key_hash';
    -- geometry as GeoJSON text is what a person can read; jsonb would hold hex EWKB
    IF old_row ? 'geom' THEN old_row := jsonb_set(old_row, '{geom}', to_jsonb(ST_AsText(OLD.geom))); END IF;
    IF new_row ? 'geom' THEN new_row := jsonb_set(new_row, '{geom}', to_jsonb(ST_AsText(NEW.geom))); END IF;
    row_key := coalesce(new_row, old_row) ->> TG_ARGV[0];
    INSERT INTO audit_log (actor, action, table_name, record_key, before, after)
    VALUES (coalesce(nullif(current_setting('gridgov.actor', true), ''), session_user),
            TG_OP, TG_TABLE_NAME, row_key, old_row, new_row);
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.execute(SETUP)
    for table in AUDITED:
        key = {"assignments": "id", "users": "username"}.get(table, "code")
        op.execute(f"CREATE TRIGGER trg_{table}_audit AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION gridgov_audit('{key}')")


def downgrade() -> None:
    for table in AUDITED:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_audit ON {table}")
    op.execute("DROP FUNCTION IF EXISTS gridgov_audit()")
    op.execute("DROP TABLE IF EXISTS audit_log")
    op.execute("DROP TABLE IF EXISTS users")
