"""Who sees and changes what: the role matrix, personal data, sign-in, anonymous mode."""

from __future__ import annotations

import httpx
import pytest

from gridgov import auth
from gridgov.db import make_engine


@pytest.fixture(scope="module")
def keys(service):
    engine = make_engine(service.database_url)
    bound = {"handler": {"org_code": "141129-P001"}, "member": {"member_code": "141129-M0001"}}
    out = {role: auth.add_user(engine, f"t_{role}", role, password=f"pw-{role}-secret",
                               **bound.get(role, {}))
           for role in auth.ROLES}
    engine.dispose()
    return out


def headers(keys, role):
    return {} if role == "anonymous" else {"X-API-Key": keys[role]}


READS = ["/maps/overview", "/collections/compounds/items?limit=1", "/tiles/compounds/14/13253/6357.pbf",
         "/analysis/kpis", "/members/summary", "/edits/sites/141129-S001"]


@pytest.mark.parametrize("role", ["anonymous", "viewer", "planner", "admin"])
def test_role_matrix(api, keys, role):
    h = headers(keys, role)
    for path in READS:
        assert api.get(path, headers=h).status_code == 200, (role, path)
    roster = api.get("/members", headers=h, params={"org_code": "141129-P001"})
    assert roster.status_code == (200 if role in ("planner", "admin") else 403)
    audit = api.get("/audit", headers=h, params={"limit": 1})
    assert audit.status_code == (200 if role == "admin" else 403)
    site = api.get("/edits/sites/141129-S002", headers=h)
    patch = api.patch("/edits/sites/141129-S002", headers={**h, "If-Match": site.headers["etag"]},
                      json={"theme": f"{role} 测试"})
    assert patch.status_code == (200 if role in ("planner", "admin") else 403), patch.text
    save = api.post("/analysis/scenarios", headers=h, json={
        "changes": [{"op": "move_site", "code": "141129-S003", "lon": 111.2, "lat": 37.34}],
        "save_as": f"{role} 方案"})
    assert save.status_code == (200 if role in ("planner", "admin") else 403), save.text


def test_personal_data_by_role(api, keys):
    planner = api.get("/members", headers=headers(keys, "planner"),
                      params={"org_code": "141129-P001"}).json()
    admin = api.get("/members", headers=headers(keys, "admin"),
                    params={"org_code": "141129-P001"}).json()
    assert len(planner) == len(admin) > 0
    for p, a in zip(planner, admin):
        assert p["code"] == a["code"]
        assert p["name"] == a["name"][0] + "*" * (len(a["name"]) - 1) != a["name"]
        assert p["phone"] == a["phone"][:3] + "****" + a["phone"][-4:] != a["phone"]
    csv = api.get("/members", headers=headers(keys, "planner"), params={"format": "csv"}).text
    assert admin[0]["phone"] not in csv and admin[0]["name"] not in csv
    # no public output carries a member's name or phone
    some = [m for m in admin[:5]]
    for path in ("/collections/compounds/items?limit=200", "/analysis/gaps?format=csv",
                 "/analysis/coverage?format=geojson", "/maps/overview", "/maps/gaps",
                 "/members/summary", "/collections"):
        body = api.get(path).text
        for m in some:
            assert m["phone"] not in body and m["name"] not in body, path


def test_token_sign_in_and_disabled_accounts(api, keys, service):
    bad = api.post("/auth/token", data={"username": "t_planner", "password": "wrong"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    token = api.post("/auth/token", data={"username": "t_planner",
                                          "password": "pw-planner-secret"}).json()
    me = api.get("/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert me == {"username": "t_planner", "role": "planner"}
    assert api.get("/auth/me", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert api.get("/auth/me", headers={"X-API-Key": "gg_nope"}).status_code == 401
    engine = make_engine(service.database_url)
    key = auth.add_user(engine, "t_leaving", "planner", password="pw-leaving-x")
    token = api.post("/auth/token", data={"username": "t_leaving", "password": "pw-leaving-x"}).json()
    auth.disable_user(engine, "t_leaving")
    engine.dispose()
    assert api.get("/auth/me", headers={"X-API-Key": key}).status_code == 401
    assert api.get("/auth/me", headers={
        "Authorization": f"Bearer {token['access_token']}"}).status_code == 401


def test_anonymous_mode_can_be_switched_off(service, keys):
    from service import LiveService

    with LiveService(service.database_url, GRIDGOV_SERVICE_ANONYMOUS="false") as closed:
        assert httpx.get(f"{closed.url}/maps/overview").status_code == 401
        assert httpx.get(f"{closed.url}/collections/compounds/items").status_code == 401
        assert httpx.get(f"{closed.url}/maps/overview",
                         headers={"X-API-Key": keys["viewer"]}).status_code == 200
        assert httpx.get(f"{closed.url}/healthz").status_code == 200


def test_passwords_are_hashed():
    stored = auth.hash_password("秘密 secret")
    assert stored.startswith("scrypt$") and "秘密" not in stored
    assert auth.verify_password("秘密 secret", stored)
    assert not auth.verify_password("wrong", stored)
