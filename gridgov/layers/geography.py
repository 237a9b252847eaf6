"""The county's geography: county, townships, villages and communities, compounds, grid cells.

Codes follow the NBS division codes (county 6 digits, township 9, village/community 12) and
GB/T 30428's unit grid code (community 12 + a 2-digit sequence).
"""

from __future__ import annotations

from sqlalchemy import text

from gridgov.errors import Problem
from gridgov.layers.base import COUNTY, PROVENANCE, Field, Layer, TileSpec

# The coverage of every compound, refreshed from gridgov/sql/coverage.sql when any of these change.
COVERAGE_INPUTS = ("compounds", "assignments", "party_orgs", "divisions", "townships",
                   "grid_cells")


class Counties(Layer):
    pass


class Townships(Layer):
    def row_problems(self, rec):
        code = rec.get("code") or ""
        if rec.get("county_code") and not code.startswith(rec["county_code"]):
            yield "code", f"township code {code} does not start with county code " \
                          f"{rec['county_code']}"


class Divisions(Layer):
    def row_problems(self, rec):
        code = rec.get("code") or ""
        if rec.get("township_code") and not code.startswith(rec["township_code"]):
            yield "code", f"division code {code} does not start with its township code " \
                          f"{rec['township_code']}"


class Compounds(Layer):
    def row_problems(self, rec):
        if rec.get("population") is not None and rec.get("households") and \
                rec["population"] < rec["households"]:
            yield "population", f"population {rec['population']} is below households " \
                                f"{rec['households']}"


_TILING = text("""
WITH cells AS (
    SELECT code, community_code, geom FROM grid_cells WHERE community_code = ANY(:communities)
), overlapping AS (
    SELECT a.code AS a, b.code AS b,
           ST_Area(ST_Intersection(a.geom, b.geom)::geography) AS m2
    FROM cells a JOIN cells b
      ON a.community_code = b.community_code AND a.code < b.code AND a.geom && b.geom
     AND ST_Intersects(a.geom, b.geom)
), coverage AS (
    SELECT d.code AS community, d.geom AS outline, ST_Union(c.geom) AS cells
    FROM divisions d JOIN cells c ON c.community_code = d.code
    WHERE d.geom IS NOT NULL
    GROUP BY d.code, d.geom
)
SELECT 'overlap' AS kind, a, b, m2 FROM overlapping WHERE m2 > :tolerance
UNION ALL
SELECT 'gap', community, NULL, ST_Area(ST_Difference(outline, cells)::geography)
FROM coverage WHERE ST_Area(ST_Difference(outline, cells)::geography) > :tolerance
UNION ALL
SELECT 'outside', community, NULL, ST_Area(ST_Difference(cells, outline)::geography)
FROM coverage WHERE ST_Area(ST_Difference(cells, outline)::geography) > :tolerance
""")


class GridCells(Layer):
    def derive(self, rec):
        if rec.get("seq") is None and rec.get("code"):
            rec["seq"] = int(rec["code"][-2:])

    def row_problems(self, rec):
        code = rec.get("code") or ""
        if not (rec.get("community_code") and code):
            return
        if not code.startswith(rec["community_code"]):
            yield "code", f"grid code {code} must be the community code " \
                          f"{rec['community_code']} followed by a 2-digit sequence"
        elif rec.get("seq") is not None and int(code[-2:]) != rec["seq"]:
            yield "seq", f"seq {rec['seq']} differs from the code's last two digits {code[-2:]}"
        elif int(code[-2:]) == 0:
            yield "code", "grid sequence 00 is not allowed (1-99)"

    def written_problems(self, conn, records, rows, file, settings):
        """Cells must tile their community: no overlaps, no gaps, nothing outside."""
        communities = sorted({r["community_code"] for r in records})
        row_of = {r["code"]: row for r, row in zip(records, rows)}
        problems = []
        for kind, a, b, m2 in conn.execute(_TILING, {"communities": communities,
                                                     "tolerance": settings.tiling_tolerance_m2}):
            if kind == "overlap":
                problems.append(Problem(file, row_of.get(b) or row_of.get(a), "geometry",
                                        f"grid cells {a} and {b} overlap by {m2:,.1f} m²; cells "
                                        "must tile their community without overlaps"))
            elif kind == "gap":
                problems.append(Problem(file, None, "geometry",
                                        f"the grid cells of community {a} leave {m2:,.1f} m² of "
                                        "it uncovered; cells must tile their community without "
                                        "gaps"))
            else:
                problems.append(Problem(file, None, "geometry",
                                        f"the grid cells of community {a} reach {m2:,.1f} m² "
                                        "outside it"))
        return problems


COUNTIES = Counties(
    "counties", "县", ("code",), "MultiPolygon", True,
    (
        Field("code", required=True, pattern=r"\d{6}", aliases=("编码", "代码", "adcode")),
        Field("name", required=True, aliases=("名称",)),
        Field("name_en", aliases=("英文名",)),
        Field("parent_code", pattern=r"\d{4,6}", aliases=("上级编码",), shp="parent_cd"),
        *PROVENANCE,
    ),
    checks=(("code_format", r"code ~ '^\d{6}$'"),),
    county_key="code",
)

TOWNSHIPS = Townships(
    "townships", "乡镇", ("code",), "MultiPolygon", False,
    (
        Field("code", required=True, pattern=r"\d{9}", aliases=("编码", "代码")),
        COUNTY,
        Field("name", required=True, aliases=("名称",)),
        Field("kind", default="town", choices=("town", "township", "subdistrict"),
              aliases=("类型",)),
        *PROVENANCE,
    ),
    checks=(("code_format", r"code ~ '^\d{9}$' AND left(code, 6) = county_code"),
            ("kind", "kind IN ('town', 'township', 'subdistrict')")),
    tiles=(TileSpec("townships", "乡镇", "code, name", where="geom IS NOT NULL", minzoom=4),),
)

DIVISIONS = Divisions(
    "divisions", "村/社区", ("code",), "MultiPolygon", False,
    (
        Field("code", required=True, pattern=r"\d{12}", aliases=("编码", "代码", "区划代码")),
        Field("township_code", required=True, pattern=r"\d{9}", references="townships",
              aliases=("乡镇编码",), shp="town_code"),
        COUNTY,
        Field("name", required=True, aliases=("名称",)),
        Field("short_name", aliases=("简称",)),
        Field("kind", required=True, choices=("village", "community"), aliases=("类型",)),
        Field("village_rules_adopted", type="bool", default="false", aliases=("村规民约",),
              shp="vrules"),
        *PROVENANCE,
    ),
    checks=(("code_format", r"code ~ '^\d{12}$' AND left(code, 9) = township_code"),
            ("county", "left(code, 6) = county_code"),
            ("kind", "kind IN ('village', 'community')")),
    tiles=(TileSpec("divisions", "村/社区", "code, name, short_name, kind",
                    where="geom IS NOT NULL", minzoom=6),),
)

COMPOUNDS = Compounds(
    "compounds", "小区", ("code",), "MultiPolygon", True,
    (
        Field("code", required=True, aliases=("编码", "小区编码")),
        Field("community_code", required=True, pattern=r"\d{12}", references="divisions",
              aliases=("社区编码",), shp="comm_code"),
        COUNTY,
        Field("name", required=True, aliases=("名称", "小区名称")),
        Field("households", type="int", required=True, aliases=("户数",), shp="households"),
        Field("population", type="int", aliases=("人口",)),
        *PROVENANCE,
    ),
    checks=(("counts", "households >= 0 AND (population IS NULL OR population >= 0)"),
            ("county", "left(community_code, 6) = county_code")),
    audited=True, row_versions=True,
    # Compounds are drawn with their coverage status: the same SQL as the analysis, materialized
    # once per data version (computing it in every tile made a cold tile several times dearer).
    tiles=(TileSpec(
        "compounds", "小区（包联状态）",
        "code, name, community_name, households, orgs, round(members::numeric, 1)::float8 AS "
        "members, round(households_per_member::numeric, 1)::float8 AS households_per_member, "
        "status, far_assignment, orgs_zh, round(max_office_m::numeric)::float8 AS max_office_m",
        cache="tile_coverage", query="coverage", depends_on=COVERAGE_INPUTS),),
)

GRID_CELLS = GridCells(
    "grid_cells", "网格", ("code",), "MultiPolygon", True,
    (
        Field("code", required=True, pattern=r"\d{14}", aliases=("网格编码", "编码")),
        Field("community_code", required=True, pattern=r"\d{12}", references="divisions",
              aliases=("社区编码",), shp="comm_code"),
        COUNTY,
        Field("seq", type="smallint", not_null=True, aliases=("序号",)),
        *PROVENANCE,
    ),
    # GB/T 30428 unit grid code: county 6 + township 3 + community 3 + sequence 2.
    checks=(("code_format",
             r"code ~ '^\d{14}$' AND code = community_code || lpad(seq::text, 2, '0')"),
            ("seq", "seq BETWEEN 1 AND 99")),
    derived=("seq",),
    tiles=(TileSpec("grid_cells", "网格", "code, community_code, seq"),),
)

LAYERS = (COUNTIES, TOWNSHIPS, DIVISIONS, COMPOUNDS, GRID_CELLS)
