"""Writing the bundle; invents nothing. GeoJSON: an RFC 7946 FeatureCollection in EPSG:4326, one
feature per line, exterior rings counter-clockwise, coordinates rounded to 7 decimals. CSV: UTF-8
without BOM, comma separated, `\\n` line ends, a header row.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon
from shapely.geometry.polygon import orient


def geojson_geometry(geom) -> dict:
    """RFC 7946 geometry: exterior rings counter-clockwise, coordinates rounded to 7 decimals.
    Lines are written as MultiLineString (the roads table's type)."""
    if geom.geom_type == "Point":
        return {"type": "Point", "coordinates": [round(geom.x, 7), round(geom.y, 7)]}
    if geom.geom_type in ("LineString", "MultiLineString"):
        return {"type": "MultiLineString",
                "coordinates": [[[round(x, 7), round(y, 7)] for x, y in line.coords]
                                for line in shapely.get_parts(geom)]}
    if geom.geom_type == "Polygon":
        geom = MultiPolygon([geom])
    geom = MultiPolygon([orient(p, sign=1.0) for p in geom.geoms])

    def ring(r):
        return [[round(x, 7), round(y, 7)] for x, y in r.coords]
    return {"type": "MultiPolygon",
            "coordinates": [[ring(p.exterior)] + [ring(h) for h in p.interiors] for p in geom.geoms]}


def write_geojson(path: Path, rows: list[tuple[dict, object]]) -> None:
    """One feature per line: small, stable and diff-friendly."""
    feats = [json.dumps({"type": "Feature", "properties": props, "geometry": geojson_geometry(g)},
                        ensure_ascii=False, separators=(",", ":")) for props, g in rows]
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(feats) + "\n]}\n"
    path.write_bytes(text.encode("utf-8"))


def write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8"))


def write_bundle(out: Path, files: dict[str, list]) -> None:
    """Write every file of the bundle into out: file name -> rows, (properties, geometry) pairs
    for a .geojson file, dicts for a .csv file."""
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        if name.endswith(".geojson"):
            write_geojson(out / name, rows)
        elif name.endswith(".csv"):
            write_csv(out / name, rows)
        else:
            raise ValueError(f"unknown kind of file: {name}")
