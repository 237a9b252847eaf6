"""Compounds (城区小区): real is only their count, 107 (the article). Invented: everything else.
The parcels of the town's street grid are built in (u, v) metres: blocks between the streets, some
split in two by a lane, some L-shaped, corners jittered, clipped by the river and the town edge.
107 of them (at least 4 per community) become residential compounds with curated names and
households from block area and an invented density; the others are the county government, the
cultural centre, offices, schools, markets and parks, where organizations.py and
practice_sites.py put offices and sites. The lanes of split blocks become roads (roads.py).
"""
from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from .common import COUNTY, GRID, N_COMPOUNDS, rng_for, to_ll
from .divisions import Geo
from .town import COMMUNITY_LAYOUT, EDGE_MARGIN, RIVER_BUFFER, Town, slice_of

# Compound names that belong to one community, then a county-wide pool.
COMMUNITY_COMPOUND_NAMES = {
    "钢城社区": ["钢城家属院", "钢城新村", "钢苑小区", "钢铁公司一号院"],
    "城北社区": ["北城佳苑", "城北小区", "北关家属院"],
    "柳沟社区": ["柳沟家园", "柳沟小区"],
    "庞家会社区": ["庞家会新村", "庞家会小区"],
    "北街社区": ["北街小区", "北街商住楼"],
    "城东社区": ["东城花园", "城东小区"],
    "南街社区": ["南街小区", "县政府家属院"],
    "府东社区": ["府东花园", "府东小区"],
    "府南社区": ["府南苑", "府南小区"],
    "阳坡塔社区": ["阳坡塔易地搬迁安置小区", "阳坡塔小区"],
    "段家庄社区": ["段家庄小区", "段家庄安置小区"],
    "尚家峪社区": ["尚家峪新村", "尚家峪小区"],
    "城南社区": ["南关小区", "城南小区"],
    "太高社区": ["太高佳苑", "太高小区"],
}
COMPOUND_NAME_POOL = [
    "滨河小区", "南川河畔小区", "文苑小区", "锦绣苑", "阳光花园", "华府名苑", "鑫源小区", "世纪花园",
    "康乐小区", "幸福家园", "和谐家园", "祥和苑", "丽景苑", "金泰花园", "龙泉小区", "凤凰城小区",
    "翠苑小区", "书香苑", "紫荆园", "银河小区", "东方花园", "御景园", "馨园小区", "惠民小区",
    "安居小区", "春晖小区", "朝阳小区", "向阳小区", "泰和园", "福馨苑", "瑞祥小区", "新华小区",
    "建设小区", "民生小区", "育才小区", "杏林小区", "县医院家属院", "教育局家属院", "供电公司家属院",
    "邮政家属院", "农行家属院", "粮食局家属院", "税务局家属院", "公安局家属院", "交通局家属院",
    "煤运家属院", "水利局家属院", "财政局家属院", "电业小区", "鑫苑小区", "嘉禾苑", "金鼎花园",
    "天泽园", "翰林苑", "怡和苑", "悦景园", "龙城佳苑", "青龙小区", "凤山小区", "柏苑小区",
    "松苑小区", "桂苑小区", "玉兰苑", "丁香苑", "槐荫小区", "润泽园", "锦华小区", "金桂园",
    "荣华小区", "昌盛小区", "兴隆小区", "兴中小区", "中兴小区", "宁乡小区", "宁苑小区", "文化小区",
    "广场小区", "商贸小区", "锦绣华庭", "金色家园", "碧水苑", "清风苑", "明珠小区", "水岸华府",
    "山水佳苑", "康宁小区", "永安小区", "吉祥小区", "银杏苑", "东升小区",
]

NOTE_COMPOUND = "count 107 from the article; outline, name, households and population invented"


def build_compounds(geo: Geo) -> tuple[list[dict], list[dict]]:
    """Choose 107 residential compounds among the street parcels (at least 4 per community); the
    other parcels are offices, schools, markets and parks. Returns (compounds, other parcels)."""
    rng = rng_for("compounds")
    parcels = street_blocks(geo.town)
    for p in parcels:
        p["community"] = geo.community_of[(p["slice"], p["side"])]
        p["xy"] = geo.valley.to_xy(p["geom"])
    seat = Point(0, 0)
    # The two parcels nearest the seat are the county government compound and the cultural
    # centre (home of the practice centre); they are never residential.
    civic = sorted(range(len(parcels)), key=lambda i: (parcels[i]["geom"].distance(seat), i))[:2]
    for tag, i in zip(("government", "culture"), civic):
        parcels[i]["role"] = tag

    by_comm = {}
    for i, p in enumerate(parcels):
        if "role" not in p:
            by_comm.setdefault(p["community"], []).append(i)
    comms = sorted(by_comm)
    # Quota per community proportional to its parcels, at least 4, summing to 107.
    sizes = np.array([len(by_comm[c]) for c in comms], dtype=float)
    quota = np.maximum(4, np.floor(sizes / sizes.sum() * N_COMPOUNDS * 0.97)).astype(int)
    while quota.sum() < N_COMPOUNDS:
        spare = sizes - quota
        quota[int(np.argmax(spare))] += 1
    while quota.sum() > N_COMPOUNDS:
        quota[int(np.argmax(quota))] -= 1
    chosen = []
    for c, q in zip(comms, quota):
        ids = by_comm[c]
        assert len(ids) > q, f"{c}: only {len(ids)} parcels for {q} compounds"
        chosen += sorted(int(i) for i in rng.choice(ids, size=q, replace=False))
    for i in chosen:
        parcels[i]["role"] = "compound"
    compounds = [parcels[i] for i in chosen]
    others = [p for p in parcels if p.get("role") != "compound"]
    for p in others:
        p.setdefault("role", "other")
    number_compounds(compounds)
    name_compounds(compounds, rng)
    size_compounds(compounds, rng)
    return compounds, others


def number_compounds(compounds: list[dict]) -> None:
    """Codes: community + 3-digit sequence, north to south then west to east within a community."""
    def key(p):
        u, v = p["geom"].centroid.x, p["geom"].centroid.y
        return (p["community"], -round(v, 3), round(u, 3))
    compounds.sort(key=key)
    seq = {}
    for p in compounds:
        seq[p["community"]] = seq.get(p["community"], 0) + 1
        p["code"] = f"{p['community']}{seq[p['community']]:03d}"
        p["ll"] = shapely.set_precision(to_ll(p["xy"]), GRID)


def name_compounds(compounds: list[dict], rng) -> None:
    """About half the compounds carry a name tied to their community (钢城家属院 in 钢城社区),
    the others a generic estate name from a shuffled pool."""
    pool = [COMPOUND_NAME_POOL[i] for i in rng.permutation(len(COMPOUND_NAME_POOL))]
    local = {k: list(v) for k, v in COMMUNITY_COMPOUND_NAMES.items()}
    for p in compounds:
        own = local[COMMUNITY_LAYOUT[(p["slice"], p["side"])]]
        p["name"] = own.pop(0) if own and rng.random() < 0.45 else pool.pop(0)
    assert len({p["name"] for p in compounds}) == len(compounds)


def size_compounds(compounds: list[dict], rng) -> None:
    """Households from the parcel area and an invented density: old work-unit courtyards
    (家属院) are sparse, resettlement and new high-rise compounds dense."""
    for p in compounds:
        area = p["geom"].area
        if p["name"].endswith("家属院") or p["name"].endswith("一号院"):
            density = rng.uniform(0.005, 0.010)
        elif "安置" in p["name"] or p["name"] in ("华府名苑", "水岸华府", "南川河畔小区", "锦绣华庭"):
            density = rng.uniform(0.040, 0.055)
        else:
            density = math.exp(rng.normal(math.log(0.011), 0.3))
        hh = int(np.clip(round(area * density), 80, 1200))
        p["households"] = hh
        p["population"] = int(round(hh * rng.uniform(2.4, 3.0)))


def street_blocks(town: Town) -> list[dict]:
    """All parcels between streets, in (u, v): some blocks split in two by a lane, some L-shaped,
    corners jittered; clipped by the town edge and the river. Returns dicts with slice, side, geom
    and lane (the centre line of the lane that splits the parcel's block, street to street, or
    None; the roads layer draws it)."""
    rng = rng_for("blocks")
    zones = {s: town.sides[s].buffer(-EDGE_MARGIN).difference(town.river.buffer(RIVER_BUFFER))
             for s in ("W", "E")}
    parcels = []
    for i in range(len(town.cross_streets) - 1):
        v_lo = town.cross_streets[i] + town.cross_halfwidth[i]
        v_hi = town.cross_streets[i + 1] - town.cross_halfwidth[i + 1]
        k = slice_of(town, (v_lo + v_hi) / 2)
        if k is None:
            continue
        for side in ("W", "E"):
            us, hws = town.long_streets[side], town.long_halfwidth[side]
            # Columns between longitudinal streets, from the river outwards. The first column
            # reaches across the river's centre (u = +-200) and is trimmed by the river zone.
            inner = [(-200.0 if side == "E" else 200.0, 0.0)] + list(zip(us, hws))[:-1]
            for j, ((u_a, hw_a), (u_b, hw_b)) in enumerate(zip(inner, zip(us, hws))):
                if side == "W":
                    u_lo, u_hi = u_b + hw_b, u_a - hw_a
                else:
                    u_lo, u_hi = u_a + hw_a, u_b - hw_b
                polys, split = shape_block(u_lo, u_hi, v_lo, v_hi, rng)
                # A first-column block is split near the river's centre, inside the river zone:
                # what is left of it is one parcel and there is no lane to draw.
                lane = None
                if split is not None and j > 0:
                    axis, at = split
                    v_a, v_b = town.cross_streets[i], town.cross_streets[i + 1]
                    lane = LineString([(u_a, at), (u_b, at)] if axis == "v" else [(at, v_a), (at, v_b)])
                for geom in polys:
                    part = largest_part(geom.intersection(zones[side]))
                    if part is not None and part.area >= 3500 and not part.buffer(-15).is_empty:
                        parcels.append({"slice": k, "side": side, "geom": part, "lane": lane})
    return parcels


def shape_block(u_lo, u_hi, v_lo, v_hi, rng) -> tuple[list[Polygon], tuple | None]:
    """One street block as 1 or 2 parcels: plain, L-shaped (a corner given to shops or a school)
    or split by a 10 m lane across its longer side. Corners are jittered by up to 3.5 m.
    Returns the parcels and the lane's centre line as ("v", v) or ("u", u), or None."""
    w, h = u_hi - u_lo, v_hi - v_lo
    r = rng.random()
    split = None
    if r < 0.25 and max(w, h) >= 180:
        if h >= w:
            mid = v_lo + h * rng.uniform(0.42, 0.58)
            rects = [(u_lo, v_lo, u_hi, mid - 5), (u_lo, mid + 5, u_hi, v_hi)]
            split = ("v", mid)
        else:
            mid = u_lo + w * rng.uniform(0.42, 0.58)
            rects = [(u_lo, v_lo, mid - 5, v_hi), (mid + 5, v_lo, u_hi, v_hi)]
            split = ("u", mid)
        polys = [box(*b) for b in rects]
    elif r < 0.37:
        fu, fv = rng.uniform(0.35, 0.5), rng.uniform(0.35, 0.5)
        cu = u_lo if rng.random() < 0.5 else u_hi - w * fu
        cv = v_lo if rng.random() < 0.5 else v_hi - h * fv
        polys = [box(u_lo, v_lo, u_hi, v_hi).difference(box(cu, cv, cu + w * fu, cv + h * fv))]
    else:
        polys = [box(u_lo, v_lo, u_hi, v_hi)]
    return [jitter(p, rng, 3.5) for p in polys], split


def jitter(poly: Polygon, rng, amount: float) -> Polygon:
    ring = np.asarray(poly.exterior.coords)[:-1]
    ring = ring + rng.uniform(-amount, amount, ring.shape)
    out = Polygon(ring)
    return out if out.is_valid else poly


def largest_part(geom):
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
    return max(parts, key=lambda p: p.area) if parts else None


def compound_features(compounds: list[dict]) -> list[tuple[dict, object]]:
    """compounds.geojson."""
    return [(
        {"code": p["code"], "community_code": p["community"], "county_code": COUNTY,
         "name": p["name"], "households": p["households"], "population": p["population"],
         "source": "synthetic", "source_note": NOTE_COMPOUND}, p["ll"]) for p in compounds]
