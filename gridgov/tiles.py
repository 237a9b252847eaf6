"""Mapbox vector tiles from PostGIS (ST_AsMVT), with an in-process cache keyed by data version.

Compounds carry their coverage status: the tile query wraps the same coverage SQL the analysis
uses (gridgov/sql/coverage.sql), so the map and the tables can never disagree.

Example:
    >>> tiles = TileService(engine, versions=FeatureService(engine).version_tag)
    >>> data, etag = tiles.tile("compounds", 14, 13253, 6277)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import Engine, text

from gridgov.analysis._sql import scope, sql
from gridgov.analysis.coverage import thresholds
from gridgov.errors import BadRequest, NotFound, Problem

EXTENT = 4096
BUFFER = 64


@dataclass(frozen=True)
class TileLayer:
    name: str
    title: str
    columns: str  # attributes to encode
    source: str  # SQL yielding those columns plus geom (EPSG:4326)
    tables: tuple[str, ...]
    minzoom: int = 8
    maxzoom: int = 20


LAYERS = {
    "compounds": TileLayer(
        "compounds", "小区（包联状态）",
        "code, name, community_name, households, orgs, round(members::numeric, 1)::float8 AS members,"
        " round(households_per_member::numeric, 1)::float8 AS households_per_member, status,"
        " far_assignment, orgs_zh, round(max_office_m::numeric)::float8 AS max_office_m",
        "SELECT * FROM tile_coverage",
        ("compounds", "assignments", "party_orgs", "divisions", "townships", "grid_cells")),
    "grid_cells": TileLayer("grid_cells", "网格", "code, community_code, seq",
                            "SELECT * FROM grid_cells", ("grid_cells",)),
    "divisions": TileLayer("divisions", "村/社区", "code, name, short_name, kind",
                           "SELECT * FROM divisions WHERE geom IS NOT NULL", ("divisions",),
                           minzoom=6),
    "townships": TileLayer("townships", "乡镇", "code, name",
                           "SELECT * FROM townships WHERE geom IS NOT NULL", ("townships",),
                           minzoom=4),
    "practice_sites": TileLayer("practice_sites", "新时代文明实践阵地",
                                "code, name, tier, demonstration, theme",
                                "SELECT * FROM practice_sites", ("practice_sites",), minzoom=6),
    "offices": TileLayer("offices", "机关党组织驻地", "code, name, parent_body, member_count",
                         "SELECT * FROM party_orgs WHERE geom IS NOT NULL", ("party_orgs",)),
    "roads": TileLayer("roads", "道路", "code, name, kind", "SELECT * FROM roads", ("roads",)),
}


_REFRESH = """
INSERT INTO tile_coverage (code, name, community_name, households, orgs, members,
                           households_per_member, status, far_assignment, orgs_zh, max_office_m,
                           geom)
SELECT code, name, community_name, households, orgs, members, households_per_member, status,
       far_assignment, orgs_zh, max_office_m, geom
FROM ({coverage}) c
"""


def _tile_sql(layer: TileLayer, gcj02: bool = False) -> str:
    """The tile query; ``gcj02`` shifts features onto a GCJ-02 basemap (Amap), looking for them
    a little wider because the shift (< 0.01°) moves them into tiles they do not touch in WGS84."""
    geom = "gridgov_to_gcj02(s.geom)" if gcj02 else "s.geom"
    reach = "ST_Expand(bounds.env4326, 0.01)" if gcj02 else "bounds.env4326"
    return f"""
WITH bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS env,
           ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => {BUFFER / EXTENT}), 4326) AS env4326
)
SELECT ST_AsMVT(t0, '{layer.name}', {EXTENT}, 'mvt_geom') FROM (
    SELECT {layer.columns},
           ST_AsMVTGeom(ST_Transform({geom}, 3857), bounds.env, {EXTENT}, {BUFFER}, true) AS mvt_geom
    FROM ({layer.source}) s, bounds
    WHERE s.geom && {reach}
) AS t0
"""


@dataclass
class TileService:
    engine: Engine
    versions: Callable[[tuple[str, ...]], str]
    cache_size: int = 4096
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _sql: dict = field(default_factory=dict, repr=False)
    _coverage_tag: str | None = field(default=None, repr=False)

    def layer(self, name: str) -> TileLayer:
        try:
            return LAYERS[name]
        except KeyError:
            raise NotFound(f"no tile layer {name!r}; layers: {', '.join(LAYERS)}") from None

    def etag(self, name: str) -> str:
        return f'"{name}-{self.versions(self.layer(name).tables)}"'

    def tile(self, name: str, z: int, x: int, y: int, etag: str | None = None,
             crs: str = "wgs84") -> tuple[bytes, str]:
        """(MVT bytes, ETag) of one tile; ``crs="gcj02"`` for overlays on Amap."""
        layer = self.layer(name)
        if not 0 <= z <= 24 or not (0 <= x < 2 ** z and 0 <= y < 2 ** z):
            raise BadRequest([Problem("request", None, "z/x/y",
                                      f"tile {z}/{x}/{y} does not exist (0 ≤ x, y < 2^z, z ≤ 24)")])
        if crs not in ("wgs84", "gcj02"):
            raise BadRequest([Problem("request", None, "crs", "crs must be wgs84 or gcj02")])
        etag = etag or self.etag(name)
        key = (name, z, x, y, etag, crs)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key], etag
        if z < layer.minzoom:
            data = b""
        else:
            stmt = self._sql.get((name, crs))
            if stmt is None:
                stmt = self._sql[(name, crs)] = text(_tile_sql(layer, crs == "gcj02"))
            if name == "compounds":
                self._refresh_coverage(etag)
            with self.engine.connect() as conn:
                data = conn.execute(stmt, {"z": z, "x": x, "y": y}).scalar() or b""
            data = bytes(data)
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return data, etag

    def _refresh_coverage(self, tag: str) -> None:
        """Bring tile_coverage up to the data version ``tag`` (once, whichever worker asks)."""
        if self._coverage_tag == tag:
            return
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridgov.tile_coverage'))"))
            stored = conn.execute(text("SELECT tag FROM tile_coverage_state WHERE id = 1")).scalar()
            if stored != tag:
                conn.execute(text("DELETE FROM tile_coverage"))
                conn.execute(text(_REFRESH.replace("{coverage}", sql("coverage").text)),
                             {**scope(None, None), **thresholds(None)})
                conn.execute(text("UPDATE tile_coverage_state SET tag = :t, refreshed_at = now() "
                                  "WHERE id = 1"), {"t": tag})
        self._coverage_tag = tag

    def tilejson(self, name: str, base_url: str, bounds: list[float] | None = None) -> dict:
        layer = self.layer(name)
        return {
            "tilejson": "3.0.0", "name": layer.name, "description": layer.title,
            "tiles": [f"{base_url}/tiles/{layer.name}/{{z}}/{{x}}/{{y}}.pbf"],
            "minzoom": layer.minzoom, "maxzoom": layer.maxzoom,
            "bounds": bounds or [-180, -85.0511, 180, 85.0511],
            "vector_layers": [{"id": layer.name, "description": layer.title}],
        }
