"""Table definitions (SQLAlchemy Core + GeoAlchemy2): the layers' tables, derived from their
declarations in :mod:`gridgov.layers`, and the platform's own tables (scenarios, versions, caches,
accounts, audit).

Alembic autogenerates migrations from this metadata (and from the trigger flags in each table's
``info``); a test runs Alembic's check so that the migrated schema and this metadata cannot drift.

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
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, Date, DateTime, Float,
                        ForeignKey, ForeignKeyConstraint, Identity, Index, Integer, MetaData,
                        Table, Text, UniqueConstraint, func)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from gridgov.layers import LAYERS, METRIC_SRID, SRID  # noqa: F401  (SRIDs re-exported)


metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "ix": "ix_%(table_name)s_%(column_0_name)s",
    }
)


# The layers' tables, derived from their declarations (gridgov/layers): never written twice.
for _layer in LAYERS.values():
    _layer.define(metadata)

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

# The tables a transaction in progress has written, noted by the version trigger and turned into
# bumps of data_versions when it commits (gridgov_apply_versions, a deferred trigger): the hot
# counter row is then locked for the commit alone. Unlogged: a row lives as long as its
# transaction, and nothing of a transaction outlives a crash that it did not commit.
data_version_pending = Table(
    "data_version_pending",
    metadata,
    Column("xact", BigInteger, primary_key=True),
    Column("table_name", Text, primary_key=True),
    prefixes=["UNLOGGED"],
    info={"applies_versions": True},
)

# What writes touched, per table, county and Beijing day of the layer's ``changes_by`` column
# (statement triggers, gridgov_mark_changes): the periods a per-county summary must recompute.
# A TRUNCATE marks county '*'. Whoever keeps a summary deletes the marks it has acted on.
changed_days = Table(
    "changed_days",
    metadata,
    Column("table_name", Text, primary_key=True),
    Column("county_code", Text, primary_key=True),
    Column("day", Date, primary_key=True),
)

# Case KPIs per week and month, per county and level (gridgov.cases.kpis): for each unit or
# place (``keys``, '' where the cases have none, such as no compound), the counts and close
# times of the cases due in the period, in parallel arrays: one row per (county, period,
# level), so that a period computed again is written and read as five rows, not hundreds.
# Kept until a write marks the period's county and day in changed_days, or (the period still
# running) until one more case falls due. As rows:
#   SELECT county_code, period, level, k.* FROM case_kpi_periods,
#          unnest(keys, due, closed, closed_on_time, reworked, dispatched, dispatched_on_time,
#                 returned, median_hours, p90_hours) AS k(key, due, closed, ...)
case_kpi_periods = Table(
    "case_kpi_periods",
    metadata,
    Column("county_code", Text, primary_key=True),
    Column("period_kind", Text, primary_key=True),  # week or month
    Column("period", Date, primary_key=True),
    Column("level", Text, primary_key=True),
    Column("keys", ARRAY(Text), nullable=False),
    Column("due", ARRAY(Integer), nullable=False),
    Column("closed", ARRAY(Integer), nullable=False),
    Column("closed_on_time", ARRAY(Integer), nullable=False),
    Column("reworked", ARRAY(Integer), nullable=False),
    Column("dispatched", ARRAY(Integer), nullable=False),
    Column("dispatched_on_time", ARRAY(Integer), nullable=False),
    Column("returned", ARRAY(Integer), nullable=False),
    Column("median_hours", ARRAY(Float(53)), nullable=False),  # NULL where none closed
    Column("p90_hours", ARRAY(Float(53)), nullable=False),
)

# Which (county, kind, period) case_kpi_periods holds (a period with no case due has no rows),
# counting the cases due before ``through``: the period's end, or for the period still running
# the time it was computed (the cases falling due since are looked up in the deadline index).
case_kpi_state = Table(
    "case_kpi_state",
    metadata,
    Column("county_code", Text, primary_key=True),
    Column("period_kind", Text, primary_key=True),
    Column("period", Date, primary_key=True),
    Column("through", DateTime(timezone=True), nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # new with every computing of the period (not with ``through`` moving on): a process that
    # keeps the rows it read fetches again only the periods whose generation changed
    Column("generation", BigInteger, Identity(), nullable=False),
)

# Coverage materialized per data version for the compounds' vector tiles (migration 0005).
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
# The data version each tile cache holds (gridgov.tiles refreshes a cache when it moves).
tile_cache_state = Table(
    "tile_cache_state",
    metadata,
    Column("cache", Text, primary_key=True),
    Column("tag", Text),
    Column("refreshed_at", DateTime(timezone=True)),
    prefixes=["UNLOGGED"],
)

# The lifecycle of every case, one row per transition (who, when, from, to, note): appended,
# never changed (trigger), partitioned by county like the cases.
case_events = Table(
    "case_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("county_code", Text, ForeignKey("counties.code"), primary_key=True),
    Column("case_code", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("from_status", Text),
    Column("to_status", Text),
    Column("unit_kind", Text),
    Column("unit_code", Text),
    Column("note", Text),
    ForeignKeyConstraint(["case_code", "county_code"], ["cases.code", "cases.county_code"]),
    Index("ix_case_events_case", "county_code", "case_code", "id"),
    info={"versioned": True, "append_only": True, "partitioned": True},
    postgresql_partition_by="LIST (county_code)",
)

# Photos of a case: the reporter's, the handler's before/after, the center's check.
case_photos = Table(
    "case_photos",
    metadata,
    Column("county_code", Text, ForeignKey("counties.code"), primary_key=True),
    Column("case_code", Text, primary_key=True),
    Column("sha256", Text, primary_key=True),
    Column("stage", Text, nullable=False),
    Column("taken_at", DateTime(timezone=True)),
    Column("lon", Float(53)),
    Column("lat", Float(53)),
    Column("uploaded_by", Text, nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ForeignKeyConstraint(["case_code", "county_code"], ["cases.code", "cases.county_code"]),
    CheckConstraint("stage IN ('report', 'before', 'after', 'check')", name="stage"),
    info={"versioned": True},
)

# Accounts: secrets stored only as hashes. A handler acts for one organization (org_code); a
# member checks in as one member of the roster (member_code).
ROLES = ("viewer", "member", "handler", "dispatcher", "planner", "admin")
users = Table(
    "users",
    metadata,
    Column("username", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("org_code", Text, ForeignKey("party_orgs.code")),
    Column("member_code", Text, ForeignKey("members.code")),
    Column("password_hash", Text),
    Column("api_key_hash", Text),
    Column("disabled", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="role"),
    CheckConstraint("role <> 'handler' OR org_code IS NOT NULL", name="handler_org"),
    CheckConstraint("role <> 'member' OR member_code IS NOT NULL", name="member_code"),
    UniqueConstraint("api_key_hash", name="uq_users_api_key_hash"),
    info={"audit_key": "username"},
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

SPATIAL_TABLES = tuple(layer.table for layer in LAYERS.values() if layer.geometry)


def table(name: str) -> Table:
    """The table called ``name``."""
    return metadata.tables[name]


def versioned_tables() -> list[str]:
    """Tables whose writes bump data_versions (a statement trigger each)."""
    return [t.name for t in metadata.sorted_tables if t.info.get("versioned")]


def audited_tables() -> dict[str, str]:
    """Table -> the column naming a record in audit_log (a row trigger each)."""
    return {t.name: t.info["audit_key"] for t in metadata.sorted_tables
            if t.info.get("audit_key")}
