"""Check-ins over the real service, role by role: a member checks in and out as itself (never as
another member, never closing another's check-in), planners decide on flagged check-ins and add
hours under the cap, and positions and exact times reach only the member they belong to and
admins, in no response a viewer or planner gets from these endpoints. Then retention: old
check-ins reduced to compound and day, old months detached (library, command, and the worker's
periodic jobs, with the 23:59 auto check-out).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import subprocess
import sys

import httpx
import pytest
from PIL import Image
from sqlalchemy import text

from gridgov import auth
from gridgov.activity import checkins, ledger, retention
from gridgov.calendar import SHANGHAI
from gridgov.db import make_engine
from gridgov.jobs import activity as activity_jobs
from gridgov.jobs import queue

PASSWORD = "member-pass-2026"
# check-ins written through the library at known moments (Beijing time): their times and
# positions must not show below admin. November 2025, before the bundle's synthetic year of
# check-ins (from 2025-12-01), so the month holds these alone.
ON_TIME = dt.datetime(2025, 11, 3, 9, 17, 23, tzinfo=SHANGHAI)
AWAY = dt.datetime(2025, 11, 4, 14, 21, 37, tzinfo=SHANGHAI)
PERIOD = "2025-11"

MEMBER_SQL = (
    "SELECT m.code AS member, a.compound_code AS compound, ST_X(p) AS lon, ST_Y(p) AS lat, "
    "ST_X(o) AS out_lon, ST_Y(o) AS out_lat FROM members m JOIN assignments a ON "
    "a.org_code = m.org_code AND a.valid_to IS NULL JOIN compounds k ON k.code = "
    "a.compound_code, LATERAL (SELECT ST_PointOnSurface(k.geom) AS p, ST_Project("
    "ST_PointOnSurface(k.geom)::geography, 600, 0)::geometry AS o) pts "
    "ORDER BY m.code, a.compound_code LIMIT 1")


def find_member(engine) -> dict:
    """A member, a compound their organization is assigned to, points in it and 600 m north."""
    with engine.connect() as conn:
        row = dict(conn.execute(text(MEMBER_SQL)).mappings().one())
        row["other"] = conn.execute(text("SELECT code FROM members WHERE code <> :m ORDER BY code "
                                         "LIMIT 1"), {"m": row["member"]}).scalar_one()
    return row


def trunc(x: float, places: int = 4) -> str:
    """A coordinate cut (not rounded) to ``places`` decimals: what any rendering of it shows."""
    s = repr(float(x))
    return s[:s.index(".") + 1 + places]


@pytest.fixture(scope="module")
def svc(databases, seeded_template, tmp_path_factory):
    from service import LiveService

    url = databases.create(seeded_template, "checkins_api")
    engine = make_engine(url)
    m = find_member(engine)
    keys = {name: auth.add_user(engine, name, role, password=PASSWORD, member_code=code)
            for name, role, code in (("m1", "member", m["member"]), ("m2", "member", m["other"]),
                                     ("plan", "planner", None), ("boss", "admin", None),
                                     ("eye", "viewer", None))}
    with engine.begin() as conn:  # two earlier check-ins of m1: one that counts, one flagged
        c = checkins.check_in(conn, m["member"], m["compound"], lon=m["lon"], lat=m["lat"],
                              accuracy_m=9, at=ON_TIME)
        checkins.check_out(conn, c["id"], ON_TIME + dt.timedelta(minutes=45, seconds=18))
        away = checkins.check_in(conn, m["member"], m["compound"], lon=m["out_lon"],
                                 lat=m["out_lat"], accuracy_m=14, at=AWAY)
        checkins.check_out(conn, away["id"], AWAY + dt.timedelta(minutes=20, seconds=41))
    m["away_id"] = away["id"]
    with LiveService(url, GRIDGOV_MEDIA_DIR=str(tmp_path_factory.mktemp("media"))) as live:
        with httpx.Client(base_url=live.url, timeout=60) as client:
            yield client, keys, m, engine
    engine.dispose()


def as_(keys, name):
    return {"X-API-Key": keys[name]}


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (46, 125, 50)).save(buf, "JPEG")
    return buf.getvalue()


def test_a_member_checks_in_and_out_as_itself_only(svc):
    api, keys, m, _ = svc
    here = {"compound_code": m["compound"], "lon": round(m["lon"], 7),
            "lat": round(m["lat"], 7), "accuracy_m": 12, "crs": "wgs84", "kind": "service"}
    r = api.post("/checkins", json=here, headers=as_(keys, "m1"))
    assert r.status_code == 201, r.text
    c = r.json()
    assert (c["status"], c["flags"], c["status_zh"], c["flags_zh"]) == ("valid", [], "有效", [])
    assert c["member_code"] == m["member"] and c["compound_name"]
    assert c["lon"] == pytest.approx(m["lon"], abs=1e-6)  # the member sees its own position
    # not as another member, not for another role, not closing someone else's check-in
    assert api.post("/checkins", json={**here, "member_code": m["other"]},
                    headers=as_(keys, "m1")).status_code == 403
    for who in ("plan", "boss", "eye"):
        assert api.post("/checkins", json=here, headers=as_(keys, who)).status_code == 403
    assert api.post("/checkins", json=here).status_code == 403  # anonymous
    assert api.post(f"/checkins/{c['id']}/checkout", headers=as_(keys, "m2")).status_code == 403
    assert api.post(f"/checkins/{c['id']}/checkout",
                    headers=as_(keys, "boss")).status_code == 403
    mine = api.get("/checkins/mine", headers=as_(keys, "m1")).json()
    assert mine["open"]["id"] == c["id"] and mine["member_code"] == m["member"]
    assert api.get("/checkins/mine", headers=as_(keys, "m2")).json()["open"] is None
    out = api.post(f"/checkins/{c['id']}/checkout", headers=as_(keys, "m1"))
    assert out.status_code == 200, out.text
    # closed at once: too short, so it waits for a planner
    assert (out.json()["status"], out.json()["flags_zh"]) == ("flagged", ["停留不足"])
    assert api.post(f"/checkins/{c['id']}/checkout",
                    headers=as_(keys, "m1")).status_code == 409
    assert api.post("/checkins/999999999/checkout", headers=as_(keys, "m1")).status_code == 404

    # a form, with a photo, from 600 m away: outside the fence, said in Chinese
    form = {k: str(v) for k, v in here.items()} | {"lon": str(m["out_lon"]),
                                                   "lat": str(m["out_lat"]), "mocked": "true",
                                                   "kind": "report"}
    r = api.post("/checkins", data=form, files={"photo": ("p.jpg", jpeg(), "image/jpeg")},
                 headers=as_(keys, "m1"))
    assert r.status_code == 201, r.text
    far = r.json()
    assert far["status"] == "flagged" and far["kind_zh"] == "报到"
    # 600 m within seconds of the check-in before: too fast, too
    assert set(far["flags"]) == {"mocked", "fence", "speed"}
    assert set(far["flags_zh"]) == {"模拟定位", "不在小区范围内", "移动速度异常"}
    assert len(far["photo_sha256"]) == 64
    bad = api.post("/checkins", data=form, files={"photo": ("p.jpg", b"not a photo",
                                                            "image/jpeg")},
                   headers=as_(keys, "m1"))
    assert bad.status_code == 422 and "photo" in bad.json()["description"]
    assert api.post("/checkins", json={**here, "crs": "mars"},
                    headers=as_(keys, "m1")).status_code == 400
    assert api.post("/checkins", json={**here, "compound_code": "nope"},
                    headers=as_(keys, "m1")).status_code == 404
    api.post(f"/checkins/{far['id']}/checkout", headers=as_(keys, "m1"))

    near = api.get("/checkins/compounds", params={"lon": m["lon"], "lat": m["lat"]},
                   headers=as_(keys, "m1")).json()
    assert near[0]["code"] == m["compound"] and near[0]["within_fence"] is True
    assert near[0]["distance_m"] == 0
    assert api.get("/checkins/compounds", headers=as_(keys, "plan")).status_code == 403


def test_planners_decide_and_add_hours_under_the_cap(svc):
    api, keys, m, _ = svc
    queue_ = api.get("/checkins/flagged", params={"period": PERIOD}, headers=as_(keys, "plan"))
    assert queue_.status_code == 200
    waiting = {c["id"]: c for c in queue_.json()}
    away = waiting[m["away_id"]]
    assert away["flags_zh"] == ["不在小区范围内"] and away["day"] == "2025-11-04"
    assert "lon" not in away and "checked_in_at" not in away and "distance_m" not in away
    for who in ("eye", "m1"):
        assert api.get("/checkins/flagged", headers=as_(keys, who)).status_code == 403
    decide = f"/checkins/{m['away_id']}/decision"
    # a check-in still open is decided after its check-out (which sets its hours)
    still = api.post("/checkins", json={"compound_code": m["compound"], "lon": m["out_lon"],
                                        "lat": m["out_lat"]}, headers=as_(keys, "m1")).json()
    assert still["status"] == "flagged"
    assert api.post(f"/checkins/{still['id']}/decision", json={"decision": "reject"},
                    headers=as_(keys, "plan")).status_code == 409
    assert api.post(f"/checkins/{still['id']}/checkout", headers=as_(keys, "m1")).status_code \
        == 200
    assert api.post(f"/checkins/{still['id']}/decision", json={"decision": "reject"},
                    headers=as_(keys, "plan")).json()["status_zh"] == "审核未通过"
    assert api.post(decide, json={"decision": "approve", "hours": 9},
                    headers=as_(keys, "plan")).status_code == 422  # over the 8 h cap
    assert api.post(decide, json={"decision": "approve", "hours": 1.5},
                    headers=as_(keys, "m1")).status_code == 403
    r = api.post(decide, json={"decision": "approve", "hours": 1.5, "note": "电话核实，在小区北门"},
                 headers=as_(keys, "plan"))
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["status_zh"], r.json()["hours"]) == ("approved",
                                                                              "审核通过", 1.5)
    assert r.json()["decided_by"] == "plan" and "decided_at" not in r.json()
    assert api.post(decide, json={"decision": "reject"},
                    headers=as_(keys, "plan")).status_code == 409
    # hours by hand: capped per member and day, kept apart in the ledger
    add = {"member_code": m["member"], "day": "2025-11-03", "reason": "入户走访登记"}
    assert api.post("/hours", json={**add, "hours": 6}, headers=as_(keys, "plan")).status_code \
        == 201
    over = api.post("/hours", json={**add, "hours": 3}, headers=as_(keys, "plan"))
    assert over.status_code == 422 and "cap is 8 h" in over.json()["description"]
    assert api.post("/hours", json={**add, "hours": 1},
                    headers=as_(keys, "eye")).status_code == 403
    rows = api.get("/checkins/summary", params={"period": PERIOD, "level": "member"},
                   headers=as_(keys, "plan")).json()["rows"]
    me = next(r for r in rows if r["member_code"] == m["member"])
    assert me["verified_hours"] == pytest.approx(0.76 + 1.5, abs=0.01)  # 45 min 18 s + approved
    assert me["added_hours"] == 6 and me["total_hours"] == pytest.approx(me["verified_hours"] + 6)
    csv = api.get("/checkins/summary", params={"period": PERIOD, "level": "org",
                                              "format": "csv"}, headers=as_(keys, "plan"))
    assert csv.status_code == 200 and "有效时长（小时）" in csv.text and "补录时长（小时）" in csv.text


def test_positions_and_times_reach_only_the_member_and_admins(svc):
    api, keys, m, _ = svc
    # a check-in of today, through the API, still open: its moment is a secret too
    today = api.post("/checkins", json={"compound_code": m["compound"], "lon": m["lon"],
                                        "lat": m["lat"], "accuracy_m": 8},
                     headers=as_(keys, "m1")).json()
    with svc[3].connect() as conn:
        moments = [r[0] for r in conn.execute(text(
            "SELECT t FROM checkins, LATERAL (VALUES (checked_in_at), (checked_out_at)) v(t) "
            "WHERE member_code = :m AND t IS NOT NULL"), {"m": m["member"]})]
    assert len(moments) >= 6
    secrets = {trunc(m["lon"]), trunc(m["lat"]), trunc(m["out_lon"]), trunc(m["out_lat"])}
    for t in moments:  # the time of day, in Beijing time and in UTC, to the second
        secrets |= {t.astimezone(SHANGHAI).strftime("%H:%M:%S"),
                    t.astimezone(dt.timezone.utc).strftime("%H:%M:%S")}

    months = (PERIOD, dt.datetime.now(SHANGHAI).strftime("%Y-%m"))  # and today's

    def bodies(who):
        h = as_(keys, who) if who else {}
        out = [api.get("/coverage/visits", headers=h)]
        for month in months:
            out += [api.get("/checkins/summary", params={"period": month}, headers=h),
                    api.get("/coverage/visits", params={"period": month}, headers=h)]
        if who == "plan":
            out += [api.get("/checkins/summary", params={"period": month, "level": level,
                                                         "format": fmt}, headers=h)
                    for month in months for level in ("member", "org", "compound")
                    for fmt in ("json", "csv")]
            out += [api.get("/checkins/flagged", params={"status": s, "period": month},
                            headers=h)
                    for s in ("flagged", "approved", "rejected") for month in months]
            out.append(api.get("/checkins/flagged", headers=h))
            # a decision's answer, too
            out.append(api.post(f"/checkins/{today['id']}/decision",
                                json={"decision": "reject", "note": "测试"}, headers=h))
        return out

    for who in (None, "eye", "plan"):
        for r in bodies(who):
            assert r.status_code in (200, 409), (who, r.url, r.text)
            found = {s for s in secrets if s in r.text}
            assert not found, (who, r.url, found)
    # viewers: counts per compound, no per-member rows
    for who in (None, "eye", "m2"):
        h = as_(keys, who) if who else {}
        assert api.get("/checkins/summary", params={"period": PERIOD, "level": "member"},
                       headers=h).status_code == 403
        assert api.get("/checkins/summary", params={"period": PERIOD, "level": "org"},
                       headers=h).status_code == 403
        counts = api.get("/checkins/summary", params={"period": PERIOD}, headers=h).json()
        assert m["member"] not in str(counts)
        rows = {r["compound_code"]: r for r in counts["rows"]}
        assert set(rows) == {m["compound"], None}  # hours added by hand name no compound
        assert (rows[None]["checkins"], rows[None]["added_hours"]) == (0, 6)
        row = rows[m["compound"]]
        assert "member_code" not in row
        assert (row["checkins"], row["members"], row["verified_hours"]) == (2, 1, 2.26)
    visits = api.get("/coverage/visits", params={"period": PERIOD}, headers=as_(keys, "eye"))
    mine = next(c for c in visits.json()["compounds"] if c["code"] == m["compound"])
    assert mine["visits"] == 2 and mine["last_visit_day"] == "2025-11-04"
    assert mine["days_since_visit"] == 27 and mine["status"] != "inactive"  # to 2025-12-01
    assert "last_visit" not in mine and visits.json()["kpis"]["verified_visits"] >= 1
    assert m["member"] not in visits.text

    # the member sees its own positions and times; admins everything
    own = api.get("/checkins/mine", headers=as_(keys, "m1")).text
    assert trunc(m["lon"]) in own and trunc(m["out_lat"]) in own
    assert today["checked_in_at"] in own
    admin = api.get("/checkins/flagged", params={"status": "approved"},
                    headers=as_(keys, "boss")).json()
    approved = next(c for c in admin if c["id"] == m["away_id"])
    assert approved["lon"] == pytest.approx(m["out_lon"], abs=1e-6)
    assert approved["checked_in_at"].startswith("2025-11-04T06:21:37")  # stored in UTC
    assert approved["distance_m"] > 100
    # another member sees none of it
    assert trunc(m["lon"]) not in api.get("/checkins/mine", headers=as_(keys, "m2")).text


def test_the_page_is_a_shell_without_data(svc):
    api, *_ = svc
    page = api.get("/checkin")
    assert page.status_code == 200 and "党员进社区报到" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "geolocation=(self)" in page.headers["permissions-policy"]
    for asset in ("/static/checkin/checkin.js", "/static/checkin/checkin.css"):
        r = api.get(asset)
        assert r.status_code == 200 and "http://" not in r.text and "https://" not in r.text


# --- retention and the periodic jobs ------------------------------------------------------------

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)  # cut-off 2025-11-28 00:00 +08


def _at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def _visit(engine, m, at, minutes=45):
    with engine.begin() as conn:
        c = checkins.check_in(conn, m["member"], m["compound"], lon=m["lon"], lat=m["lat"],
                              accuracy_m=11, at=at)
        if minutes is not None:
            c = checkins.check_out(conn, c["id"], at + dt.timedelta(minutes=minutes))
        return c


def _parts(engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'checkins__141129'::regclass"))}


def test_retention_reduces_old_checkins_and_detaches_old_months(seeded_copy):
    m = find_member(seeded_copy)
    _visit(seeded_copy, m, _at(2025, 10, 14, 10, 17, 23))  # a month wholly past: detached
    _visit(seeded_copy, m, _at(2025, 10, 14, 15, 5, 9), minutes=30)  # same day
    kept = _visit(seeded_copy, m, _at(2025, 11, 20, 9, 41, 52), minutes=60)  # reduced, stays
    young = _visit(seeded_copy, m, _at(2025, 11, 29, 9, 0), minutes=60)  # within retention
    assert {"checkins__141129__2025_10", "checkins__141129__2025_11"} <= _parts(seeded_copy)

    plan = retention.run(seeded_copy, now=NOW, dry_run=True)
    assert plan["cutoff"] == "2025-11-28T00:00:00+08:00" and plan["reduced"] == 3
    assert plan["detached"] == {"checkins__141129__2025_10": "checkins_archive__141129__2025_10"}
    with seeded_copy.connect() as conn:  # a dry run changes nothing
        assert conn.execute(text("SELECT count(*) FROM checkins WHERE reduced")).scalar() == 0

    done = retention.run(seeded_copy, now=NOW)
    assert done["reduced"] == 3 and done["detached"] == plan["detached"]
    assert "checkins__141129__2025_10" not in _parts(seeded_copy)
    assert "checkins__141129__2025_11" in _parts(seeded_copy)
    with seeded_copy.connect() as conn:
        archived = conn.execute(text(
            "SELECT checked_in_at, checked_out_at, hours, reduced, geom IS NULL AS gone, "
            "accuracy_m, distance_m, compound_code FROM checkins_archive__141129__2025_10 "
            "ORDER BY checked_in_at")).mappings().all()
        midnight = _at(2025, 10, 14, 0, 0)
        assert [a["checked_in_at"] for a in archived] == [
            midnight, midnight + dt.timedelta(microseconds=1)]  # the day, and the order only
        assert [a["checked_out_at"] for a in archived] == [a["checked_in_at"] for a in archived]
        assert [a["hours"] for a in archived] == [0.75, 0.5]
        assert all(a["reduced"] and a["gone"] and a["accuracy_m"] is None
                   and a["distance_m"] is None and a["compound_code"] == m["compound"]
                   for a in archived)
        reduced = conn.execute(text(
            "SELECT checked_in_at, geom, accuracy_m, speed_kmh, reduced, hours, status FROM "
            "checkins WHERE id = :i"), {"i": kept["id"]}).mappings().one()
        assert reduced["checked_in_at"] == _at(2025, 11, 20, 0, 0)
        assert reduced["geom"] is None and reduced["accuracy_m"] is None and reduced["reduced"]
        assert (reduced["hours"], reduced["status"]) == (1.0, "valid")
        untouched = conn.execute(text(
            "SELECT checked_in_at, geom IS NOT NULL AS has_position, reduced FROM checkins "
            "WHERE id = :i"), {"i": young["id"]}).mappings().one()
        assert dict(untouched) == {"checked_in_at": _at(2025, 11, 29, 9, 0), "has_position": True,
                             "reduced": False}
    # the reduced check-in still counts its hours
    month = ledger.ledger(seeded_copy, "2025-11", "compound").set_index("compound_code")
    assert month.loc[m["compound"], "verified_hours"] == 2.0
    # once is enough; a month made again (a late import) goes to its archive
    assert retention.run(seeded_copy, now=NOW)["reduced"] == 0
    _visit(seeded_copy, m, _at(2025, 10, 20, 8, 0))
    again = retention.run(seeded_copy, now=NOW)
    assert again["reduced"] == 1 and again["detached"] == plan["detached"]
    with seeded_copy.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM checkins_archive__141129__2025_10")
                            ).scalar() == 3


def test_retention_command(seeded_copy):
    url = seeded_copy.url.render_as_string(hide_password=False)
    out = subprocess.run([sys.executable, "-m", "gridgov", "retention", "--dry-run"],
                         env=dict(os.environ, GRIDGOV_DATABASE_URL=url), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "cut-off" in out.stdout and "would be reduced" in out.stdout


def test_the_worker_closes_forgotten_checkins_at_2359_and_runs_retention(seeded_copy):
    m = find_member(seeded_copy)
    url = seeded_copy.url.render_as_string(hide_password=False)
    forgot = _visit(seeded_copy, m, _at(2026, 11, 5, 10, 0), minutes=None)
    missed = _visit(seeded_copy, m, _at(2026, 11, 3, 16, 30), minutes=None)  # no worker then
    old = _visit(seeded_copy, m, _at(2025, 11, 2, 10, 0))
    at_2359 = int(dt.datetime(2026, 11, 5, 23, 59, tzinfo=SHANGHAI).timestamp())
    assert activity_jobs.days_to_close(dt.datetime.fromtimestamp(at_2359, dt.timezone.utc)) \
        == dt.date(2026, 11, 5)
    crons = {name: p.cron for (name, _), p in queue.app.periodic_registry.periodic_tasks.items()}
    assert crons[activity_jobs.AUTO_CHECKOUT] == "59 15 * * *"  # 23:59 in Beijing, in UTC
    with seeded_copy.begin() as conn:
        queue.defer(conn, activity_jobs.AUTO_CHECKOUT, [{"timestamp": at_2359}],
                    queue=activity_jobs.QUEUE)
        queue.defer(conn, activity_jobs.RETENTION, [{"timestamp": int(NOW.timestamp())}],
                    queue=activity_jobs.QUEUE)
    asyncio.run(asyncio.wait_for(queue.run_worker_async(
        url, wait=False, queues=[activity_jobs.QUEUE], install_signal_handlers=False),
        timeout=60))
    with seeded_copy.connect() as conn:
        jobs = conn.execute(text(
            "SELECT task_name, status::text FROM procrastinate_jobs WHERE queue_name = :q "
            "AND (args->>'timestamp')::bigint IN (:a, :b)"),
            {"q": activity_jobs.QUEUE, "a": at_2359, "b": int(NOW.timestamp())}).all()
        assert sorted(jobs) == [(activity_jobs.AUTO_CHECKOUT, "succeeded"),
                                (activity_jobs.RETENTION, "succeeded")]
        rows = {r["id"]: r for r in conn.execute(text(
            "SELECT id, checked_out_at, auto_checkout, status, flags, hours, reduced "
            "FROM checkins")).mappings()}
    for c, day in ((forgot, 5), (missed, 3)):
        r = rows[c["id"]]
        assert r["checked_out_at"] == _at(2026, 11, day, 23, 59)
        assert (r["auto_checkout"], r["status"], r["hours"]) == (True, "flagged", 0)
        assert "auto_checkout" in r["flags"]
    assert rows[old["id"]]["reduced"] is True
