"""Shared by every layer: the seed and one random stream per topic, the coordinate transforms,
nearest-point search, and the constants that several layers use.

Real: the article's figures (107 compounds, 131 organisations, 2,207 members) and the start of
the campaign (May 2021). Nothing is invented here; this module only fixes how things are drawn.
"""
from __future__ import annotations

import datetime as dt
import zlib

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import Point

SEED = 20210501            # the day the campaign started
GRID = 1e-7                # degrees (~1 cm): the precision of every written coordinate
COUNTY = "141129"
CAMPAIGN_START = dt.date(2021, 5, 1)
N_COMPOUNDS, N_ORGS, N_MEMBERS = 107, 131, 2207   # from the article

_TO_M = Transformer.from_crs("EPSG:4326", "EPSG:4546", always_xy=True)
_TO_LL = Transformer.from_crs("EPSG:4546", "EPSG:4326", always_xy=True)


def lonlat_to_m(lon: float, lat: float) -> tuple[float, float]:
    """One point EPSG:4326 -> EPSG:4546 (CGCS2000 / 3-degree GK CM 111E, metres)."""
    return _TO_M.transform(lon, lat)


def rng_for(topic: str) -> np.random.Generator:
    """A reproducible random stream per topic: changing one layer's recipe reshuffles only it."""
    return np.random.default_rng([SEED, zlib.crc32(topic.encode("utf-8"))])


def to_m(geom):
    """EPSG:4326 -> EPSG:4546 (CGCS2000 / 3-degree GK CM 111E, metres)."""
    return shapely.transform(geom, lambda c: np.column_stack(_TO_M.transform(c[:, 0], c[:, 1])))


def to_ll(geom):
    """EPSG:4546 -> EPSG:4326."""
    return shapely.transform(geom, lambda c: np.column_stack(_TO_LL.transform(c[:, 0], c[:, 1])))


def nearest(targets, points, k: int = 1) -> np.ndarray:
    """Index of the nearest target (k nearest, as columns) for each point; ties go to the lower
    index. Brute force: the largest case is 2,000 points x 600 targets."""
    t, p = np.asarray(targets, dtype=float), np.atleast_2d(np.asarray(points, dtype=float))
    d = np.hypot(p[:, None, 0] - t[None, :, 0], p[:, None, 1] - t[None, :, 1])
    order = np.argsort(d, axis=1, kind="stable")
    return order[:, 0] if k == 1 else order[:, :k]


def random_point_in(poly, rng) -> Point:
    """A uniformly drawn point inside poly (its representative point if 1,000 draws all miss)."""
    minx, miny, maxx, maxy = poly.bounds
    for _ in range(1000):
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if poly.contains(p):
            return p
    return poly.representative_point()
