"""The /cases API over the real service: intake with a photo, moves by role (403 for the wrong
role or unit, 409 for the wrong state, 412 for a stale version), photos checked and served
without EXIF, KPIs for officials, rate limits, and no reporter's personal data below admin in any
response, tile or export."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image
from sqlalchemy import text

from gridgov import auth
from gridgov.db import make_engine
from test_cases import ensure_categories

PHONE, NAME = "13912340000", "赵大明"
KANGLE = {"lon": "111.19765", "lat": "37.33306"}  # inside 康乐小区


def jpeg_with_gps(color=(200, 30, 30)) -> bytes:
    img = Image.new("RGB", (64, 48), color)
    exif = Image.Exif()
    exif[0x9003] = "2026:11:20 08:15:00"  # DateTimeOriginal, in the EXIF IFD below
    gps = {1: "N", 2: (37.0, 19.0, 59.0), 3: "E", 4: (111.0, 11.0, 51.0)}
    exif[0x8825] = gps
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


@pytest.fixture(scope="module")
def case_service(databases, seeded_template, tmp_path_factory):
    from service import LiveService

    url = databases.create(seeded_template, "cases_api")
    engine = make_engine(url)
    ensure_categories(engine, tmp_path_factory.mktemp("cats"))
    keys = {name: auth.add_user(engine, name, role, org_code=org) for name, role, org in (
        ("center", "dispatcher", None), ("plan", "planner", None), ("boss", "admin", None),
        ("p047", "handler", "141129-P047"), ("p001", "handler", "141129-P001"))}
    engine.dispose()
    media = tmp_path_factory.mktemp("media")
    with LiveService(url, GRIDGOV_MEDIA_DIR=str(media)) as live:
        with httpx.Client(base_url=live.url, timeout=60) as client:
            yield client, keys, url


def as_(keys, name, **extra):
    return {"X-API-Key": keys[name], **extra}


def _file(api, **extra):
    data = {"category_code": "0101", "description": "单元门口垃圾堆放三天", **KANGLE,
            "anonymous": "false", "reporter_name": NAME, "reporter_phone": PHONE, **extra}
    return api.post("/cases", data=data, files=[("photos", ("p.jpg", jpeg_with_gps(),
                                                            "image/jpeg"))])


def test_intake_moves_and_refusals(case_service):
    api, keys, _ = case_service
    r = _file(api)
    assert r.status_code == 201, r.text
    case = r.json()
    code = case["code"]
    assert case["status"] == "received" and case["unit_code"] == "141129-P047"
    assert "reporter_phone" not in case and PHONE not in r.text  # anonymous filer sees none
    assert r.headers["location"] == f"/cases/{code}"

    def move(action, who, **body):
        return api.post(f"/cases/{code}/actions/{action}", json=body, headers=as_(keys, who))

    assert move("file", "p047").status_code == 403  # a unit cannot file
    assert api.post(f"/cases/{code}/actions/file").status_code == 403  # anonymous
    assert move("file", "center").status_code == 200
    assert move("sign", "p047").status_code == 409  # not dispatched yet
    assert move("dispatch", "center").status_code == 200
    assert move("sign", "p001").status_code == 403  # another organization's handler
    stale = api.post(f"/cases/{code}/actions/sign", json={},
                     headers=as_(keys, "p047", **{"If-Match": '"v1"'}))
    assert stale.status_code == 412 and stale.json()["current"]["status"] == "dispatched"
    signed = move("sign", "p047")
    assert signed.status_code == 200 and signed.json()["status"] == "signed"
    after = api.post(f"/cases/{code}/photos", data={"stage": "after"},
                     files={"photo": ("a.jpg", jpeg_with_gps((30, 200, 30)), "image/jpeg")},
                     headers=as_(keys, "p047"))
    assert after.status_code == 201
    fake = api.post(f"/cases/{code}/photos", data={"stage": "after"},
                    files={"photo": ("a.jpg", b"<html>not an image</html>", "image/jpeg")},
                    headers=as_(keys, "p047"))
    assert fake.status_code == 422 and "photo" in fake.json()["description"]
    huge = api.post(f"/cases/{code}/photos", data={"stage": "after"},
                    files={"photo": ("b.jpg", b"\xff\xd8" + b"0" * 11_000_000, "image/jpeg")},
                    headers=as_(keys, "p047"))
    assert huge.status_code in (413, 422)
    assert move("handle", "p047", note="已清运").status_code == 200
    assert move("approve", "center", satisfaction=5).json()["status"] == "closed"

    detail = api.get(f"/cases/{code}", headers=as_(keys, "center")).json()
    assert [e["action"] for e in detail["events"]] == [
        "report", "file", "dispatch", "sign", "handle", "approve"]
    assert detail["actions"] == ["reopen"]
    assert {p["stage"] for p in detail["photos"]} == {"report", "after"}
    photo = api.get(detail["photos"][0]["url"])
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    served = Image.open(io.BytesIO(photo.content))
    assert not served.getexif() and "exif" not in served.info  # no EXIF, no GPS


def test_no_reporter_data_below_admin(case_service):
    api, keys, url = case_service
    code = _file(api).json()["code"]
    anonymous = [api.get(f"/cases/{code}"), api.get("/cases?limit=500"),
                 api.get("/collections/cases/items?limit=1000"),
                 api.get(f"/collections/cases/items/{code}"),
                 api.get("/cases/kpis?format=csv"), api.get("/collections/cases/queryables")]
    for r in anonymous:
        assert r.status_code == 200, r.url
        assert PHONE not in r.text and NAME not in r.text, r.url
    for z, x, y in ((12, 3313, 1589), (14, 13253, 6357), (16, 53013, 25429)):
        tile = api.get(f"/tiles/cases/{z}/{x}/{y}.pbf")
        assert tile.status_code == 200 and PHONE.encode() not in tile.content
        assert NAME.encode() not in tile.content
    masked = api.get(f"/cases/{code}", headers=as_(keys, "center")).json()
    assert masked["reporter_name"] == "赵**" and masked["reporter_phone"] == "139****0000"
    assert api.get(f"/cases/{code}", headers=as_(keys, "plan")).json()["reporter_phone"] == \
        "139****0000"
    full = api.get(f"/cases/{code}", headers=as_(keys, "boss")).json()
    assert (full["reporter_name"], full["reporter_phone"]) == (NAME, PHONE)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:  # stored in full, for whoever holds the database
            assert conn.execute(text("SELECT reporter_phone FROM cases WHERE code = :c"),
                                {"c": code}).scalar() == PHONE
    finally:
        engine.dispose()


def test_kpis_for_officials_and_whistles_are_the_centers(case_service):
    api, keys, _ = case_service
    k = api.get("/cases/kpis?level=county&period=month")
    assert k.status_code == 200 and isinstance(k.json(), list)
    xlsx = api.get("/cases/kpis?level=unit&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert _file(api, channel="whistle").status_code == 403
    r = api.post("/cases", data={"category_code": "0101", "description": "吹哨", **KANGLE,
                                 "channel": "whistle"}, headers=as_(keys, "center"))
    assert r.status_code == 201 and r.json()["channel"] == "whistle"


def test_intake_is_rate_limited_per_address(databases, seeded_template, tmp_path):
    from service import LiveService

    url = databases.create(seeded_template, "cases_limit")
    engine = make_engine(url)
    ensure_categories(engine, tmp_path)
    engine.dispose()
    with LiveService(url, GRIDGOV_SERVICE_INTAKE_PER_MINUTE_ADDRESS="2",
                     GRIDGOV_MEDIA_DIR=str(tmp_path / "media")) as live:
        with httpx.Client(base_url=live.url, timeout=60) as api:
            statuses = [api.post("/cases", data={"category_code": "0101", "description": "x",
                                                 **KANGLE}).status_code for _ in range(6)]
            assert statuses[0] == 201 and statuses[-1] == 429
            refused = api.post("/cases", data={"category_code": "0101", "description": "x",
                                               **KANGLE})
            assert int(refused.headers["retry-after"]) >= 1
            tries = [api.post("/auth/token", data={"username": "nobody", "password": "guess"})
                     .status_code for _ in range(8)]
            assert tries[0] == 401 and 429 in tries


def test_categories_are_edited_like_any_layer(case_service):
    api, keys, _ = case_service
    read = api.get("/edits/categories/0101", headers=as_(keys, "plan"))
    assert read.status_code == 200 and read.json()["limit_type"] == "working_days"
    changed = api.patch("/edits/categories/0101", json={"time_limit": 2},
                        headers=as_(keys, "plan", **{"If-Match": read.headers["etag"]}))
    assert changed.status_code == 200 and changed.json()["time_limit"] == 2
    assert api.patch("/edits/categories/0101", json={"time_limit": 3},
                     headers=as_(keys, "plan", **{"If-Match": read.headers["etag"]})
                     ).status_code == 412
    assert api.patch("/edits/categories/0101", json={"time_limit": 3},
                     headers=as_(keys, "center")).status_code == 403
    log = api.get("/audit?table=case_categories&key=0101", headers=as_(keys, "boss")).json()
    assert log[0]["actor"] == "plan" and log[0]["after"]["time_limit"] == 2
