"""Collection and TileJSON extents come from the data: a county loaded beside Zhongyang widens
them, and the next request sees it (the cache is keyed by data version)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

import fixture_county as fx
from gridgov.features import FeatureService
from gridgov.io.importer import import_bundle
from gridgov.tiles import TileService


def _data_extent(engine, table):
    with engine.connect() as conn:
        return list(conn.execute(text(
            f"SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) "
            f"FROM (SELECT ST_Extent(geom) AS b FROM {table}) s")).one())


def test_extents_follow_the_data(seeded_copy, tmp_path):
    features = FeatureService(seeded_copy, version_ttl=0.0)
    tiles = TileService(seeded_copy, features.version_tag)
    compounds = features.collection("compounds")
    before = features.extent(compounds)
    assert before == pytest.approx(_data_extent(seeded_copy, "compounds"))
    assert tiles.tilejson("compounds", "http://x")["bounds"] == pytest.approx(before)
    # the analysis collections are bounded by what they describe
    assert features.extent(features.collection("coverage")) == pytest.approx(before)
    assert features.extent(features.collection("work_groups")) is None  # no geometry

    import_bundle(seeded_copy, fx.write(tmp_path / "fixture"))
    after = features.extent(compounds)
    assert after == pytest.approx(_data_extent(seeded_copy, "compounds"))
    assert after != pytest.approx(before)
    assert after[0] <= before[0] and after[1] <= before[1]
    assert after[2] >= before[2] and after[3] >= before[3]
    assert tiles.tilejson("compounds", "http://x")["bounds"] == pytest.approx(after)
    assert tiles.tilejson("offices", "http://x")["bounds"] == pytest.approx(
        _data_extent(seeded_copy, "party_orgs"))


def test_collection_documents_carry_the_data_extent(api, service):
    doc = api.get("/collections/compounds").json()
    (bbox,) = doc["extent"]["spatial"]["bbox"]
    assert 111.0 < bbox[0] < bbox[2] < 111.4 and 37.2 < bbox[1] < bbox[3] < 37.5
    # not the county constants it used to be
    assert bbox != [110.8, 37.0, 111.5, 37.5]
    tj = api.get("/tiles/compounds/tilejson.json").json()
    assert tj["bounds"] == pytest.approx(bbox)
