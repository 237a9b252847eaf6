"""data_versions: a counter per table, bumped by every write, for ETags and screen refresh.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

Statement-level triggers cost one tiny upsert per write statement (not per row), and make "has
anything changed?" a single-row lookup: tiles and pages carry ETags built from these versions,
and the command-center map refreshes only when they move.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("counties", "townships", "divisions", "compounds", "grid_cells", "work_groups",
          "party_orgs", "members", "assignments", "practice_sites", "key_tasks", "key_task_units",
          "roads")

SETUP = r"""
CREATE TABLE data_versions (
    table_name TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    changed_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT pk_data_versions PRIMARY KEY (table_name)
);

CREATE OR REPLACE FUNCTION gridgov_bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_versions (table_name, version, changed_at)
    VALUES (TG_TABLE_NAME, 1, now())
    ON CONFLICT (table_name)
    DO UPDATE SET version = data_versions.version + 1, changed_at = now();
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.execute(SETUP)
    for table in TABLES:
        op.execute(f"INSERT INTO data_versions (table_name) VALUES ('{table}')")
        op.execute(f"CREATE TRIGGER trg_{table}_version AFTER INSERT OR UPDATE OR DELETE "
                   f"OR TRUNCATE ON {table} FOR EACH STATEMENT "
                   "EXECUTE FUNCTION gridgov_bump_version()")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_version ON {table}")
    op.execute("DROP FUNCTION IF EXISTS gridgov_bump_version()")
    op.execute("DROP TABLE IF EXISTS data_versions")
