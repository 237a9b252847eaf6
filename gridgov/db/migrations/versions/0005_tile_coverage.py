"""tile_coverage: the coverage of every compound, materialized once per data version for tiles.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

Vector tiles of compounds carry their coverage status. Computing coverage inside every tile
request makes a cold tile several times dearer than a plain one; the tile service instead
refreshes this table from the same coverage SQL when the data version changes (under an advisory
lock, so several workers refresh it once) and tiles read it like any table. UNLOGGED: it is a
cache, rebuilt on demand, not worth WAL.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SETUP = r"""
CREATE UNLOGGED TABLE tile_coverage (
    code TEXT NOT NULL,
    name TEXT,
    community_name TEXT,
    households INTEGER,
    orgs INTEGER,
    members FLOAT8,
    households_per_member FLOAT8,
    status TEXT,
    far_assignment BOOLEAN,
    orgs_zh TEXT,
    max_office_m FLOAT8,
    geom geometry(MULTIPOLYGON,4326) NOT NULL,
    CONSTRAINT pk_tile_coverage PRIMARY KEY (code)
);
CREATE INDEX ix_tile_coverage_geom ON tile_coverage USING gist (geom);
CREATE UNLOGGED TABLE tile_coverage_state (
    id INTEGER NOT NULL DEFAULT 1,
    tag TEXT,
    refreshed_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT pk_tile_coverage_state PRIMARY KEY (id),
    CONSTRAINT ck_tile_coverage_state_one CHECK (id = 1)
);
INSERT INTO tile_coverage_state (id) VALUES (1);
"""


def upgrade() -> None:
    op.execute(SETUP)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS tile_coverage_state")
    op.execute("DROP TABLE IF EXISTS tile_coverage")
