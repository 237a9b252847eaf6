"""Mapbox vector tiles from PostGIS (ST_AsMVT), with an in-process cache keyed by data version.

Tile layers are declared on the layers (``TileSpec`` in gridgov/layers). A layer that shows an
analysis (compounds with their coverage status) reads a cache table refreshed from the analysis
SQL (gridgov/sql/coverage.sql) once per data version, so the map and the tables never disagree.

Example:
    >>> from gridgov.features import FeatureService
    >>> tiles = TileService(engine, versions=FeatureService(engine).version_tag)
    >>> data, etag = tiles.tile("compounds", 12, 3313, 1589)     # the county seat, zoom 12
    >>> etag
    '"compounds-..."'
    >>> import mapbox_vector_tile
    >>> len(mapbox_vector_tile.decode(data)["compounds"]["features"])
    107
    >>> tiles.tilejson("compounds", "http://127.0.0.1:8000")["bounds"]
    [111.1943837, 37.3201442, 111.2172812, 37.3629741]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Engine, text

from gridgov.analysis.coverage import thresholds
from gridgov.analysis.sqlfiles import scope, sql
from gridgov.cache import Memo
from gridgov.db import extents, tables
from gridgov.errors import InvalidParameter
from gridgov.layers import TILE_SPECS, Layer, TileSpec, tile_spec

EXTENT = 4096
BUFFER = 64


@dataclass(frozen=True)
class TileLayer:
    """A tile layer as the service draws it: the declaration's spec and where its rows come from."""

    layer: Layer
    spec: TileSpec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def tables(self) -> tuple[str, ...]:
        """Tables whose versions decide the tiles' freshness (ETags)."""
        return tuple(dict.fromkeys((self.layer.table, *self.spec.depends_on)))

    @property
    def source(self) -> str:
        """SQL yielding the spec's columns plus ``geom`` (EPSG:4326), read by the tiles."""
        if self.spec.cache:
            return f"SELECT * FROM {self.spec.cache}"
        where = f" WHERE {self.spec.where}" if self.spec.where else ""
        return f"SELECT * FROM {self.layer.table}{where}"

    @property
    def live_source(self) -> str:
        """The same rows computed now, without the cache."""
        return sql(self.spec.query).text if self.spec.cache else self.source

    def frame(self, engine: Engine) -> gpd.GeoDataFrame:
        """The tiles' features as one GeoDataFrame (EPSG:4326), for pages that inline them."""
        with engine.connect() as conn:
            result = conn.execute(text(
                f"SELECT {self.spec.columns}, ST_AsBinary(geom) AS wkb FROM ({self.live_source}) s"),
                {**scope(None, None), **thresholds(None)})
            frame = pd.DataFrame(result.all(), columns=list(result.keys()))
        geoms = [shapely.from_wkb(bytes(b)) for b in frame.pop("wkb")]
        return gpd.GeoDataFrame(frame, geometry=geoms, crs=4326)


def tile_layer(name: str) -> TileLayer:
    return TileLayer(*tile_spec(name))


TILE_LAYERS = {name: TileLayer(layer, spec) for name, (layer, spec) in TILE_SPECS.items()}


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
    SELECT {layer.spec.columns},
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

    def __post_init__(self):
        self._tiles = Memo(self.cache_size)
        self._statements = Memo(64)
        self._extents = Memo(64)
        self._refreshed: dict[str, str] = {}  # cache table -> version it holds

    def layer(self, name: str) -> TileLayer:
        return tile_layer(name)

    def etag(self, name: str) -> str:
        return f'"{name}-{self.versions(self.layer(name).tables)}"'

    def tile(self, name: str, z: int, x: int, y: int, etag: str | None = None,
             crs: str = "wgs84") -> tuple[bytes, str]:
        """(MVT bytes, ETag) of one tile; ``crs="gcj02"`` for overlays on Amap."""
        layer = self.layer(name)
        if not 0 <= z <= 24 or not (0 <= x < 2 ** z and 0 <= y < 2 ** z):
            raise InvalidParameter("z/x/y", f"tile {z}/{x}/{y} does not exist "
                                            "(0 ≤ x, y < 2^z, z ≤ 24)")
        if crs not in ("wgs84", "gcj02"):
            raise InvalidParameter("crs", "crs must be wgs84 or gcj02")
        etag = etag or self.etag(name)
        return self._tiles.get((name, z, x, y, etag, crs),
                               lambda: self._draw(layer, z, x, y, etag, crs)), etag

    def _draw(self, layer: TileLayer, z: int, x: int, y: int, etag: str, crs: str) -> bytes:
        if z < layer.spec.minzoom:
            return b""
        stmt = self._statements.get((layer.name, crs),
                                    lambda: text(_tile_sql(layer, crs == "gcj02")))
        if layer.spec.cache:
            self._refresh(layer, etag)
        with self.engine.connect() as conn:
            return bytes(conn.execute(stmt, {"z": z, "x": x, "y": y}).scalar() or b"")

    def _refresh(self, layer: TileLayer, tag: str) -> None:
        """Bring the layer's cache table up to the data version ``tag`` (once, whichever worker
        asks: an advisory lock serializes the refresh, the stored tag says if it is done)."""
        cache = layer.spec.cache
        if self._refreshed.get(cache) == tag:
            return
        columns = ", ".join(c.name for c in tables.table(cache).columns)
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                         {"k": f"gridgov.{cache}"})
            stored = conn.execute(text("SELECT tag FROM tile_cache_state WHERE cache = :c"),
                                  {"c": cache}).scalar()
            if stored != tag:
                conn.execute(text(f"DELETE FROM {cache}"))
                conn.execute(text(f"INSERT INTO {cache} ({columns}) SELECT {columns} "
                                  f"FROM ({layer.live_source}) s"),
                             {**scope(None, None), **thresholds(None)})
                conn.execute(text(
                    "INSERT INTO tile_cache_state (cache, tag, refreshed_at) VALUES (:c, :t, now())"
                    " ON CONFLICT (cache) DO UPDATE SET tag = :t, refreshed_at = now()"),
                    {"c": cache, "t": tag})
        self._refreshed[cache] = tag

    def extent(self, name: str) -> list[float] | None:
        """The tile layer's bounds, from its table's data (cached per data version)."""
        layer = self.layer(name)
        return self._extents.get((name, self.versions((layer.layer.table,))),
                                 lambda: extents.extent(self.engine, [layer.layer.table]))

    def tilejson(self, name: str, base_url: str) -> dict:
        layer = self.layer(name)
        return {
            "tilejson": "3.0.0", "name": layer.name, "description": layer.title,
            "tiles": [f"{base_url}/tiles/{layer.name}/{{z}}/{{x}}/{{y}}.pbf"],
            "minzoom": layer.spec.minzoom, "maxzoom": layer.spec.maxzoom,
            "bounds": self.extent(name) or [-180, -85.0511, 180, 85.0511],
            "vector_layers": [{"id": layer.name, "description": layer.title}],
        }
