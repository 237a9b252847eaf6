"""Coordinate reference systems users bring, including the Chinese obfuscated ones.

GCJ-02 (Amap, Tencent, WeChat) and BD-09 (Baidu) have no EPSG code: they are WGS84 with a
deterministic non-linear offset (≈560 m and ≈1,350 m around Zhongyang). The forward formulas are
public; their inverses are not closed-form, and the common one-step inverse is off by metres,
which is the size of a compound. We invert by fixed-point iteration until the forward transform of
the estimate reproduces the input to 1e-10 degrees (≈0.01 mm), which converges in a few steps
because the offset varies slowly.

Example:
    >>> lon, lat = wgs84_to_gcj02(111.205, 37.34)   # the county seat as Amap reports it
    >>> round(float(lon), 5), round(float(lat), 5)
    (111.21126, 37.34061)
    >>> [round(float(v), 9) for v in gcj02_to_wgs84(lon, lat)]
    [111.205, 37.34]
"""

from __future__ import annotations

import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by the GCJ-02 formula
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

def _delta(lon, lat):
    x = lon - 105.0
    y = lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat):
    """Forward GCJ-02 offset (valid inside China, which is all we serve)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_bd09(lon, lat):
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def wgs84_to_bd09(lon, lat):
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def _invert(forward, x, y, tol=1e-10, max_iter=50):
    """Solve forward(u, v) == (x, y) by fixed-point iteration u <- u - (forward(u) - x)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    u, v = x.copy(), y.copy()
    for _ in range(max_iter):
        fx, fy = forward(u, v)
        ex, ey = fx - x, fy - y
        u = u - ex
        v = v - ey
        if np.all(np.abs(ex) < tol) and np.all(np.abs(ey) < tol):
            break
    return u, v


def gcj02_to_wgs84(lon, lat):
    """Exact (iterative) inverse of :func:`wgs84_to_gcj02`."""
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_wgs84(lon, lat):
    """Exact (iterative) inverse of :func:`wgs84_to_bd09`."""
    return _invert(wgs84_to_bd09, lon, lat)


_TO_WGS84 = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
_FROM_WGS84 = {"gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def normalize_crs(crs: str | int | pyproj.CRS | None) -> str | pyproj.CRS | None:
    """'gcj02' / 'bd09' (any case, with or without dash), or a pyproj CRS for anything else.

    Raises ValueError with the offending text for a CRS pyproj does not know.
    """
    if crs is None:
        return None
    if isinstance(crs, pyproj.CRS):
        return crs
    text = str(crs).strip()
    key = text.lower().replace("-", "").replace("_", "")
    if key in ("gcj02", "gcj"):
        return "gcj02"
    if key in ("bd09", "bd09ll", "baidu"):
        return "bd09"
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        return pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError as exc:
        raise ValueError(f"unknown CRS {crs!r}: use an EPSG code, 'gcj02' or 'bd09'") from exc


def to_wgs84(geoms, crs) -> np.ndarray:
    """Transform an array of shapely geometries from ``crs`` to EPSG:4326 lon/lat."""
    crs = normalize_crs(crs)
    geoms = np.asarray(geoms, dtype=object)
    if crs is None:
        return geoms
    if isinstance(crs, str):
        fn = _TO_WGS84[crs]
        return shapely.transform(geoms, lambda xy: np.column_stack(fn(xy[:, 0], xy[:, 1])))
    if crs.equals(pyproj.CRS.from_epsg(4326)):
        return geoms
    transformer = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    return shapely.transform(
        geoms, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )


def from_wgs84(geom: BaseGeometry, crs: str) -> BaseGeometry:
    """WGS84 geometry into GCJ-02 or BD-09 (for overlays on Amap/Baidu basemaps)."""
    fn = _FROM_WGS84[normalize_crs(crs)]
    return shapely.transform(geom, lambda xy: np.column_stack(fn(xy[:, 0], xy[:, 1])))
