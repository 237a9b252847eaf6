"""Table definitions (SQLAlchemy Core + GeoAlchemy2).

These mirror the Alembic migrations, which are the authority on the live schema; the import,
export and analysis code uses these objects to build parameterized SQL.

Conventions:
- geometry lives in ``geom``, stored in EPSG:4326 (lon/lat). WGS84 and CGCS2000 (EPSG:4490) agree to
  well under a metre here; 4326 is what GeoJSON, OGC API Features and web maps expect. Metric work
  transforms to EPSG:4546 (CGCS2000 / 3-degree Gauss-Krüger CM 111E).
- every row carries ``county_code`` (and its own division codes), so several counties load side by side;
- every row carries ``source`` ('nbs2023', 'amap', 'synthetic', 'import', ...) and ``source_note``
  saying what is real and what is invented.
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

SRID = 4326
METRIC_SRID = 4546

metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "ix": "ix_%(table_name)s_%(column_0_name)s",
    }
)


def _geom(kind: str, nullable: bool = False) -> Column:
    # spatial_index=False: the GiST indexes are created explicitly by the migration.
    return Column("geom", Geometry(kind, srid=SRID, spatial_index=False), nullable=nullable)


def _provenance() -> list[Column]:
    return [
        Column("source", Text, nullable=False, server_default="import"),
        Column("source_note", Text),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


def _valid_geom() -> CheckConstraint:
    return CheckConstraint("geom IS NULL OR ST_IsValid(geom)", name="geom_valid")


def _county_fk() -> Column:
    return Column("county_code", Text, ForeignKey("counties.code"), nullable=False, index=True)


counties = Table(
    "counties",
    metadata,
    Column("code", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("name_en", Text),
    Column("parent_code", Text),
    _geom("MULTIPOLYGON"),
    *_provenance(),
    CheckConstraint(r"code ~ '^\d{6}$'", name="code_format"),
    _valid_geom(),
)

townships = Table(
    "townships",
    metadata,
    Column("code", Text, primary_key=True),
    _county_fk(),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False, server_default="town"),
    _geom("MULTIPOLYGON", nullable=True),
    *_provenance(),
    CheckConstraint(r"code ~ '^\d{9}$' AND left(code, 6) = county_code", name="code_format"),
    CheckConstraint("kind IN ('town', 'township', 'subdistrict')", name="kind"),
    _valid_geom(),
)

divisions = Table(
    "divisions",
    metadata,
    Column("code", Text, primary_key=True),
    Column("township_code", Text, ForeignKey("townships.code"), nullable=False, index=True),
    _county_fk(),
    Column("name", Text, nullable=False),
    Column("short_name", Text),
    Column("kind", Text, nullable=False),
    Column("village_rules_adopted", Boolean, nullable=False, server_default="false"),
    _geom("MULTIPOLYGON", nullable=True),
    *_provenance(),
    CheckConstraint(r"code ~ '^\d{12}$' AND left(code, 9) = township_code", name="code_format"),
    CheckConstraint("left(code, 6) = county_code", name="county"),
    CheckConstraint("kind IN ('village', 'community')", name="kind"),
    _valid_geom(),
)

compounds = Table(
    "compounds",
    metadata,
    Column("code", Text, primary_key=True),
    Column("community_code", Text, ForeignKey("divisions.code"), nullable=False, index=True),
    _county_fk(),
    Column("name", Text, nullable=False),
    Column("households", Integer, nullable=False),
    Column("population", Integer),
    _geom("MULTIPOLYGON"),
    *_provenance(),
    Column("version", Integer, nullable=False, server_default="1"),
    CheckConstraint("households >= 0 AND (population IS NULL OR population >= 0)", name="counts"),
    CheckConstraint("left(community_code, 6) = county_code", name="county"),
    _valid_geom(),
)

grid_cells = Table(
    "grid_cells",
    metadata,
    Column("code", Text, primary_key=True),
    Column("community_code", Text, ForeignKey("divisions.code"), nullable=False, index=True),
    _county_fk(),
    Column("seq", SmallInteger, nullable=False),
    _geom("MULTIPOLYGON"),
    *_provenance(),
    # GB/T 30428 unit grid code: county 6 + township 3 + community 3 + sequence 2.
    CheckConstraint(
        r"code ~ '^\d{14}$' AND code = community_code || lpad(seq::text, 2, '0')",
        name="code_format",
    ),
    CheckConstraint("seq BETWEEN 1 AND 99", name="seq"),
    _valid_geom(),
)

work_groups = Table(
    "work_groups",
    metadata,
    Column("code", Text, primary_key=True),
    _county_fk(),
    Column("name", Text, nullable=False),
    Column("duty", Text),
    *_provenance(),
    UniqueConstraint("county_code", "name", name="uq_work_groups_county_name"),
)

party_orgs = Table(
    "party_orgs",
    metadata,
    Column("code", Text, primary_key=True),
    _county_fk(),
    Column("name", Text, nullable=False),
    Column("parent_body", Text),
    Column("member_count", Integer, nullable=False),
    Column("work_group_code", Text, ForeignKey("work_groups.code"), index=True),
    # The office location of the organization.
    _geom("POINT", nullable=True),
    *_provenance(),
    Column("version", Integer, nullable=False, server_default="1"),
    CheckConstraint("member_count >= 0", name="member_count"),
    UniqueConstraint("county_code", "name", name="uq_party_orgs_county_name"),
    _valid_geom(),
)

members = Table(
    "members",
    metadata,
    Column("code", Text, primary_key=True),
    Column("org_code", Text, ForeignKey("party_orgs.code"), nullable=False, index=True),
    Column("compound_code", Text, ForeignKey("compounds.code"), index=True),
    _county_fk(),
    # Personal data: later work restricts who may read these two columns.
    Column("name", Text, nullable=False),
    Column("phone", Text),
    *_provenance(),
    CheckConstraint(r"phone IS NULL OR phone ~ '^\d{11}$'", name="phone_format"),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("org_code", Text, ForeignKey("party_orgs.code"), nullable=False, index=True),
    Column("compound_code", Text, ForeignKey("compounds.code"), nullable=False, index=True),
    _county_fk(),
    Column("kind", Text, nullable=False, server_default="unit"),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
    # Members the organization commits to this compound; NULL = an even share of the members it
    # has not committed elsewhere. A changed commitment is a new period, never an overwrite.
    Column("members", Integer),
    Column("note", Text),
    *_provenance(),
    Column("version", Integer, nullable=False, server_default="1"),
    CheckConstraint("kind IN ('unit', 'leader', 'members')", name="kind"),
    CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="period"),
    CheckConstraint("members IS NULL OR members >= 0", name="members"),
    UniqueConstraint("org_code", "compound_code", "kind", "valid_from", name="uq_assignments_natural"),
    # The exclusion constraint against overlapping periods is created by the migration.
)

practice_sites = Table(
    "practice_sites",
    metadata,
    Column("code", Text, primary_key=True),
    _county_fk(),
    Column("tier", Text, nullable=False),
    Column("township_code", Text, ForeignKey("townships.code"), index=True),
    Column("division_code", Text, ForeignKey("divisions.code"), index=True),
    Column("name", Text, nullable=False),
    Column("demonstration", Boolean, nullable=False, server_default="false"),
    Column("theme", Text),
    _geom("POINT"),
    *_provenance(),
    Column("version", Integer, nullable=False, server_default="1"),
    CheckConstraint("tier IN ('center', 'institute', 'station')", name="tier"),
    CheckConstraint(
        "(tier <> 'station' OR division_code IS NOT NULL)"
        " AND (tier <> 'institute' OR township_code IS NOT NULL)",
        name="tier_parent",
    ),
    _valid_geom(),
)

key_tasks = Table(
    "key_tasks",
    metadata,
    Column("code", Text, primary_key=True),
    _county_fk(),
    Column("name", Text, nullable=False),
    Column("work_group_code", Text, ForeignKey("work_groups.code"), index=True),
    *_provenance(),
)

key_task_units = Table(
    "key_task_units",
    metadata,
    Column("task_code", Text, ForeignKey("key_tasks.code", ondelete="CASCADE"), primary_key=True),
    Column("org_code", Text, ForeignKey("party_orgs.code"), primary_key=True),
    Column("position", SmallInteger, nullable=False),
)

# Streets and paths people walk on; when present, access is measured along them.
roads = Table(
    "roads",
    metadata,
    Column("code", Text, primary_key=True),
    _county_fk(),
    Column("name", Text),
    Column("kind", Text),
    _geom("MULTILINESTRING"),
    *_provenance(),
    _valid_geom(),
)

# Saved what-if scenarios: a named list of changes (see gridgov.edits), never applied to live data.
scenarios = Table(
    "scenarios",
    metadata,
    Column("name", Text, primary_key=True),
    Column("description", Text),
    Column("as_of", Date),
    Column("changes", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One counter per table, bumped by a statement-level trigger on every write (migration 0004).
data_versions = Table(
    "data_versions",
    metadata,
    Column("table_name", Text, primary_key=True),
    Column("version", BigInteger, nullable=False, server_default="1"),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Coverage materialized per data version for vector tiles (migration 0005); a cache.
tile_coverage = Table(
    "tile_coverage",
    metadata,
    Column("code", Text, primary_key=True),
    Column("name", Text),
    Column("community_name", Text),
    Column("households", Integer),
    Column("orgs", Integer),
    Column("members", Float(53)),
    Column("households_per_member", Float(53)),
    Column("status", Text),
    Column("far_assignment", Boolean),
    Column("orgs_zh", Text),
    Column("max_office_m", Float(53)),
    Column("geom", Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False),
    Index("ix_tile_coverage_geom", "geom", postgresql_using="gist"),
    prefixes=["UNLOGGED"],
)
tile_coverage_state = Table(
    "tile_coverage_state",
    metadata,
    Column("id", Integer, primary_key=True, server_default="1"),
    Column("tag", Text),
    Column("refreshed_at", DateTime(timezone=True)),
    CheckConstraint("id = 1", name="one"),
    prefixes=["UNLOGGED"],
)

# Accounts (migration 0007): viewer / planner / admin; secrets stored only as hashes.
users = Table(
    "users",
    metadata,
    Column("username", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("password_hash", Text),
    Column("api_key_hash", Text),
    Column("disabled", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("role IN ('viewer', 'planner', 'admin')", name="role"),
    UniqueConstraint("api_key_hash", name="uq_users_api_key_hash"),
)

# Every write to an accountable table, by trigger (migration 0007).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("record_key", Text, nullable=False),
    Column("before", JSONB),
    Column("after", JSONB),
    Index("ix_audit_log_record", "table_name", "record_key"),
    Index("ix_audit_log_actor", "actor", "at"),
)

SPATIAL_TABLES = ("counties", "townships", "divisions", "compounds", "grid_cells", "party_orgs",
                  "practice_sites", "roads")

for _name in SPATIAL_TABLES:
    Index(f"ix_{_name}_geom", metadata.tables[_name].c.geom, postgresql_using="gist")
# "what was active on day D" is the question every analysis asks of assignments
Index("ix_assignments_period",
      func.daterange(assignments.c.valid_from, assignments.c.valid_to, "[)"),
      postgresql_using="gist")
