"""A hand-built test county with known answers (distances in metres, laid out on a local
azimuthal equidistant plane centred at 111.2 E, 37.3 N, so planar metres are geodesic metres to
well under 0.1 % at these few-km ranges).

    y ↑ (north)
      C3 (0, 2000)   50 households, uncovered             O3 office (0, 2500), 8 members, idle
      O1 office (0, 500), 10 members → C1                 S1 station (0, 400)
      C1 (0, 0)     300 households: 10 members → 30/member → under-covered
      C2 (1000, 0)  100 households: O2 (20 members, office (3000, 0)) → covered, far (1,950 m)
      S2 institute (1000, 200)
Compounds are 100 m squares centred on those points.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer

COUNTY = "990001"
TOWNSHIP = "990001100"
COMMUNITY = "990001100001"
VILLAGE = "990001100201"
TO_LONLAT = Transformer.from_proj(
    "+proj=aeqd +lat_0=37.3 +lon_0=111.2 +datum=WGS84 +units=m", 4326, always_xy=True)


def lonlat(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(TO_LONLAT.transform(xy[:, 0], xy[:, 1])))


def sq(x, y, half=50.0):
    return lonlat(shapely.box(x - half, y - half, x + half, y + half))


def pt(x, y):
    return lonlat(shapely.Point(x, y))


def _fc(path: Path, rows: list[tuple[dict, object]]):
    features = [{"type": "Feature", "properties": p,
                 "geometry": json.loads(shapely.to_geojson(g)) if g is not None else None}
                for p, g in rows]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                               ensure_ascii=False), encoding="utf-8")


def write(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _fc(folder / "counties.geojson", [({"code": COUNTY, "name": "测试县"},
                                       lonlat(shapely.box(-5000, -5000, 5000, 5000)))])
    _fc(folder / "townships.geojson", [({"code": TOWNSHIP, "name": "测试镇", "kind": "town"},
                                        lonlat(shapely.box(-5000, -5000, 5000, 5000)))])
    _fc(folder / "divisions.geojson", [
        ({"code": COMMUNITY, "township_code": TOWNSHIP, "name": "测试社区", "kind": "community"},
         lonlat(shapely.box(-500, -500, 1500, 2500))),
        ({"code": VILLAGE, "township_code": TOWNSHIP, "name": "测试村", "kind": "village"},
         lonlat(shapely.box(2000, -500, 4000, 500))),
    ])
    _fc(folder / "compounds.geojson", [
        ({"code": "C1", "community_code": COMMUNITY, "name": "甲小区", "households": 300}, sq(0, 0)),
        ({"code": "C2", "community_code": COMMUNITY, "name": "乙小区", "households": 100},
         sq(1000, 0)),
        ({"code": "C3", "community_code": COMMUNITY, "name": "丙小区", "households": 50},
         sq(0, 2000)),
    ])
    _fc(folder / "party_orgs.geojson", [
        ({"code": "O1", "county_code": COUNTY, "name": "一支部", "member_count": 10}, pt(0, 500)),
        ({"code": "O2", "county_code": COUNTY, "name": "二支部", "member_count": 20}, pt(3000, 0)),
        ({"code": "O3", "county_code": COUNTY, "name": "三支部", "member_count": 8}, pt(0, 2500)),
    ])
    (folder / "assignments.csv").write_text(
        "org_code,compound_code,kind,valid_from,valid_to\n"
        "O1,C1,unit,2021-05-01,\n"
        "O2,C2,unit,2021-05-01,\n"
        "O3,C3,unit,2021-05-01,2022-01-01\n", encoding="utf-8")
    _fc(folder / "practice_sites.geojson", [
        ({"code": "S1", "county_code": COUNTY, "tier": "station", "division_code": COMMUNITY,
          "name": "测试站"}, pt(0, 400)),
        ({"code": "S2", "county_code": COUNTY, "tier": "institute", "township_code": TOWNSHIP,
          "name": "测试所"}, pt(1000, 200)),
    ])
    return folder


def write_roads(folder: Path) -> Path:
    """Roads for the network test: a street from C1 north to S1, and a detour C1 → C2 that goes
    300 m south, 1,000 m east and back north (so C2 → S1 walks 2,000 m, not 1,077 m)."""
    path = folder / "roads.geojson"
    _fc(path, [
        ({"code": "R1", "county_code": COUNTY, "name": "北街", "kind": "street"},
         lonlat(shapely.LineString([(0, 0), (0, 400)]))),
        ({"code": "R2", "county_code": COUNTY, "name": "南环路", "kind": "street"},
         lonlat(shapely.LineString([(0, 0), (0, -300), (1000, -300), (1000, 0)]))),
    ])
    return path
