"""Open311 GeoReport v2 over the real service: a real client (civicbot's GeoReport v2 client,
from PyPI) files a request and reads it back; discovery, services and a service's definition;
the requests filters and their 90-day window; tokens; every path in JSON and XML with the
standard's element names; errors in its array form (400, 403, 404, 429 with Retry-After); a
photo from the mini program; and no reporter's name, phone, e-mail or account in any answer
below an admin's."""

from __future__ import annotations

import datetime as dt
import io
import xml.etree.ElementTree as ET

import httpx
import pytest
from civicbot import Endpoint, HttpTransport, Open311Client
from civicbot.http import HttpError, RateLimiter
from PIL import Image
from sqlalchemy import text

from gridgov import auth
from gridgov.auth import Principal
from gridgov.calendar import SHANGHAI
from gridgov.cases import intake, lifecycle
from gridgov.db import make_engine
from gridgov.io.importer import import_layer
from test_cases import ensure_categories

V2 = "/open311/v2"
KANGLE = (37.33306, 111.19765)  # (lat, long) inside 康乐小区: routed to 141129-P047
# what a resident tells the app; none of it may reach anyone below an admin
FIRST, LAST, PHONE, EMAIL, ACCOUNT = "小明", "王", "139-1234-5678", "wxm@example.com", \
    "wx-openid-7Qa9"
SECRETS = ("王小明", FIRST, "13912345678", "1234-5678", EMAIL, ACCOUNT)
ADMIN = Principal("o311-boss", "admin")
# a service of this test's own: the bundle's 20,000 cases stay out of its lists
PROBE = "9901"
PROBE_CSV = """code,kind,class_name,name,time_limit,limit_type
9901,event,测试,Open311 测试类别,1,working_days
"""
REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name",
                  "service_code", "description", "agency_responsible", "service_notice",
                  "requested_datetime", "updated_datetime", "expected_datetime", "address",
                  "address_id", "zipcode", "lat", "long", "media_url"]


@pytest.fixture(scope="module")
def o311(databases, seeded_template, tmp_path_factory):
    """The real service over a seeded copy with the case categories, an app's key and an
    admin's, and a media folder. Its own, not the session's: intake is limited per client
    address, and every test request comes from 127.0.0.1 (the limit has its own test)."""
    from service import LiveService

    url = databases.create(seeded_template, "open311")
    engine = make_engine(url)
    ensure_categories(engine, tmp_path_factory.mktemp("o311_categories"))
    keys = {"app": auth.add_user(engine, "o311-miniapp", "viewer"),
            "admin": auth.add_user(engine, "o311-admin", "admin")}
    media = tmp_path_factory.mktemp("o311_media")
    with LiveService(url, GRIDGOV_MEDIA_DIR=str(media),
                     GRIDGOV_SERVICE_INTAKE_PER_MINUTE_ADDRESS="100000") as live, \
            httpx.Client(base_url=live.url, timeout=60) as api:
        yield live, api, keys, engine
    engine.dispose()


@pytest.fixture(scope="module")
def client(o311):
    """civicbot's GeoReport v2 client, pointed at our endpoint (no politeness delay)."""
    endpoint = Endpoint(id="zhongyang", name="中阳县", base_url=f"{o311[0].url}{V2}",
                        write=True)
    return Open311Client(endpoint, transport=HttpTransport(rate_limiter=RateLimiter(0)))


def _file(client, key, service_code="0101", **extra):
    fields = dict(lat=KANGLE[0], lng=KANGLE[1], description="楼下垃圾堆放三天没人清运",
                  address_string="康乐小区3号楼", first_name=FIRST, last_name=LAST, phone=PHONE,
                  email=EMAIL, account_id=ACCOUNT)
    fields.update(extra)
    prepared = client.create_request(service_code, dry_run=False, confirm="SEND",
                                     api_key=key, **fields)
    return prepared.response


def _xml(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"] == "text/xml; charset=utf-8", response.text
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def _errors(response: httpx.Response, status: int, fmt: str = "json") -> list[str]:
    """The descriptions of a response in the standard's error form, checked."""
    assert response.status_code == status, response.text
    if fmt == "xml":
        root = _xml(response)
        assert root.tag == "errors" and [c.tag for c in root] == ["error"] * len(root)
        assert all([x.tag for x in e] == ["code", "description"] for e in root)
        assert {e.findtext("code") for e in root} == {str(status)}
        return [e.findtext("description") for e in root]
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert isinstance(body, list) and body and all(set(e) == {"code", "description"}
                                                   for e in body)
    assert {e["code"] for e in body} == {status}
    return [e["description"] for e in body]


# --- a real client ------------------------------------------------------------------------------

def test_a_real_client_files_a_request_and_reads_it_back(o311, client):
    _, _, keys, engine = o311
    services = client.list_services()
    litter = next(s for s in services if s["service_code"] == "0101")
    assert litter["service_name"] == "暴露垃圾（乱扔垃圾）" and litter["group"] == "市容环境"
    assert litter["metadata"] is False and litter["type"] == "realtime"
    assert client.get_service_definition("0101") == {"service_code": "0101", "attributes": []}

    (posted,) = _file(client, keys["app"])
    code = posted["service_request_id"]
    assert code.startswith("141129-") and posted["account_id"] == ACCOUNT
    assert posted["service_notice"].startswith("位于康乐小区") and posted["token"]

    got = client.get_request(code)
    assert list(got)[:len(REQUEST_FIELDS)] == REQUEST_FIELDS
    with engine.connect() as conn:
        case = lifecycle.load(conn, code)
        unit = conn.execute(text("SELECT name FROM party_orgs WHERE code = :c"),
                            {"c": case["unit_code"]}).scalar()
    assert case["unit_code"] == "141129-P047" and case["channel"] == "resident"
    assert (case["reporter_name"], case["reporter_phone"], case["reporter_account"]) == (
        "王小明", "13912345678", ACCOUNT)
    assert got["status"] == "open" and got["status_notes"] == f"已受理 · {case['routing_note']}"
    assert got["agency_responsible"] == unit
    assert (got["service_code"], got["service_name"]) == ("0101", "暴露垃圾（乱扔垃圾）")
    assert got["description"] == "楼下垃圾堆放三天没人清运" and got["address"] == "康乐小区3号楼"
    assert (got["lat"], got["long"]) == pytest.approx(KANGLE)
    assert got["requested_datetime"].endswith("+08:00") and got["expected_datetime"] is None
    assert got["media_url"] is None and got["zipcode"] == "" and got["address_id"] == ""
    assert client.get_token(posted["token"]) == [{"service_request_id": code,
                                                  "token": posted["token"]}]
    assert [r["service_request_id"] for r in client.list_requests(
        service_request_ids=[code])] == [code]

    # dispatched: the deadline is the expected time, the status note says so
    with engine.begin() as conn:
        for action in ("file", "dispatch"):
            lifecycle.move(conn, code, action, ADMIN)
    got = client.get_request(code)
    assert got["status"] == "open" and got["status_notes"].startswith("已派遣 · ")
    expected = dt.datetime.fromisoformat(got["expected_datetime"])
    assert expected.utcoffset() == dt.timedelta(hours=8) and expected > dt.datetime.now(SHANGHAI)


def test_the_client_is_refused_without_a_good_key(o311, client):
    for key in (None, "gg_not-a-key"):
        prepared = client.build_request("0101", lat=KANGLE[0], lng=KANGLE[1],
                                        description="x", api_key=key)
        with pytest.raises(HttpError) as refused:
            client.http.post_form(prepared.url, prepared.form)
        assert refused.value.status == 403 and '"code": 403' in refused.value.body


# --- discovery, services, definitions in both formats --------------------------------------------

def test_discovery_services_and_definitions_in_json_and_xml(o311):
    live, api, _, _ = o311
    r = api.get(f"{V2}/discovery.json")
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    found = r.json()
    assert set(found) >= {"changeset", "contact", "key_service", "endpoints"}
    (endpoint,) = found["endpoints"]
    assert endpoint == {"specification": "http://wiki.open311.org/GeoReport_v2",
                        "url": f"{live.url}{V2}", "changeset": found["changeset"],
                        "type": "production", "formats": ["application/json", "text/xml"]}
    root = _xml(api.get(f"{V2}/discovery.xml"))
    assert root.tag == "discovery"
    assert root.findtext("endpoints/endpoint/specification") == endpoint["specification"]
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == \
        ["application/json", "text/xml"]

    root = _xml(api.get(f"{V2}/services.xml"))
    assert root.tag == "services" and {c.tag for c in root} == {"service"}
    litter = next(s for s in root if s.findtext("service_code") == "0101")
    assert [c.tag for c in litter] == ["service_code", "service_name", "description", "metadata",
                                       "type", "keywords", "group"]
    assert (litter.findtext("service_name"), litter.findtext("metadata"),
            litter.findtext("type"), litter.findtext("group")) == (
        "暴露垃圾（乱扔垃圾）", "false", "realtime", "市容环境")
    assert "暴露垃圾（乱扔垃圾）" in litter.findtext("keywords").split(",")
    services = api.get(f"{V2}/services.json").json()
    assert {s["service_code"] for s in services} >= {"0101", "0402", "5101"}
    assert api.get(f"{V2}/services.json", params={"jurisdiction_id": "141129"}).json() == \
        services

    root = _xml(api.get(f"{V2}/services/5101.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "5101"
    assert root.find("attributes") is not None and len(root.find("attributes")) == 0
    assert api.get(f"{V2}/services/5101.json").json() == {"service_code": "5101",
                                                           "attributes": []}


# --- requests in XML, filters, the window -------------------------------------------------------

def test_post_and_read_in_xml(o311):
    _, api, keys, engine = o311
    r = api.post(f"{V2}/requests.xml", data={
        "api_key": keys["app"], "service_code": "0402", "lat": KANGLE[0], "long": KANGLE[1],
        "description": "消防通道被私家车堵住", "attribute[channel]": "12345"})
    assert r.status_code == 200, r.text
    root = _xml(r)
    assert root.tag == "service_requests" and [c.tag for c in root] == ["request"]
    posted = root[0]
    assert [c.tag for c in posted] == ["service_request_id", "service_notice", "account_id",
                                       "token"]
    code, token = posted.findtext("service_request_id"), posted.findtext("token")
    assert posted.find("account_id").text is None  # given none: an empty element
    with engine.connect() as conn:
        assert lifecycle.load(conn, code)["channel"] == "hotline"  # attribute[channel]=12345

    root = _xml(api.get(f"{V2}/requests/{code}.xml"))
    assert root.tag == "service_requests" and len(root) == 1
    request = root.find("request")
    assert [c.tag for c in request] == REQUEST_FIELDS
    assert request.findtext("status") == "open" and request.findtext("service_code") == "0402"
    assert float(request.findtext("lat")) == pytest.approx(KANGLE[0])
    listed = _xml(api.get(f"{V2}/requests.xml", params={"service_code": "0402"}))
    assert code in [q.findtext("service_request_id") for q in listed.findall("request")]
    root = _xml(api.get(f"{V2}/tokens/{token}.xml"))
    assert [(q.findtext("service_request_id"), q.findtext("token"))
            for q in root.findall("request")] == [(code, token)]


def test_a_client_that_sends_the_key_in_the_address(o311):
    """As the open311 package (2011) posts: api_key and jurisdiction_id in the query string."""
    _, api, keys, _ = o311
    form = {"service_code": "0101", "lat": KANGLE[0], "long": KANGLE[1], "description": "垃圾"}
    r = api.post(f"{V2}/requests.json", data=form,
                 params={"jurisdiction_id": "141129", "api_key": keys["app"]})
    assert r.status_code == 200, r.text
    _errors(api.post(f"{V2}/requests.json", data=form,
                     params={"jurisdiction_id": "990001", "api_key": keys["app"]}), 404)
    # and a time whose "+" was not encoded
    r = api.get(f"{V2}/requests.json?start_date=2026-11-01T00:00:00+08:00")
    assert r.status_code == 200, r.text


def test_requests_filters_and_the_90_day_window(o311, client, tmp_path):
    _, api, keys, engine = o311
    probe = tmp_path / "case_categories.csv"
    probe.write_text(PROBE_CSV, encoding="utf-8")
    import_layer(engine, "case_categories", probe)
    (kept,) = _file(client, keys["app"], PROBE, description="路边垃圾桶满溢")
    (refused,) = _file(client, keys["app"], PROBE, description="这不归县里管")
    kept, refused = kept["service_request_id"], refused["service_request_id"]
    with engine.begin() as conn:
        lifecycle.move(conn, refused, "reject", ADMIN, note="非本县管辖")
        old = intake.file_report(conn, ADMIN, category_code=PROBE, lon=KANGLE[1],
                                 lat=KANGLE[0], description="四个月前的老问题",
                                 reported_at=dt.datetime.now(dt.timezone.utc)
                                 - dt.timedelta(days=120))["code"]

    def ids(**params):
        r = api.get(f"{V2}/requests.json", params={"service_code": PROBE, **params})
        assert r.status_code == 200, r.text
        return {q["service_request_id"]: q for q in r.json()}

    everything = ids()
    assert set(everything) == {kept, refused}  # the last 90 days: not the old one
    assert everything[refused]["status"] == "closed"
    assert everything[refused]["status_notes"] == "不予立案 · 非本县管辖"
    assert set(ids(status="open")) == {kept} and set(ids(status="closed")) == {refused}
    assert set(ids(status="open,closed")) == {kept, refused}
    assert set(ids(service_code=f"0101,{PROBE}")) >= {kept, refused}
    assert kept not in ids(service_code="0402")
    assert set(ids(jurisdiction_id="141129")) == {kept, refused}

    now = dt.datetime.now(SHANGHAI)
    assert set(ids(start_date=(now - dt.timedelta(days=130)).isoformat(),
                   end_date=(now - dt.timedelta(days=100)).isoformat())) == {old}
    assert set(ids(end_date=(now - dt.timedelta(days=110)).date().isoformat())) == {old}
    assert set(ids(start_date=(now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))) \
        == {kept, refused}
    # service_request_id overrides every other filter, the window included
    assert set(ids(service_request_id=f"{old}, {kept}", status="closed",
                   service_code="0402")) == {old, kept}
    # newest first, at most 1000
    listed = api.get(f"{V2}/requests.json").json()
    stamps = [q["requested_datetime"] for q in listed]
    assert stamps == sorted(stamps, reverse=True) and 0 < len(listed) <= 1000

    too_long = {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-06-01T00:00:00+08:00"}
    assert "at most 90 days" in _errors(api.get(f"{V2}/requests.json", params=too_long), 400)[0]
    assert "at most 90 days" in _errors(
        api.get(f"{V2}/requests.xml", params=too_long), 400, "xml")[0]
    _errors(api.get(f"{V2}/requests.json", params={"start_date": "2026-06-01",
                                                   "end_date": "2026-05-01"}), 400)
    _errors(api.get(f"{V2}/requests.json", params={"start_date": "yesterday"}), 400)
    _errors(api.get(f"{V2}/requests.json", params={"status": "pending"}), 400)


# --- errors in the array form -------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_errors_in_the_array_form(o311, fmt):
    _, api, keys, _ = o311
    point = {"service_code": "0101", "lat": KANGLE[0], "long": KANGLE[1], "description": "x"}
    post = f"{V2}/requests.{fmt}"
    assert "api_key was not provided" in _errors(api.post(post, data=point), 403, fmt)[0]
    _errors(api.post(post, data={**point, "api_key": "gg_wrong"}), 403, fmt)
    # an address alone cannot be routed
    no_point = {"api_key": keys["app"], "service_code": "0101", "address_string": "康乐小区"}
    assert _errors(api.post(post, data=no_point), 400, fmt)[0].startswith(
        "lat/long: lat/long required")
    _errors(api.post(post, data={**point, "api_key": keys["app"], "service_code": "9999"}),
            400, fmt)
    outside = {**point, "api_key": keys["app"], "lat": 39.9, "long": 116.4}  # Beijing
    assert "no county" in _errors(api.post(post, data=outside), 400, fmt)[0]
    _errors(api.post(post, data={**point, "api_key": keys["app"], "lat": "north"}), 400, fmt)
    _errors(api.post(post, data={**point, "api_key": keys["app"], "description": "长" * 4001}),
            400, fmt)
    _errors(api.post(post, data={**point, "api_key": keys["app"], "jurisdiction_id": "990001"}),
            404, fmt)

    _errors(api.get(f"{V2}/services/9999.{fmt}"), 404, fmt)
    _errors(api.get(f"{V2}/requests/141129-20260101-999999.{fmt}"), 404, fmt)
    _errors(api.get(f"{V2}/requests/nothing-like-a-code.{fmt}"), 404, fmt)
    _errors(api.get(f"{V2}/tokens/forged-token.{fmt}"), 404, fmt)
    _errors(api.get(f"{V2}/services.{fmt}", params={"jurisdiction_id": "no-such-county"}), 404,
            fmt)
    _errors(api.get(f"{V2}/requests.{fmt}", params={"api_key": "gg_wrong"}), 403, fmt)
    _errors(api.get(f"{V2}/no-such-thing.{fmt}"), 404, fmt)
    r = api.delete(f"{V2}/requests.{fmt}")
    _errors(r, 405, fmt)
    assert r.headers["allow"] == "GET, POST"
    _errors(api.get(f"{V2}/services.csv"), 400)  # not a format: said in JSON


def test_a_forged_token_for_a_real_case_is_refused(o311, client):
    from gridgov.cases import open311

    _, api, keys, _ = o311
    (posted,) = _file(client, keys["app"])
    forged = open311.token(posted["service_request_id"], "not the service's secret")
    _errors(api.get(f"{V2}/tokens/{forged}.json"), 404)


# --- personal data ------------------------------------------------------------------------------

def test_reporters_contacts_only_for_admins(o311, client):
    _, api, keys, _ = o311
    (posted,) = _file(client, keys["app"])
    code, token = posted["service_request_id"], posted["token"]
    paths = [f"{V2}/requests/{code}.json", f"{V2}/requests/{code}.xml",
             f"{V2}/requests.json", f"{V2}/requests.xml", f"{V2}/tokens/{token}.json",
             f"{V2}/tokens/{token}.xml", f"{V2}/requests.json?service_request_id={code}"]
    for who in ({}, {"X-API-Key": keys["app"]}):  # anonymous, and a viewer's key
        for path in paths:
            r = api.get(path, headers=who)
            assert r.status_code == 200, r.text
            leaked = [s for s in SECRETS if s in r.text]
            assert not leaked, (path, who, leaked)
    listed = api.get(f"{V2}/requests.json").json()
    assert not {"reporter_name", "reporter_phone", "reporter_account"} & set(listed[0])

    for how in ({"params": {"api_key": keys["admin"]}},
                {"headers": {"X-API-Key": keys["admin"]}}):
        (seen,) = api.get(f"{V2}/requests/{code}.json", **how).json()
        assert (seen["reporter_name"], seen["reporter_phone"], seen["reporter_account"]) == (
            "王小明", "13912345678", ACCOUNT)
    root = _xml(api.get(f"{V2}/requests/{code}.xml", params={"api_key": keys["admin"]}))
    assert root.findtext("request/reporter_phone") == "13912345678"


# --- the mini program: multipart with a photo; media_url kept, not fetched -----------------------

def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 160, 60)).save(buf, "PNG")
    return buf.getvalue()


def test_a_photo_from_the_mini_program_and_a_media_url(o311):
    live, api, keys, engine = o311
    key = keys["app"]
    form = {"api_key": key, "service_code": "0101", "lat": str(KANGLE[0]),
            "long": str(KANGLE[1]), "description": "垃圾堆放", "media_url":
            "https://example.invalid/a.jpg"}
    r = api.post(f"{V2}/requests.json", data=form,
                 files=[("media", ("p.png", _png(), "image/png"))])
    assert r.status_code == 200, r.text
    code = r.json()[0]["service_request_id"]
    (got,) = api.get(f"{V2}/requests/{code}.json").json()
    assert got["media_url"].startswith(f"{live.url}/cases/{code}/photos/")
    photo = api.get(got["media_url"])
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"

    # a link only: kept with the case (not fetched) and given back; not a status note
    r = api.post(f"{V2}/requests.json", data=form)
    code = r.json()[0]["service_request_id"]
    (got,) = api.get(f"{V2}/requests/{code}.json").json()
    assert got["media_url"] == "https://example.invalid/a.jpg"
    assert "example.invalid" not in got["status_notes"]
    with engine.connect() as conn:
        events = lifecycle.events(conn, code, "141129")
    assert [(e["action"], e["note"]) for e in events][-1] == (
        "media_url", "https://example.invalid/a.jpg")

    # a file that is not a photo is refused, nothing written
    r = api.post(f"{V2}/requests.xml", data=form,
                 files=[("media", ("p.jpg", b"<html>no</html>", "image/jpeg"))])
    assert "photo" in _errors(r, 400, "xml")[0]


# --- the rate limit -----------------------------------------------------------------------------

def test_filing_is_rate_limited_per_address(databases, seeded_template):
    from service import LiveService

    url = databases.create(seeded_template, "open311_limited")
    engine = make_engine(url)
    key = auth.add_user(engine, "o311-limited", "viewer")
    engine.dispose()
    with LiveService(url, GRIDGOV_SERVICE_INTAKE_PER_MINUTE_ADDRESS="2") as live, \
            httpx.Client(base_url=live.url, timeout=60) as api:
        refused = {"api_key": key, "service_code": "0101", "address_string": "康乐小区"}
        # a burst of three gets through (refused for its own reasons: no point) ...
        for _ in range(3):
            _errors(api.post(f"{V2}/requests.json", data=refused), 400)
        # ... the fourth is over the limit
        r = api.post(f"{V2}/requests.json", data=refused)
        assert "too many reports" in _errors(r, 429)[0]
        assert int(r.headers["retry-after"]) >= 1
        r = api.post(f"{V2}/requests.xml", data=refused)
        _errors(r, 429, "xml")
        assert int(r.headers["retry-after"]) >= 1
        # reading is not limited
        assert api.get(f"{V2}/services.json").status_code == 200
