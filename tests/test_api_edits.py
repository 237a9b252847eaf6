"""Edits through the API: no lost updates, complete history, an audit trail, refused garbage."""

from __future__ import annotations

import httpx
import pytest

from gridgov import auth
from gridgov.db import make_engine


@pytest.fixture(scope="module")
def edit_service(databases, seeded_template):
    from service import LiveService

    url = databases.create(seeded_template, "edits")
    engine = make_engine(url)
    keys = {name: auth.add_user(engine, name, role) for name, role in
            (("planner_a", "planner"), ("planner_b", "planner"), ("boss", "admin"))}
    engine.dispose()
    with LiveService(url) as live:
        with httpx.Client(base_url=live.url, timeout=60) as client:
            yield client, keys


def as_(keys, name, **extra):
    return {"X-API-Key": keys[name], **extra}


def test_two_planners_cannot_lose_an_update(edit_service):
    api, keys = edit_service
    first = api.get("/edits/orgs/141129-P010", headers=as_(keys, "planner_a"))
    etag = first.headers["etag"]
    a = api.patch("/edits/orgs/141129-P010", headers=as_(keys, "planner_a", **{"If-Match": etag}),
                  json={"member_count": 21})
    assert a.status_code == 200 and a.json()["member_count"] == 21
    b = api.patch("/edits/orgs/141129-P010", headers=as_(keys, "planner_b", **{"If-Match": etag}),
                  json={"member_count": 5})
    assert b.status_code == 412
    assert b.json()["current"]["member_count"] == 21 and b.headers["etag"] == a.headers["etag"]
    # redone on top of the current state, it goes through
    c = api.patch("/edits/orgs/141129-P010",
                  headers=as_(keys, "planner_b", **{"If-Match": b.headers["etag"]}),
                  json={"member_count": 22})
    assert c.status_code == 200
    assert api.patch("/edits/orgs/141129-P010", headers=as_(keys, "planner_b"),
                     json={"member_count": 1}).status_code == 428


def test_assignment_history_and_audit(edit_service):
    api, keys = edit_service
    created = api.post("/edits/assignments", headers=as_(keys, "planner_a"), json={
        "org_code": "141129-P020", "compound_code": "141129100002001", "valid_from": "2026-01-01",
        "members": 3, "note": "补充力量"})
    assert created.status_code == 201, created.text
    aid = created.json()["id"]
    again = api.post("/edits/assignments", headers=as_(keys, "planner_b"), json={
        "org_code": "141129-P020", "compound_code": "141129100002001", "valid_from": "2026-02-01"})
    assert again.status_code == 422 and "already holds" in again.json()["description"]
    ended = api.post(f"/edits/assignments/{aid}/end",
                     headers=as_(keys, "planner_b", **{"If-Match": created.headers["etag"]}),
                     json={"valid_to": "2026-06-30"})
    assert ended.status_code == 200 and ended.json()["valid_to"] == "2026-06-30"
    log = api.get("/audit", headers=as_(keys, "boss"),
                  params={"table": "assignments", "key": str(aid)}).json()
    assert [(r["action"], r["actor"]) for r in reversed(log)] == [
        ("INSERT", "planner_a"), ("UPDATE", "planner_b")]
    assert log[0]["before"]["valid_to"] is None and log[0]["after"]["valid_to"] == "2026-06-30"
    by_user = api.get("/audit", headers=as_(keys, "boss"), params={"actor": "planner_b"}).json()
    assert any(r["record_key"] == str(aid) for r in by_user)
    # the row itself is still there: history is kept, never overwritten
    assert api.get(f"/edits/assignments/{aid}", headers=as_(keys, "boss")).json()["valid_to"] == \
        "2026-06-30"


def test_moving_a_site_is_audited_with_geometry(edit_service):
    api, keys = edit_service
    site = api.get("/edits/sites/141129-S010", headers=as_(keys, "planner_a"))
    moved = api.patch("/edits/sites/141129-S010",
                      headers=as_(keys, "planner_a", **{"If-Match": site.headers["etag"]}),
                      json={"lon": 111.2071, "lat": 37.3452})
    assert moved.status_code == 200 and moved.json()["lon"] == pytest.approx(111.2071)
    log = api.get("/audit", headers=as_(keys, "boss"),
                  params={"table": "practice_sites", "key": "141129-S010"}).json()
    assert log[0]["after"]["geom"].startswith("POINT(111.2071")


@pytest.mark.parametrize("method,path,body,headers,status", [
    ("patch", "/edits/sites/141129-S001", {"lon": 500, "lat": 37}, {"If-Match": '"v1"'}, 400),
    ("patch", "/edits/sites/141129-S001", {"tier": "center"}, {"If-Match": '"v1"'}, 400),
    ("patch", "/edits/sites/141129-S001", {"theme": "x"}, {"If-Match": "yesterday"}, 400),
    ("patch", "/edits/sites/nope'; DROP TABLE practice_sites; --", {"theme": "x"},
     {"If-Match": '"v1"'}, 404),
    ("post", "/edits/assignments", {"org_code": "141129-P404", "compound_code": "x"}, {}, 404),
    ("post", "/edits/assignments/abc/end", {}, {"If-Match": '"v1"'}, 400),
    ("get", "/edits/assignments/1 OR 1=1", None, {}, 400),
])
def test_bad_edits_are_4xx(edit_service, method, path, body, headers, status):
    api, keys = edit_service
    kwargs = {"headers": as_(keys, "planner_a", **headers)}
    if body is not None:
        kwargs["json"] = body
    r = getattr(api, method)(path, **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["description"]


def test_oversized_bodies_are_refused_early(edit_service):
    api, keys = edit_service
    r = api.post("/analysis/scenarios", content=b"[" + b"0," * 1_000_000 + b"0]",
                 headers={"content-type": "application/json"})
    assert r.status_code == 413
