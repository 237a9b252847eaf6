"""Places people go to: New-Era Civilization Practice sites, and the roads they walk on."""

from __future__ import annotations

from gridgov.layers.base import COUNTY, PROVENANCE, Field, Layer, TileSpec


class PracticeSites(Layer):
    def row_problems(self, rec):
        if rec.get("tier") == "station" and not rec.get("division_code"):
            yield "division_code", "a station needs the village/community it serves"
        if rec.get("tier") == "institute" and not rec.get("township_code"):
            yield "township_code", "an institute needs its township"


PRACTICE_SITES = PracticeSites(
    "practice_sites", "新时代文明实践阵地", ("code",), "Point", True,
    (
        Field("code", required=True, aliases=("编码",)),
        COUNTY,
        Field("tier", required=True, choices=("center", "institute", "station"), aliases=("层级",)),
        Field("township_code", pattern=r"\d{9}", references="townships", aliases=("乡镇编码",),
              shp="town_code"),
        Field("division_code", pattern=r"\d{12}", references="divisions",
              aliases=("村社区编码",), shp="div_code"),
        Field("name", required=True, aliases=("名称",)),
        Field("demonstration", type="bool", default="false", aliases=("示范点",), shp="demo"),
        Field("theme", aliases=("特色",)),
        *PROVENANCE,
    ),
    checks=(("tier", "tier IN ('center', 'institute', 'station')"),
            ("tier_parent", "(tier <> 'station' OR division_code IS NOT NULL)"
                            " AND (tier <> 'institute' OR township_code IS NOT NULL)")),
    audited=True, row_versions=True,
    editable=("name", "demonstration", "theme"),
    tiles=(TileSpec("practice_sites", "新时代文明实践阵地", "code, name, tier, demonstration, theme",
                    minzoom=6),),
)

# Streets and paths people walk on; when present, access is measured along them.
ROADS = Layer(
    "roads", "道路", ("code",), "MultiLineString", True,
    (
        Field("code", required=True, aliases=("编码",)),
        COUNTY,
        Field("name", aliases=("名称", "路名")),
        Field("kind", aliases=("类型", "等级")),
        *PROVENANCE,
    ),
    tiles=(TileSpec("roads", "道路", "code, name, kind"),),
)

LAYERS = (PRACTICE_SITES, ROADS)
