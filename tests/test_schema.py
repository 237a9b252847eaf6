"""The migrated schema is the one tables.py describes, with real constraints."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import exc, text

from gridgov.db import migrate
from gridgov.db.tables import SPATIAL_TABLES, metadata


def test_migrations_match_tables(empty_engine):
    with empty_engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "include_object": lambda o, n, t, r, c: not (t == "table" and r and c is None)})
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_spatial_columns_have_fixed_srid_and_gist(empty_engine):
    with empty_engine.connect() as conn:
        cols = dict(conn.execute(text(
            "SELECT f_table_name, srid FROM geometry_columns WHERE f_geometry_column = 'geom'")).all())
        gist = {r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist (geom)%'"))}
    assert cols == {t: 4326 for t in (*SPATIAL_TABLES, "tile_coverage")}
    assert gist == {*SPATIAL_TABLES, "tile_coverage"}


def test_constraints_refuse_bad_rows(seeded_copy):
    bad = [
        "UPDATE compounds SET geom = ST_Multi(ST_GeomFromText("
        "'POLYGON((111.2 37.3,111.21 37.31,111.21 37.3,111.2 37.31,111.2 37.3))', 4326))"
        " WHERE code = (SELECT min(code) FROM compounds)",
        "UPDATE compounds SET geom = ST_Multi(ST_Transform(geom, 4546))"
        " WHERE code = (SELECT min(code) FROM compounds)",
        "INSERT INTO grid_cells (code, community_code, county_code, seq, geom) SELECT "
        "'14112910000177', '141129100001', '141129', 78, geom FROM grid_cells LIMIT 1",
        "INSERT INTO assignments (org_code, compound_code, county_code, valid_from) SELECT "
        "org_code, compound_code, county_code, valid_from + 1 FROM assignments "
        "WHERE valid_to IS NULL LIMIT 1",
        "INSERT INTO members (code, org_code, county_code, name) VALUES "
        "('x', '141129-P404', '141129', 'x')",
        "UPDATE members SET phone = '12345' WHERE code = (SELECT min(code) FROM members)",
    ]
    for sql in bad:
        with seeded_copy.connect() as conn, pytest.raises(exc.DBAPIError):
            conn.execute(text(sql))


def test_downgrade_and_upgrade_again(empty_url):
    migrate.downgrade(empty_url, "base")
    assert migrate.current(empty_url) is None
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == "0007"
