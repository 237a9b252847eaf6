"""Export, then import into an empty database: the same rows and the same geometries."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely

from gridgov.io.export import export_layers, read_layer_frame
from gridgov.io.importer import import_bundle
from gridgov.layers import LAYER_ORDER, get_layer

PROVENANCE_FREE = {"updated_at", "version"}


def snapshot(engine) -> dict[str, pd.DataFrame]:
    return {name: read_layer_frame(engine, name) for name in LAYER_ORDER}


def assert_same(a: pd.DataFrame, b: pd.DataFrame, layer: str):
    assert list(a.columns) == list(b.columns), layer
    assert len(a) == len(b), layer
    spec = get_layer(layer)
    if spec.geometry:
        ga, gb = a.geometry.values, b.geometry.values
        both_none = pd.isna(ga) & pd.isna(gb)
        same = shapely.equals_exact(shapely.normalize(ga), shapely.normalize(gb), tolerance=1e-9)
        assert (both_none | same).all(), f"{layer}: geometries differ"
        a, b = pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_dtype=False, obj=layer)


@pytest.fixture(scope="module")
def seeded_snapshot(seeded_engine):
    return snapshot(seeded_engine)


@pytest.mark.parametrize("target,fmt", [
    ("zhongyang.gpkg", None),
    ("zhongyang.xlsx", None),
    ("shp", "shp"),
    ("geojson", "geojson"),
    ("csv", "csv"),
])
def test_round_trip(seeded_engine, seeded_snapshot, empty_engine, tmp_path, target, fmt):
    path = tmp_path / target
    written = export_layers(seeded_engine, path, fmt=fmt)
    assert written == list(LAYER_ORDER)
    results = import_bundle(empty_engine, path)
    assert [r.layer for r in results] == list(LAYER_ORDER)
    after = snapshot(empty_engine)
    for name in LAYER_ORDER:
        assert_same(seeded_snapshot[name], after[name], name)


def test_shapefile_export_has_cpg_and_short_names(seeded_engine, tmp_path):
    export_layers(seeded_engine, tmp_path / "out", fmt="shp")
    assert (tmp_path / "out" / "compounds.cpg").read_text().strip().upper() in ("UTF-8", "UTF8")
    assert (tmp_path / "out" / "members.csv").exists()  # tables without geometry go to CSV
    import pyogrio

    fields = pyogrio.read_info(tmp_path / "out" / "divisions.shp")["fields"]
    assert all(len(f) <= 10 for f in fields) and "vrules" in fields


def test_csv_has_bom_for_excel(seeded_engine, tmp_path):
    export_layers(seeded_engine, tmp_path / "compounds.csv", layers=["compounds"])
    data = (tmp_path / "compounds.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert "小区".encode() in data


def test_single_layer_file_needs_one_layer(seeded_engine, tmp_path):
    from gridgov.errors import InputError

    with pytest.raises(InputError, match="holds one layer"):
        export_layers(seeded_engine, tmp_path / "all.geojson")
    assert not list(tmp_path.iterdir())
