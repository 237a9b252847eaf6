"""Small builders for test input files."""

from __future__ import annotations

import json
from pathlib import Path

import shapely

SEAT = (111.205, 37.34)  # GeoNames 宁乡, inside the county seat
COMMUNITY = "141129100001"  # 段家庄社区 (NBS 2023)


def square(cx: float, cy: float, half: float = 0.0004):
    return shapely.box(cx - half, cy - half, cx + half, cy + half)


def write_geojson(path: Path, rows: list[dict], geoms: list) -> Path:
    features = [
        {"type": "Feature", "properties": props,
         "geometry": json.loads(shapely.to_geojson(g)) if g is not None else None}
        for props, g in zip(rows, geoms)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                               ensure_ascii=False), encoding="utf-8")
    return path


def compound(code: str, name: str = "测试小区", households=300, geom=None, **extra):
    props = {"code": code, "community_code": COMMUNITY, "name": name, "households": households,
             "population": households * 3 if isinstance(households, int) and households > 0
             else None}
    props.update(extra)
    return props, geom if geom is not None else square(*SEAT)
