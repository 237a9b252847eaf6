"""A synthetic province: the Zhongyang bundle replicated into N counties side by side.

Each copy gets a county code 800001, 800002, ... (every code rewritten: divisions, compounds,
grid cells, organizations, members, sites, tasks) and its geometry shifted on an 11-column grid
(0.8° × 0.5° apart), so 117 copies give ~12,500 compounds and ~15,300 organizations, with the
same structure and problems as the county.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import Engine, text

BASE = "141129"

# Case categories for a bundle that has none: a few of geodata/generate/case_categories.py's,
# one per limit type, and street lights routed to the base county's construction bureau.
CASE_CATEGORIES = """code,kind,class_name,name,time_limit,limit_type,route_org_code
0101,event,市容环境,暴露垃圾（乱扔垃圾）,1,working_days,
0402,event,街面秩序,乱停乱放（机动车）,2,working_hours,
0404,event,街面秩序,噪声扰民,1,working_days,
0406,event,街面秩序,乱搭乱建,15,natural_days,
0503,event,突发事件,安全隐患,4,urgent_hours,
5101,component,公用设施,路灯损坏,3,working_days,141129-P051
"""

# (table, key expressions to rewrite, other columns copied as they are)
TABLES = [
    ("counties", {"code": "c.code"}, ["name", "name_en", "parent_code", "geom", "source", "source_note"]),
    ("townships", {"code": "c.code || substr(t.code, 7)", "county_code": "c.code"},
     ["name", "kind", "geom", "source", "source_note"]),
    ("divisions", {"code": "c.code || substr(t.code, 7)",
                   "township_code": "c.code || substr(t.township_code, 7)", "county_code": "c.code"},
     ["name", "short_name", "kind", "village_rules_adopted", "geom", "source", "source_note"]),
    ("work_groups", {"code": "c.code || substr(t.code, 7)", "county_code": "c.code"},
     ["name", "duty", "source", "source_note"]),
    ("compounds", {"code": "c.code || substr(t.code, 7)",
                   "community_code": "c.code || substr(t.community_code, 7)",
                   "county_code": "c.code"},
     ["name", "households", "population", "geom", "source", "source_note"]),
    ("grid_cells", {"code": "c.code || substr(t.code, 7)",
                    "community_code": "c.code || substr(t.community_code, 7)",
                    "county_code": "c.code"}, ["seq", "geom", "source", "source_note"]),
    ("party_orgs", {"code": "c.code || substr(t.code, 7)", "county_code": "c.code",
                    "work_group_code": "c.code || substr(t.work_group_code, 7)"},
     ["name", "parent_body", "member_count", "geom", "source", "source_note"]),
    ("assignments", {"org_code": "c.code || substr(t.org_code, 7)",
                     "compound_code": "c.code || substr(t.compound_code, 7)",
                     "county_code": "c.code"},
     ["kind", "valid_from", "valid_to", "members", "note", "source", "source_note"]),
    ("practice_sites", {"code": "c.code || substr(t.code, 7)", "county_code": "c.code",
                        "township_code": "c.code || substr(t.township_code, 7)",
                        "division_code": "c.code || substr(t.division_code, 7)"},
     ["tier", "name", "demonstration", "theme", "geom", "source", "source_note"]),
]


def build_province(engine: Engine, n_counties: int = 117, columns: int = 11) -> list[str]:
    """Replicate county 141129 (already loaded) into ``n_counties`` shifted copies."""
    codes = [f"{800001 + i}" for i in range(n_counties)]
    values = ", ".join(f"('{code}', {0.8 * (i % columns)}, {-0.5 * (i // columns)})"
                       for i, code in enumerate(codes))
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TEMP TABLE copies (code text, dx float8, dy float8) "
                          f"ON COMMIT DROP; INSERT INTO copies VALUES {values}"))
        for table, keys, cols in TABLES:
            where = "t.code = :base" if table == "counties" else "t.county_code = :base"
            exprs = ["ST_Translate(t.geom, c.dx, c.dy)" if col == "geom" else f"t.{col}"
                     for col in cols]
            conn.execute(text(
                f"INSERT INTO {table} ({', '.join([*keys, *cols])}) "
                f"SELECT {', '.join([*keys.values(), *exprs])} FROM {table} t CROSS JOIN copies c "
                f"WHERE {where}"), {"base": BASE})
        conn.execute(text("ANALYZE"))
    return codes


def ensure_case_categories(engine: Engine) -> list[str]:
    """The active case categories' codes: the bundle's if it has them, else CASE_CATEGORIES."""
    from gridgov.io.importer import import_layer

    with engine.connect() as conn:
        codes = conn.execute(text("SELECT code FROM case_categories WHERE active ORDER BY code")
                             ).scalars().all()
    if codes:
        return codes
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case_categories.csv"
        path.write_text(CASE_CATEGORIES, encoding="utf-8")
        import_layer(engine, "case_categories", path)
    return ensure_case_categories(engine)


# The roster, for benches that need people (check-ins): build_province leaves it out, because
# coverage on paper counts party_orgs.member_count and copying 2,207 members per county costs time.
MEMBERS = ("members", {"code": "c.code || substr(t.code, 7)",
                       "org_code": "c.code || substr(t.org_code, 7)",
                       "compound_code": "c.code || substr(t.compound_code, 7)",
                       "county_code": "c.code"},
           ["name", "phone", "source", "source_note"])


def add_members(engine: Engine, codes: list[str]) -> int:
    """Copy the base county's members into each of the province's counties ``codes`` (made by
    build_province); returns the number of members added."""
    table, keys, cols = MEMBERS
    with engine.begin() as conn:
        added = conn.execute(text(
            f"INSERT INTO {table} ({', '.join([*keys, *cols])}) "
            f"SELECT {', '.join([*keys.values(), *(f't.{c}' for c in cols)])} FROM {table} t "
            "CROSS JOIN unnest(CAST(:codes AS text[])) AS c(code) WHERE t.county_code = :base"),
            {"codes": codes, "base": BASE}).rowcount
        conn.execute(text(f"ANALYZE {table}"))
    return added
