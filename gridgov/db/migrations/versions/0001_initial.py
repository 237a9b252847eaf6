"""Initial schema: the Zhongyang layers, multi-county from day one.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

The DDL is frozen here as SQL (generated once from gridgov/db/tables.py); a test compares the
migrated database with tables.py so the two cannot drift apart silently.
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

EXTENSIONS = """
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS btree_gist;
"""

SCHEMA = r"""
CREATE TABLE counties (
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    name_en TEXT,
    parent_code TEXT,
    geom geometry(MULTIPOLYGON,4326) NOT NULL,
    source TEXT DEFAULT 'import' NOT NULL,
    source_note TEXT,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT pk_counties PRIMARY KEY (code),
    CONSTRAINT ck_counties_code_format CHECK (code ~ '^\d{6}$'),
    CONSTRAINT ck_counties_geom_valid CHECK (geom IS NULL OR ST_IsValid(geom))
);

CREATE INDEX ix_counties_geom ON counties USING gist (geom);

CREATE TABLE townships (
    code TEXT NOT NULL,
    county_code TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT DEFAULT 'town' NOT NULL,
    geom geometry(MULTIPOLYGON,4326),
    source TEXT DEFAULT 'import' NOT NULL,
    source_note TEXT,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT pk_townships PRIMARY KEY (code),
    CONSTRAINT ck_townships_code_format CHECK (code ~ '^\d{9}$' AND left(code, 6) = county_code),
    CONSTRAINT ck_townships_kind CHECK (kind IN ('town', 'township', 'subdistrict')),
    CONSTRAINT ck_townships_geom_valid CHECK (geom IS NULL OR ST_IsValid(geom)),
    CONSTRAINT fk_townships_county_code FOREIGN KEY(county_code) REFERENCES counties (code)
);

CREATE INDEX ix_townships_county_code ON townships (county_code);

CREATE INDEX ix_townships_geom ON townships USING gist (geom);

CREATE TABLE work_groups (
    code TEXT NOT NULL,
    county_code TEXT NOT NULL,
    name TEXT NOT NULL,
    duty TEXT,
    source TEXT DEFAULT 'import' NOT NULL,
    source_note TEXT,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT pk_work_groups PRIMARY KEY (code),
    CONSTRAINT uq_work_groups_county_name UNIQUE (county_code, name),
    CONSTRAINT fk_work_groups_county_code FOREIGN KEY(county_code) REFERENCES counties (code)
);

CREATE INDEX ix_work_groups_county_code ON work_groups (county_code);

CREATE TABLE divisions (
    code TEXT NOT NULL,
    township_code TEXT NOT NULL,
    county_code TEXT NOT NULL,
    name TEXT NOT NULL,
    short_name TEXT,
    kind TEXT NOT NULL,
    village_rules_adopted BOOLEAN DEFAULT 'false' NOT NULL,
    geom geometry(MULTIPOLYGON,4326),
    source TEXT DEFAULT 'import' NOT NULL,
    source_note TEXT,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT pk_divisions PRIMARY KEY (code),
    CONSTRAINT ck_divisions_code_format CHECK (code ~ '^\d{12}$' AND left(code, 9) = township_code),
    CONSTRAINT ck_divisions_county CHECK (left(code, 6) = county_code),
    CONSTRAINT ck_divisions_kind CHECK (kind IN ('village', 'community')),
    CONSTRAINT ck_divisions_geom_valid CHECK (geom IS NULL OR ST_IsValid(geom)),
    CONSTRAINT fk_divisions_township_code FOREIGN KEY(township_code) REFERENCES townships (code),
    CONSTRAINT fk_divisions_county_code FOREIGN KEY(county_code) REFERENCES counties (code)
);

CREATE INDEX ix_divisions_county_code ON divisions (county_code);

CREATE INDEX ix_divisions_geom ON divisions USING gist (geom);

CREATE INDEX ix_divisions_township_code ON divisions (township_code);

CREATE TABLE key_tasks (
    code TEXT NOT NULL,
    county_code TEXT NOT NULL,
    name TEXT NOT NULL,
    work_group_code TEXT,
    source TEXT DEFAULT 'import' NOT NULL,
    source_note TEXT,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT pk_key_tasks PRIMARY KEY (code),
    CONSTRAINT fk_key_tasks_county_code FOREIGN KEY(county_code) REFERENCES counties (code),
    CONSTRAINT fk_key_tasks_work_group_code FOREIGN KEY(work_group_code) REFERENCES work_groups (code)
);

CREATE INDEX ix_key_tasks_county_code ON key_tasks (county_code);

CREATE INDEX ix_key_tasks_work_group_code ON key_tasks (work_group_code);

CREATE TABLE party_orgs (
    code TEXT NOT NULL,
    county_code TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_body TEXT,
    member_count INTEGER NOT NULL,
    work_group_code TEXT,
    geom geometry(POINT,4326),
    source TEXT DEFAULT 'import' NOT NULL,
    source_note TEXT,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    version INTEGER DEFAULT '1' NOT NULL,
    CONSTRAINT pk_party_orgs PRIMARY KEY (code),
    CONSTRAINT ck_party_orgs_member_count CHECK (member_count >= 0),
    CONSTRAINT uq_party_orgs_county_name UNIQUE (county_code, name),
    CONSTRAINT ck_party_orgs_geom_valid CHECK (geom IS NULL OR ST_IsValid(geom)),
    CONSTRAINT fk_party_orgs_county_code FOREIGN KEY(county_code) REFERENCES counties (code),
    CONSTRAINT fk_party_orgs_work_group_code FOREIGN KEY(work_group_code) REFERENCES work_groups (code)
);

CREATE INDEX ix_party_orgs_county_code ON party_orgs (county_code);

CREATE INDEX ix_party_orgs_geom ON party_orgs USING gist (geom);

CREATE INDEX ix_party_orgs_work_group_code ON party_orgs (work_group_code);

CREATE TABLE compounds (
    code TEXT NOT NULL,
    community_code TEXT NOT NULL,
    county_code TEXT NOT NULL,
    name TEXT NOT NULL,
    households INTEGER NOT NULL,
    population INTEGER,
    geom geometry(MULTIPOLYGON,4326) NOT NULL,
    source TEXT DEFAULT 'import' NOT NULL,
    source_note TEXT,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    version INTEGER DEFAULT '1' NOT NULL,
    CONSTRAINT pk_compounds PRIMARY KEY (code),
    CONSTRAINT ck_compounds_counts CHECK (households >= 0 AND (population IS NULL OR population >= 0)),
    CONSTRAINT ck_compounds_county CHECK (left(community_code, 6) = county_code),
    CONSTRAINT ck_compounds_geom_valid CHECK (geom IS NULL OR ST_IsValid(geom)),
    CONSTRAINT fk_compounds_community_code FOREIGN KEY(community_code) REFERENCES divisions (code),
    CONSTRAINT fk_compounds_county_code FOREIGN KEY(county_code) REFERENCES counties (code)
);

CREATE INDEX ix_compounds_community_code ON compounds (community_code);

CREATE INDEX ix_compounds_county_code ON compounds (county_code);

CREATE INDEX ix_compounds_geom ON compounds USING gist (geom);

CREATE TABLE grid_cells (
    code TEXT NOT NULL,
    community_code TEXT NOT NULL,
    county_code TEXT NOT NULL,
    seq SMALLINT NOT NULL,
    geom geometry(MULTIPOLYGON,4326) NOT NULL,
    source TEXT DEFAULT 'import' NOT NULL,
    source_note TEXT,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT pk_grid_cells PRIMARY KEY (code),
    CONSTRAINT ck_grid_cells_code_format CHECK (code ~ '^\d{14}$' AND code = community_code || lpad(seq::text, 2, '0')),
    CONSTRAINT ck_grid_cells_seq CHECK (seq BETWEEN 1 AND 99),
    CONSTRAINT ck_grid_cells_geom_valid CHECK (geom IS NULL OR ST_IsValid(geom)),
    CONSTRAINT fk_grid_cells_community_code FOREIGN KEY(community_code) REFERENCES divisions (code),
    CONSTRAINT fk_grid_cells_county_code FOREIGN KEY(county_code) REFERENCES counties (code)
);

CREATE INDEX ix_grid_cells_community_code ON grid_cells (community_code);

CREATE INDEX ix_grid_cells_county_code ON grid_cells (county_code);

CREATE INDEX ix_grid_cells_geom ON grid_cells USING gist (geom);

CREATE TABLE key_task_units (
    task_code TEXT NOT NULL,
    org_code TEXT NOT NULL,
    position SMALLINT NOT NULL,
    CONSTRAINT pk_key_task_units PRIMARY KEY (task_code, org_code),
    CONSTRAINT fk_key_task_units_task_code FOREIGN KEY(task_code) REFERENCES key_tasks (code) ON DELETE CASCADE,
    CONSTRAINT fk_key_task_units_org_code FOREIGN KEY(org_code) REFERENCES party_orgs (code)
);

CREATE TABLE practice_sites (
    code TEXT NOT NULL,
    county_code TEXT NOT NULL,
    tier TEXT NOT NULL,
    township_code TEXT,
    division_code TEXT,
    name TEXT NOT NULL,
    demonstration BOOLEAN DEFAULT 'false' NOT NULL,
    theme TEXT,
    geom geometry(POINT,4326) NOT NULL,
    source TEXT DEFAULT 'import' NOT NULL,
    source_note TEXT,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    version INTEGER DEFAULT '1' NOT NULL,
    CONSTRAINT pk_practice_sites PRIMARY KEY (code),
    CONSTRAINT ck_practice_sites_tier CHECK (tier IN ('center', 'institute', 'station')),
    CONSTRAINT ck_practice_sites_tier_parent CHECK ((tier <> 'station' OR division_code IS NOT NULL) AND (tier <> 'institute' OR township_code IS NOT NULL)),
    CONSTRAINT ck_practice_sites_geom_valid CHECK (geom IS NULL OR ST_IsValid(geom)),
    CONSTRAINT fk_practice_sites_county_code FOREIGN KEY(county_code) REFERENCES counties (code),
    CONSTRAINT fk_practice_sites_township_code FOREIGN KEY(township_code) REFERENCES townships (code),
    CONSTRAINT fk_practice_sites_division_code FOREIGN KEY(division_code) REFERENCES divisions (code)
);

CREATE INDEX ix_practice_sites_county_code ON practice_sites (county_code);

CREATE INDEX ix_practice_sites_division_code ON practice_sites (division_code);

CREATE INDEX ix_practice_sites_geom ON practice_sites USING gist (geom);

CREATE INDEX ix_practice_sites_township_code ON practice_sites (township_code);

CREATE TABLE assignments (
    id BIGSERIAL NOT NULL,
    org_code TEXT NOT NULL,
    compound_code TEXT NOT NULL,
    county_code TEXT NOT NULL,
    kind TEXT DEFAULT 'unit' NOT NULL,
    valid_from DATE NOT NULL,
    valid_to DATE,
    members INTEGER,
    note TEXT,
    source TEXT DEFAULT 'import' NOT NULL,
    source_note TEXT,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    version INTEGER DEFAULT '1' NOT NULL,
    CONSTRAINT pk_assignments PRIMARY KEY (id),
    CONSTRAINT ck_assignments_kind CHECK (kind IN ('unit', 'leader', 'members')),
    CONSTRAINT ck_assignments_period CHECK (valid_to IS NULL OR valid_to > valid_from),
    CONSTRAINT ck_assignments_members CHECK (members IS NULL OR members >= 0),
    CONSTRAINT uq_assignments_natural UNIQUE (org_code, compound_code, kind, valid_from),
    CONSTRAINT fk_assignments_org_code FOREIGN KEY(org_code) REFERENCES party_orgs (code),
    CONSTRAINT fk_assignments_compound_code FOREIGN KEY(compound_code) REFERENCES compounds (code),
    CONSTRAINT fk_assignments_county_code FOREIGN KEY(county_code) REFERENCES counties (code)
);

CREATE INDEX ix_assignments_compound_code ON assignments (compound_code);

CREATE INDEX ix_assignments_county_code ON assignments (county_code);

CREATE INDEX ix_assignments_org_code ON assignments (org_code);

CREATE TABLE members (
    code TEXT NOT NULL,
    org_code TEXT NOT NULL,
    compound_code TEXT,
    county_code TEXT NOT NULL,
    name TEXT NOT NULL,
    phone TEXT,
    source TEXT DEFAULT 'import' NOT NULL,
    source_note TEXT,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT pk_members PRIMARY KEY (code),
    CONSTRAINT ck_members_phone_format CHECK (phone IS NULL OR phone ~ '^\d{11}$'),
    CONSTRAINT fk_members_org_code FOREIGN KEY(org_code) REFERENCES party_orgs (code),
    CONSTRAINT fk_members_compound_code FOREIGN KEY(compound_code) REFERENCES compounds (code),
    CONSTRAINT fk_members_county_code FOREIGN KEY(county_code) REFERENCES counties (code)
);

CREATE INDEX ix_members_compound_code ON members (compound_code);

CREATE INDEX ix_members_county_code ON members (county_code);

CREATE INDEX ix_members_org_code ON members (org_code);

-- History is kept, never overwritten: one org may not hold the same compound twice at once.
ALTER TABLE assignments ADD CONSTRAINT ex_assignments_no_overlap EXCLUDE USING gist (
    org_code WITH =, compound_code WITH =, kind WITH =,
    daterange(valid_from, valid_to, '[)') WITH &&
);

CREATE INDEX ix_assignments_period ON assignments USING gist (daterange(valid_from, valid_to, '[)'));
"""


def upgrade() -> None:
    op.execute(EXTENSIONS)
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS members, assignments, practice_sites, key_task_units, grid_cells, compounds, party_orgs, key_tasks, divisions, work_groups, townships, counties CASCADE")
