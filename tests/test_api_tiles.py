"""Vector tiles decode to the expected features; ETags change when the data changes."""

from __future__ import annotations

import time

import mapbox_vector_tile
import mercantile
from sqlalchemy import create_engine, text

SEAT_TILE = mercantile.tile(111.205, 37.34, 14)


def url(layer, t=SEAT_TILE):
    return f"/tiles/{layer}/{t.z}/{t.x}/{t.y}.pbf"


def test_compound_tile_carries_coverage_status(api, service):
    r = api.get(url("compounds"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    feats = mapbox_vector_tile.decode(r.content)["compounds"]["features"]
    bounds = mercantile.bounds(SEAT_TILE)
    engine = create_engine(service.database_url)
    with engine.connect() as conn:
        expected = {c for (c,) in conn.execute(text(
            "SELECT code FROM compounds WHERE ST_Intersects(geom, ST_MakeEnvelope(:w,:s,:e,:n,4326))"),
            {"w": bounds.west, "s": bounds.south, "e": bounds.east, "n": bounds.north})}
    engine.dispose()
    codes = {f["properties"]["code"] for f in feats}
    assert expected <= codes  # plus neighbours reaching into the tile's buffer
    props = feats[0]["properties"]
    assert props["status"] in ("covered", "under_covered", "uncovered")
    assert {"name", "households", "members", "orgs_zh"} <= set(props)


def test_other_layers_and_tilejson(api):
    for layer in ("practice_sites", "offices", "grid_cells", "divisions", "roads"):
        r = api.get(url(layer))
        assert r.status_code == 200, layer
        assert mapbox_vector_tile.decode(r.content)[layer]["features"], layer
    tj = api.get("/tiles/compounds/tilejson.json").json()
    assert tj["tiles"][0].endswith("/tiles/compounds/{z}/{x}/{y}.pbf")
    assert api.get("/tiles/nope/1/0/0.pbf").status_code == 404
    assert api.get("/tiles/compounds/3/100/100.pbf").status_code == 400


def test_etag_304_and_change_on_write(api, service):
    first = api.get(url("practice_sites"))
    etag = first.headers["etag"]
    assert "max-age" in first.headers["cache-control"]
    assert api.get(url("practice_sites"), headers={"If-None-Match": etag}).status_code == 304
    engine = create_engine(service.database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE practice_sites SET name = name WHERE code = "
                          "(SELECT min(code) FROM practice_sites)"))
    engine.dispose()
    time.sleep(1.1)  # the service reads data versions at most once a second
    again = api.get(url("practice_sites"), headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["etag"] != etag
    # other layers keep their tags
    assert api.get(url("grid_cells")).headers["etag"] == api.get(url("grid_cells")).headers["etag"]


def test_amap_overlays_are_shifted(api, service):
    from fastapi.testclient import TestClient

    from gridgov.settings import DatabaseSettings
    from gridgov_api.app import create_app
    from gridgov_api.settings import ServiceSettings

    plain = mapbox_vector_tile.decode(api.get(url("practice_sites")).content)
    shifted = mapbox_vector_tile.decode(api.get(url("practice_sites") + "?crs=gcj02").content)
    assert plain["practice_sites"]["features"] and shifted["practice_sites"]["features"]
    a = {f["properties"]["code"]: f["geometry"]["coordinates"] for f in
         plain["practice_sites"]["features"]}
    b = {f["properties"]["code"]: f["geometry"]["coordinates"] for f in
         shifted["practice_sites"]["features"]}
    common = set(a) & set(b)
    assert common and all(a[c] != b[c] for c in common)
    assert api.get(url("practice_sites") + "?crs=mars").status_code == 400
    app = create_app(ServiceSettings(basemap="amap"),
                     DatabaseSettings(database_url=service.database_url))
    with TestClient(app) as client:
        page = client.get("/maps/overview").text
    assert "crs=gcj02" in page and "autonavi" in page
