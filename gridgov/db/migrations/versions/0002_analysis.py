"""Analysis support: gridgov_links(as_of) and the saved scenarios table.

gridgov_links(as_of) gives the active org ↔ compound links with members and office distance.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

The one definition of "who covers what with how many members" that coverage, org load, gaps and
the recommender build on; QGIS users can call it too: SELECT * FROM gridgov_links(current_date).
``counties`` (optional) limits the work to organizations active in those counties.
Members: an assignment's explicit ``members``, else an even share of the members the organization
has not committed explicitly elsewhere. Distances are on the spheroid (geography), correct for any
county, not only near 111°E.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LINKS = r"""
CREATE OR REPLACE FUNCTION gridgov_links(as_of date, counties text[] DEFAULT NULL)
RETURNS TABLE (org_code text, compound_code text, county_code text, members float8,
               office_m float8)
LANGUAGE sql STABLE PARALLEL SAFE ROWS 20000 AS $$
    -- counties: only organizations active in them (NULL: all). Their links elsewhere are still
    -- read, because an organization's members are shared among all its compounds.
    WITH relevant AS (
        SELECT DISTINCT a.org_code FROM assignments a
        WHERE a.valid_from <= as_of AND (a.valid_to IS NULL OR a.valid_to > as_of)
          AND (counties IS NULL OR a.county_code = ANY(counties))
    ), active AS (
        SELECT a.org_code, a.compound_code, a.county_code, sum(a.members) AS members
        FROM assignments a JOIN relevant r ON r.org_code = a.org_code
        WHERE a.valid_from <= as_of AND (a.valid_to IS NULL OR a.valid_to > as_of)
        GROUP BY a.org_code, a.compound_code, a.county_code
    ), org AS (
        SELECT act.org_code, o.member_count, o.geom,
               coalesce(sum(act.members), 0) AS committed,
               count(*) FILTER (WHERE act.members IS NULL) AS n_implicit
        FROM active act JOIN party_orgs o ON o.code = act.org_code
        GROUP BY act.org_code, o.member_count, o.geom
    )
    SELECT act.org_code, act.compound_code, act.county_code,
           coalesce(act.members::float8,
                    greatest(org.member_count - org.committed, 0)::float8
                    / nullif(org.n_implicit, 0)) AS members,
           ST_Distance(org.geom::geography, k.geom::geography) AS office_m
    FROM active act
    JOIN org ON org.org_code = act.org_code
    JOIN compounds k ON k.code = act.compound_code
$$;
"""


SCENARIOS = r"""
CREATE TABLE scenarios (
    name TEXT NOT NULL,
    description TEXT,
    as_of DATE,
    changes JSONB NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT pk_scenarios PRIMARY KEY (name)
);
"""


def upgrade() -> None:
    op.execute(LINKS)
    op.execute(SCENARIOS)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS scenarios")
    op.execute("DROP FUNCTION IF EXISTS gridgov_links(date, text[])")
