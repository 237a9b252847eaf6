"""Analysis endpoints: the same numbers as the library, downloads for officials, 4xx on nonsense."""

from __future__ import annotations

import io

import pandas as pd

from gridgov.analysis import coverage


def test_kpis_match_the_library(api, service):
    from gridgov.db import make_engine

    engine = make_engine(service.database_url)
    expected = coverage.kpis(coverage.coverage(engine))
    engine.dispose()
    k = api.get("/analysis/kpis").json()
    assert k["under_covered"] == expected["under_covered"] and k["compounds"] == 107


def test_downloads(api):
    csv = api.get("/analysis/gaps", params={"format": "csv"})
    assert csv.content.startswith("\ufeff".encode()) and "attachment" in csv.headers[
        "content-disposition"]
    xlsx = api.get("/analysis/gaps", params={"format": "xlsx"})
    sheet = pd.read_excel(io.BytesIO(xlsx.content), sheet_name="问题小区")
    assert sheet.columns[0] == "排序" and len(sheet) > 0
    gj = api.get("/analysis/coverage", params={"format": "geojson"}).json()
    assert len(gj["features"]) == 107
    assert len(api.get("/analysis/coverage", params={"level": "township"}).json()) == 1
    assert api.get("/analysis/org-load/balance").json()["orgs"] == 131
    assert api.get("/analysis/access", params={"format": "json"}).status_code == 200


def test_recommendations_and_scenario(api):
    rec = api.get("/analysis/recommendations/assignments").json()
    assert rec["kpis_after"]["under_covered"] < rec["kpis_before"]["under_covered"]
    sites = api.get("/analysis/recommendations/sites", params={"n": 2}).json()
    assert len(sites["sites"]) == 2
    first = api.get("/collections/coverage/items", params={"limit": 1}).json()["features"][0]
    org = first["properties"]["org_codes"].split(";")[0]
    body = {"changes": [{"op": "end_assignment", "org_code": org,
                         "compound_code": first["id"]}]}
    out = api.post("/analysis/scenarios", json=body).json()
    assert out["kpis_after"]["members_sunk"] <= out["kpis_before"]["members_sunk"]
    # nothing changed for real
    assert api.get("/collections/coverage/items", params={"limit": 1}).json()["features"][0][
        "properties"]["org_codes"] == first["properties"]["org_codes"]


def test_bad_analysis_requests_are_4xx(api):
    assert api.get("/analysis/coverage", params={"level": "planet"}).status_code == 400
    assert api.get("/analysis/kpis", params={"as_of": "yesterday"}).status_code == 400
    assert api.get("/analysis/access", params={"detour_factor": "0.5"}).status_code == 400
    r = api.post("/analysis/scenarios", json={"changes": [{"op": "paint"}]})
    assert r.status_code == 400
    r = api.post("/analysis/scenarios", json={"changes": [
        {"op": "end_assignment", "org_code": "141129-P999", "compound_code": "x"}]})
    assert r.status_code in (404, 422) and "141129-P999" in r.json()["description"]
    assert api.post("/analysis/scenarios", content=b"{not json",
                    headers={"content-type": "application/json"}).status_code == 400
    assert api.get("/healthz").json()["status"] == "ok"
