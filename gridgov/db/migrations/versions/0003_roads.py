"""Roads: the network that access is measured along when present.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ROADS = r"""
CREATE TABLE roads (
    code TEXT NOT NULL,
    county_code TEXT NOT NULL,
    name TEXT,
    kind TEXT,
    geom geometry(MULTILINESTRING,4326) NOT NULL,
    source TEXT DEFAULT 'import' NOT NULL,
    source_note TEXT,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT pk_roads PRIMARY KEY (code),
    CONSTRAINT ck_roads_geom_valid CHECK (geom IS NULL OR ST_IsValid(geom)),
    CONSTRAINT fk_roads_county_code FOREIGN KEY(county_code) REFERENCES counties (code)
);
CREATE INDEX ix_roads_county_code ON roads (county_code);
CREATE INDEX ix_roads_geom ON roads USING gist (geom);
"""


def upgrade() -> None:
    op.execute(ROADS)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS roads")
