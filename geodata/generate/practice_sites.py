"""New-Era Civilization Practice sites (新时代文明实践中心 / 所 / 站): 1 county centre, 6 township
institutes and a station in each of the 89 villages and communities. Real: the three tiers, the 10
demonstration sites (five named in the article with their themes; 河底村 and 金罗镇 named).
Invented: every location, the other themes, and the names of institutes and stations. Community
stations sit at one end of their community, not where they would serve best, so the analyses
find access gaps.
"""
from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Point, box

from .common import COUNTY, GRID, lonlat_to_m, random_point_in, rng_for, to_ll, to_m
from .divisions import Geo
from .rural import TOWNSHIP_POINTS
from .sources import short_name
from .town import RIVER_BUFFER

# The 10 demonstration practice sites: division code -> (theme, source note). Five are named in
# the article with their themes; 河底村 is named for a 2022 event; four are invented.
DEMONSTRATION = {
    "141129104218": ("生态文明", "named in the article (暖泉镇弓阳村) with its theme; location invented"),
    "141129201213": ("乡村旅游", "named in the article (下枣林乡神圪垯村; NBS spells 神圪塔) with its theme; location invented"),
    "141129201203": ("积分超市", "named in the article (下枣林乡阳坡村) with its theme; location invented"),
    "141129100011": ("民俗文化", "named in the article (宁乡镇尚家峪村; NBS: 尚家峪社区) with its theme; location invented"),
    "141129100014": ("生态宜居", "named in the article (宁乡镇阳坡塔村; NBS: 阳坡塔社区) with its theme; location invented"),
    "141129104220": ("志愿服务", "named in the article (河底村, 2022-09-23 event); demonstration status, theme and location invented"),
    "141129101211": ("移风易俗", "the article names 金罗镇; this site, its theme and location invented"),
    "141129102202": ("红色传承", "demonstration status, theme and location invented"),
    "141129103203": ("孝老爱亲", "demonstration status, theme and location invented"),
    "141129100001": ("邻里守望", "demonstration status, theme and location invented"),
}


def build_practice_sites(geo: Geo, divisions: list[dict], compounds, others) -> list[dict]:
    """1 county centre (in the cultural centre by the seat), 6 township institutes near their
    seats, and a station in each of the 89 villages and communities (villages: at the village
    site; communities: see urban_station_uv)."""
    rng = rng_for("practice sites")
    names = {d["code"]: d["name"] for d in divisions}
    sites = []
    culture = next(p for p in others if p["role"] == "culture")
    centre = geo.valley.to_xy(random_point_in(culture["geom"].buffer(-10), rng))
    sites.append(site_row("center", None, None, "中阳县新时代文明实践中心", centre,
                          "named in the article (新时代文明实践中心); location invented"))
    free = [p for p in others if p["role"] == "other"]
    for tcode in sorted(TOWNSHIP_POINTS):
        if tcode == "141129100":   # in a free parcel of the town, a little north of the seat
            near = min(free, key=lambda p: (p["geom"].centroid.distance(Point(0, 600)), p["geom"].centroid.y))
            xy = geo.valley.to_xy(random_point_in(near["geom"].buffer(-10), rng))
        else:
            seat = np.array(lonlat_to_m(*TOWNSHIP_POINTS[tcode][0]))
            xy = Point(seat + rng.uniform(-150, 150, 2))
        sites.append(site_row("institute", tcode, None, f"{names[tcode]}新时代文明实践所", xy,
                              "one institute per township (article: 6 townships); name and location invented"))
    community_key = {v: k for k, v in geo.community_of.items()}
    for code in sorted(geo.divisions):
        if code in community_key:
            xy = geo.valley.to_xy(urban_station_uv(community_key[code], geo, compounds, rng))
        else:
            xy = Point(geo.sites_m[code])
            if not geo.divisions[code].contains(shapely.set_precision(to_ll(xy), GRID)):
                xy = to_m(geo.divisions[code].representative_point())
        theme, note = DEMONSTRATION.get(
            code, ("", "one station per village/community; name and location invented"))
        sites.append(site_row("station", code[:9], code, f"{short_name(names[code])}新时代文明实践站",
                              xy, note, demonstration=bool(theme), theme=theme))
    for i, s in enumerate(sites, start=1):
        s["code"] = f"{COUNTY}-S{i:03d}"
    return sites


# Which end of its community a station sits at, by slice. Stations were put wherever a room was
# free, not where they would serve best: with the stations of slices 4 and 5 at their far ends
# and those of slice 0 at its north end, the compounds around the slice 4/5 border and at the
# south tip of the town are more than 500 m from any station (access gaps for the analysis).
STATION_END = {6: "north", 5: "north", 4: "south", 3: "middle", 2: "middle", 1: "north", 0: "north"}


def urban_station_uv(key, geo: Geo, compounds, rng) -> Point:
    """A point in the community's open space (off the river, clear of compounds) within 100 m of
    the end given by STATION_END."""
    k, side = key
    comm = geo.town.sides[side].intersection(
        box(-3000, geo.town.slice_bounds[k], 3000, geo.town.slice_bounds[k + 1]))
    taken = shapely.union_all([c["geom"].buffer(10) for c in compounds if (c["slice"], c["side"]) == key])
    open_space = comm.buffer(-15).difference(taken).difference(geo.town.river.buffer(RIVER_BUFFER))
    _, v_lo, _, v_hi = comm.bounds
    mid = (v_lo + v_hi) / 2
    band = {"north": (v_hi - 100, v_hi), "south": (v_lo, v_lo + 100), "middle": (mid - 50, mid + 50)}
    lo, hi = band[STATION_END[k]]
    return random_point_in(open_space.intersection(box(-3000, lo, 3000, hi)), rng)


def site_row(tier, township, division, name, xy_m, note, demonstration=False, theme=""):
    return {"tier": tier, "township_code": township, "division_code": division, "name": name,
            "demonstration": demonstration, "theme": theme, "xy": xy_m,
            "ll": shapely.set_precision(to_ll(xy_m), GRID), "source_note": note}


def site_features(sites: list[dict]) -> list[tuple[dict, object]]:
    """practice_sites.geojson: one point per site."""
    return [(
        {"code": s["code"], "county_code": COUNTY, "tier": s["tier"], "township_code": s["township_code"],
         "division_code": s["division_code"], "name": s["name"], "demonstration": s["demonstration"],
         "theme": s["theme"], "source": "synthetic", "source_note": s["source_note"]}, s["ll"])
        for s in sites]
