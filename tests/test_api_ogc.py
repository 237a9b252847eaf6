"""OGC API - Features as clients use it: plain HTTP, GDAL's OAPIF driver and OWSLib."""

from __future__ import annotations

import pyogrio
import pytest
from sqlalchemy import create_engine, text


def db_rows(service, sql):
    engine = create_engine(service.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).all()
    finally:
        engine.dispose()


def test_landing_conformance_and_collections(api):
    landing = api.get("/").json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conf = api.get("/conformance").json()["conformsTo"]
    for c in ("ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson",
              "ogcapi-features-3/1.0/conf/filter", "ogcapi-features-3/1.0/conf/features-filter",
              "cql2/1.0/conf/cql2-text", "cql2/1.0/conf/basic-cql2"):
        assert any(x.endswith(c) for x in conf), c
    ids = [c["id"] for c in api.get("/collections").json()["collections"]]
    assert {"compounds", "party_orgs", "practice_sites", "grid_cells", "coverage", "gaps",
            "access"} <= set(ids)
    assert "members" not in ids  # personal data is not published
    assert api.get("/api").json()["paths"]
    assert api.get("/?f=html").headers["content-type"].startswith("text/html")


def test_items_paging_links_and_counts(api):
    first = api.get("/collections/compounds/items", params={"limit": 40}).json()
    assert first["numberMatched"] == 107 and first["numberReturned"] == 40
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    second = api.get(nxt).json()
    assert second["numberReturned"] == 40
    assert {f["id"] for f in first["features"]}.isdisjoint(f["id"] for f in second["features"])
    assert any(link["rel"] == "prev" for link in second["links"])


def test_items_bbox_filter_sort_properties(api, service):
    params = {"bbox": "111.19,37.32,111.21,37.35", "filter": "households > 400",
              "sortby": "-households", "properties": "name,households", "limit": 1000}
    page = api.get("/collections/compounds/items", params=params).json()
    expected = db_rows(service, """SELECT code FROM compounds WHERE households > 400 AND
        ST_Intersects(geom, ST_MakeEnvelope(111.19, 37.32, 111.21, 37.35, 4326))
        ORDER BY households DESC, code""")
    assert [f["id"] for f in page["features"]] == [r[0] for r in expected]
    assert set(page["features"][0]["properties"]) == {"name", "households"}
    spatial = api.get("/collections/compounds/items", params={
        "filter": "S_INTERSECTS(geometry, BBOX(111.19,37.32,111.21,37.35)) AND households > 400",
        "limit": 1000}).json()
    assert spatial["numberMatched"] == len(expected)


def test_analysis_collections_filter(api):
    page = api.get("/collections/coverage/items",
                   params={"filter": "status = 'under_covered'", "limit": 5}).json()
    assert page["numberMatched"] == 29 and all(
        f["properties"]["status"] == "under_covered" for f in page["features"])
    gap = api.get("/collections/gaps/items", params={"limit": 1}).json()["features"][0]
    assert gap["properties"]["rank"] == 1 and gap["properties"]["reasons_zh"]


@pytest.mark.parametrize("params,fragment", [
    ({"filter": "nope = 1"}, "unknown property 'nope'"),
    ({"filter": "households >"}, "not valid CQL2"),
    ({"filter": "households > 'many'"}, "does not fit"),
    ({"filter": "name = 'x'; DROP TABLE compounds"}, "not valid CQL2"),
    ({"sortby": "households; DROP TABLE compounds"}, "cannot sort by"),
    ({"properties": "name,password"}, "unknown properties password"),
    ({"bbox": "1,2,3"}, "not four numbers"),
    ({"limit": "0"}, "greater than or equal to 1"),
    ({"limit": "100000"}, "less than or equal to 10000"),
    ({"filter-lang": "cql2-json", "filter": "{}"}, "not supported"),
])
def test_bad_queries_are_400_with_a_message(api, params, fragment):
    r = api.get("/collections/compounds/items", params=params)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["description"]
    assert api.get("/collections/compounds/items", params={"limit": 1}).status_code == 200


def test_not_found(api):
    assert api.get("/collections/nope/items").status_code == 404
    assert api.get("/collections/compounds/items/nope").status_code == 404


def test_gdal_oapif_reads_every_layer(service):
    for layer in ("compounds", "party_orgs", "practice_sites", "grid_cells", "divisions",
                  "townships"):
        df = pyogrio.read_dataframe(f"OAPIF:{service.url}", layer=layer)
        (count,), = db_rows(service, f"SELECT count(*) FROM {layer}")
        assert len(df) == count, layer
    df = pyogrio.read_dataframe(f"OAPIF:{service.url}", layer="compounds",
                                bbox=(111.19, 37.32, 111.21, 37.35), where="households > 400")
    expected = db_rows(service, """SELECT code FROM compounds WHERE households > 400 AND
        ST_Intersects(geom, ST_MakeEnvelope(111.19, 37.32, 111.21, 37.35, 4326))""")
    assert sorted(df["code"]) == sorted(r[0] for r in expected)


def test_owslib_reads_with_bbox_and_filter(service):
    from owslib.ogcapi.features import Features

    w = Features(service.url)
    assert "compounds" in [c["id"] for c in w.collections()["collections"]]
    page = w.collection_items("compounds", bbox=[111.19, 37.32, 111.21, 37.35],
                              filter="households > 400", limit=1000)
    expected = db_rows(service, """SELECT code FROM compounds WHERE households > 400 AND
        ST_Intersects(geom, ST_MakeEnvelope(111.19, 37.32, 111.21, 37.35, 4326))""")
    assert sorted(f["id"] for f in page["features"]) == sorted(r[0] for r in expected)


def test_openapi_is_3_0(api):
    doc = api.get("/api").json()
    assert doc["openapi"] == "3.0.3"
    text = api.get("/api").text
    assert '"type": "null"' not in text and '"type":"null"' not in text
    assert "/collections/{collection_id}/items" in doc["paths"]


def test_tables_without_geometry_and_injection_in_ids(api):
    page = api.get("/collections/assignments/items", params={"limit": 2}).json()
    assert page["features"][0]["geometry"] is None and page["numberMatched"] >= 142
    one = api.get(f"/collections/assignments/items/{page['features'][0]['id']}")
    assert one.status_code == 200
    for bad in ("1 OR 1=1", "1; DROP TABLE assignments", "'"):
        assert api.get(f"/collections/assignments/items/{bad}").status_code == 404
    assert api.get("/collections/compounds/items/x' OR '1'='1").status_code == 404
    assert api.get("/collections/work_groups/items", params={"bbox": "111,37,112,38"}
                   ).status_code == 400
    assert api.get("/collections/key_tasks/items").json()["numberMatched"] == 12
