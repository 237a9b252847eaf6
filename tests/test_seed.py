"""The bundled Zhongyang data reproduces the seed article's figures exactly, and says what it
invented."""

from __future__ import annotations

import datetime as dt
import filecmp
import subprocess
import sys

from sqlalchemy import text

from gridgov.analysis.inventory import inventory
from gridgov.io.importer import import_bundle

from conftest import BUNDLE, ROOT, fingerprint

TODAY = dt.date(2026, 11, 28)


def test_figures_from_the_article(seeded_engine):
    f = inventory(seeded_engine, ["141129"], as_of=TODAY)
    assert f["counties"] == 1
    assert f["townships"] == 6
    assert f["divisions"] == 89 and f["village_rules"] == 89
    assert f["compounds"] == 107 and f["compounds_covered"] == 107
    assert f["party_orgs"] == 131 and f["orgs_sunk"] == 131
    assert f["members"] == 2207 and f["roster"] == 2207
    assert f["demonstration_sites"] == 10
    assert f["work_groups"] == 7
    assert f["key_tasks"] == 12


def q(engine, sql):
    with engine.connect() as conn:
        return conn.execute(text(sql)).all()


def test_named_demonstration_sites(seeded_engine):
    rows = q(seeded_engine, """
        SELECT t.name, d.name, s.theme FROM practice_sites s
        JOIN divisions d ON d.code = s.division_code JOIN townships t ON t.code = d.township_code
        WHERE s.demonstration""")
    named = {(t, d): theme for t, d, theme in rows}
    assert named[("暖泉镇", "弓阳村委会")] == "生态文明"
    assert named[("下枣林乡", "神圪塔村委会")] == "乡村旅游"
    assert named[("下枣林乡", "阳坡村委会")] == "积分超市"
    assert named[("宁乡镇", "尚家峪社区居民委员会")] == "民俗文化"
    assert named[("宁乡镇", "阳坡塔社区居民委员会")] == "生态宜居"


def test_real_codes_and_invented_features_say_so(seeded_engine):
    # every NBS division code of the real table is present, under the right township
    import csv

    with open(ROOT / "geodata" / "sources" / "zhongyang_divisions_2023.csv", encoding="utf-8") as fh:
        real = {r["code"]: r for r in csv.DictReader(fh)}
    stored = dict(q(seeded_engine, "SELECT code, name FROM divisions"))
    expected = {c: r["name"] for c, r in real.items() if r["level"] == "village_or_community"}
    assert stored == expected
    for table in ("townships", "divisions", "compounds", "grid_cells", "party_orgs", "members",
                  "assignments", "practice_sites", "work_groups", "key_tasks", "roads",
                  "case_categories", "cases"):
        sources = {s for (s,) in q(seeded_engine, f"SELECT DISTINCT source FROM {table}")}
        assert sources == {"synthetic"}, table
        assert q(seeded_engine, f"SELECT count(*) FROM {table} WHERE source_note IS NULL")[0][0] == 0


def test_geometry_is_sound(seeded_engine):
    (bad,), = q(seeded_engine, """
        SELECT count(*) FROM compounds k JOIN divisions d ON d.code = k.community_code
        WHERE NOT ST_Within(k.geom, ST_Buffer(d.geom, 1e-7))""")
    assert bad == 0
    (overlapping,), = q(seeded_engine, """
        SELECT count(*) FROM compounds a JOIN compounds b ON a.code < b.code
        AND ST_Intersects(a.geom, b.geom)""")
    assert overlapping == 0
    # compounds are building blocks: between 0.3 and 8 hectares
    (small, large), = q(seeded_engine, """
        SELECT min(ST_Area(geom::geography)), max(ST_Area(geom::geography)) FROM compounds""")
    assert 3_000 < small and large < 80_000
    # members are listed only at compounds their organization actively covers
    (stray,), = q(seeded_engine, """
        SELECT count(*) FROM members m WHERE NOT EXISTS (SELECT 1 FROM assignments a
        WHERE a.org_code = m.org_code AND a.compound_code = m.compound_code AND a.valid_to IS NULL)""")
    assert stray == 0
    # phones are plainly fictitious: an 11-digit form no carrier issues
    (real_looking,), = q(seeded_engine, "SELECT count(*) FROM members WHERE phone !~ '^100'")
    assert real_looking == 0


def test_cases_are_an_invented_year(seeded_engine):
    (categories, events, components), = q(seeded_engine, """
        SELECT count(*), count(*) FILTER (WHERE kind = 'event'),
               count(*) FILTER (WHERE kind = 'component') FROM case_categories""")
    assert (categories, events, components) == (30, 20, 10)
    (n, first, last), = q(seeded_engine, """
        SELECT count(*), min(reported_at AT TIME ZONE 'Asia/Shanghai')::date,
               max(reported_at AT TIME ZONE 'Asia/Shanghai')::date FROM cases""")
    assert n == 20_000 and (first, last) == (dt.date(2025, 12, 1), dt.date(2026, 11, 27))
    # the importer routed every case and set its deadline
    (unsettled,), = q(seeded_engine, """
        SELECT count(*) FROM cases WHERE unit_code IS NULL OR routing_rule = 'manual'
        OR handle_due IS NULL""")
    assert unsettled == 0
    # open cases in every stage, most closed, about 85 % handled within the limit
    statuses = dict(q(seeded_engine, "SELECT status, count(*) FROM cases GROUP BY status"))
    assert set(statuses) == {"received", "filed", "dispatched", "signed", "handled", "closed",
                             "returned", "suspended", "rejected", "duplicate"}
    assert statuses["closed"] > 0.9 * n
    (on_time,), = q(seeded_engine, """
        SELECT avg((handled_at <= handle_due)::int) FROM cases WHERE handled_at IS NOT NULL""")
    assert 0.83 < on_time < 0.88
    # ten organisations are late far more often than the others (something for the KPIs)
    late = q(seeded_engine, """
        SELECT unit_code FROM cases WHERE handled_at IS NOT NULL AND unit_kind = 'org'
        GROUP BY unit_code HAVING count(*) >= 20 AND avg((handled_at > handle_due)::int) > 0.4""")
    assert len(late) == 10
    # reporters: anonymous reports keep no contact; phones are plainly fictitious
    (exposed, real_looking), = q(seeded_engine, """
        SELECT count(*) FILTER (WHERE anonymous AND (reporter_name IS NOT NULL
                                                     OR reporter_phone IS NOT NULL)),
               count(*) FILTER (WHERE reporter_phone !~ '^10[01]') FROM cases""")
    assert exposed == 0 and real_looking == 0


def test_seed_is_idempotent(seeded_copy):
    before = fingerprint(seeded_copy)
    results = import_bundle(seeded_copy, BUNDLE)
    assert sum(r.inserted for r in results) == 0 and sum(r.updated for r in results) == 0
    after = fingerprint(seeded_copy)
    # nothing written (statement triggers still count the statements in data_versions)
    assert {k: v for k, v in after.items() if k != "data_versions"} == {
        k: v for k, v in before.items() if k != "data_versions"}


def test_generator_reproduces_the_bundle(tmp_path):
    out = tmp_path / "zhongyang"
    subprocess.run([sys.executable, str(ROOT / "geodata" / "build_zhongyang.py"), "--out", str(out)],
                   check=True, capture_output=True)
    names = sorted(p.name for p in BUNDLE.iterdir())
    assert sorted(p.name for p in out.iterdir()) == names
    match, mismatch, errors = filecmp.cmpfiles(BUNDLE, out, names, shallow=False)
    assert mismatch == [] and errors == []


def test_generator_deadlines_are_gridgov_deadlines(monkeypatch):
    """The generator keeps its own copy of the official calendar (it does not import gridgov):
    its working days are gridgov's over the bundle's year and the month after, its account
    deadline for every month of the bundle is gridgov.activity.accounts.due_at's (and so is every
    row's), and every demand falls due at the end of the 5th, 7th or 10th working day after the
    day it was issued, by gridgov's calendar."""
    import csv

    from gridgov.activity.accounts import due_at
    from gridgov.calendar import SHANGHAI, Calendar

    monkeypatch.syspath_prepend(str(ROOT / "geodata"))
    from generate import calendar as generator_calendar
    from generate.supervision import ACCOUNT_MONTHS, account_due

    cal = Calendar.from_settings()
    day, last = dt.date(2025, 12, 1), dt.date(2026, 12, 31)
    while day <= last:
        assert generator_calendar.is_workday(day) == cal.is_workday(day), day
        day += dt.timedelta(days=1)
    with open(BUNDLE / "accounts.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    months = sorted({dt.date.fromisoformat(r["month"]) for r in rows})
    assert months == ACCOUNT_MONTHS
    for month in months:
        assert account_due(month) == due_at(month), month
    assert all(dt.datetime.fromisoformat(r["due_at"]) == due_at(r["month"][:7]) for r in rows)
    with open(BUNDLE / "demands.csv", encoding="utf-8") as fh:
        demands = list(csv.DictReader(fh))
    for d in demands:
        issued = dt.datetime.fromisoformat(d["issued_at"]).astimezone(SHANGHAI)
        assert cal.is_workday(issued.date()), d["code"]
        night = dt.datetime.combine(issued.date() + dt.timedelta(days=1), dt.time(), SHANGHAI)
        limits = {cal.deadline(night, n, "working_days") for n in (5, 7, 10)}
        assert dt.datetime.fromisoformat(d["due_at"]) in limits, d["code"]


# --- the activity year: check-ins, activities, accounts, demands, key tasks (all invented) -------
ACTIVITY_TABLES = ("checkins", "activities", "accounts", "demands", "key_task_milestones",
                   "key_task_progress")
FULL_MONTHS = ["2025-12"] + [f"2026-{m:02d}" for m in range(1, 11)]


def test_activity_layers_are_invented_and_say_so(seeded_engine):
    for table in ACTIVITY_TABLES:
        sources = {s for (s,) in q(seeded_engine, f"SELECT DISTINCT source FROM {table}")}
        assert sources == {"synthetic"}, table
        assert q(seeded_engine, f"SELECT count(*) FROM {table} WHERE source_note IS NULL")[0][0] == 0
        with open(BUNDLE / f"{table}.csv", encoding="utf-8") as fh:
            in_file = sum(1 for _ in fh) - 1
        assert q(seeded_engine, f"SELECT count(*) FROM {table}")[0][0] == in_file, table


def test_checkins_are_an_invented_year(seeded_engine):
    (n, first, last, members, flagged, open_), = q(seeded_engine, """
        SELECT count(*), min(checked_in_at AT TIME ZONE 'Asia/Shanghai')::date,
               max(checked_in_at AT TIME ZONE 'Asia/Shanghai')::date, count(DISTINCT member_code),
               count(*) FILTER (WHERE status = 'flagged'),
               count(*) FILTER (WHERE checked_out_at IS NULL) FROM checkins""")
    assert 38_000 <= n <= 60_000 and (first, last) == (dt.date(2025, 12, 1), dt.date(2026, 11, 27))
    assert 1_800 <= members <= 2_207 and 0.02 < flagged / n < 0.05 and open_ == 0
    # only members of an organisation assigned to the compound on the day, at the compound
    (stray, wrong_org), = q(seeded_engine, """
        SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM assignments a
                 WHERE a.org_code = c.org_code AND a.compound_code = c.compound_code
                 AND a.valid_from <= (c.checked_in_at AT TIME ZONE 'Asia/Shanghai')::date
                 AND (a.valid_to IS NULL
                      OR a.valid_to > (c.checked_in_at AT TIME ZONE 'Asia/Shanghai')::date))),
               count(*) FILTER (WHERE m.org_code <> c.org_code)
        FROM checkins c JOIN members m ON m.code = c.member_code""")
    assert stray == 0 and wrong_org == 0
    # distance, speed, flags, status and hours as gridgov.activity.checkins computes them, here
    # recomputed by PostGIS on the ellipsoid from the stored points
    bad = q(seeded_engine, """
        WITH x AS (
            SELECT c.*, ST_Distance(k.geom::geography, c.geom::geography) AS d,
                   ST_Distance(lag(c.geom) OVER w::geography, c.geom::geography) / 1000
                   / greatest(extract(epoch FROM c.checked_in_at - lag(c.checked_in_at) OVER w)
                              / 3600, 1.0 / 3600) AS v,
                   extract(epoch FROM c.checked_out_at - c.checked_in_at) / 60 AS minutes
            FROM checkins c JOIN compounds k ON k.code = c.compound_code
            WINDOW w AS (PARTITION BY c.member_code ORDER BY c.checked_in_at))
        SELECT count(*) FILTER (WHERE abs(d - distance_m) > 0.11),
               count(*) FILTER (WHERE (d > 100) <> (flags ? 'fence')),
               count(*) FILTER (WHERE (v IS NULL) <> (speed_kmh IS NULL) OR abs(v - speed_kmh) > 0.11),
               count(*) FILTER (WHERE coalesce(v > 120, false) <> (flags ? 'speed')),
               count(*) FILTER (WHERE (accuracy_m > 100) <> (flags ? 'accuracy')),
               count(*) FILTER (WHERE mocked <> (flags ? 'mocked')),
               count(*) FILTER (WHERE (NOT auto_checkout AND minutes < 5) <> (flags ? 'short')),
               count(*) FILTER (WHERE auto_checkout <> (flags ? 'auto_checkout')
                                OR auto_checkout AND hours <> 0),
               -- hours = round(minutes / 60, 2) in Python (floats: a tie may round down)
               count(*) FILTER (WHERE NOT auto_checkout AND abs(hours - minutes / 60) > 0.00501),
               count(*) FILTER (WHERE (status = 'flagged') <> (jsonb_array_length(flags) > 0)
                                OR status NOT IN ('valid', 'flagged'))
        FROM x""")[0]
    assert tuple(bad) == (0,) * 10, bad
    kinds = dict(q(seeded_engine, """
        SELECT f, count(*) FROM checkins, jsonb_array_elements_text(flags) f GROUP BY f"""))
    assert set(kinds) == {"accuracy", "mocked", "speed", "fence", "short", "auto_checkout"}


def test_verified_coverage_differs_from_paper(seeded_engine):
    from gridgov.analysis.coverage import coverage, kpis

    inactive = {}
    for month in FULL_MONTHS:
        k = kpis(coverage(seeded_engine, basis="visits", period=month))
        assert k["paper_coverage_rate"] == 1.0 and k["verified_coverage_rate"] < 0.9
        inactive[month] = k["inactive"] / k["compounds"]
        assert 0.10 <= inactive[month] <= 0.40, (month, inactive[month])
    # the Spring Festival is the worst month, the (invented) assessment in May the best
    assert max(inactive, key=inactive.get) == "2026-02"
    assert min(inactive, key=inactive.get) == "2026-05"
    october = coverage(seeded_engine, basis="visits", period="2026-10")
    assert october.visit_days.median() >= 4       # most compounds: visits on several days
    year = coverage(seeded_engine, basis="visits",
                    period=(dt.date(2025, 12, 1), dt.date(2026, 11, 28)))
    assert 1 <= (year.visits == 0).sum() <= 5     # a few never visited
    # members with no verified visit in the last quarter: a minority, but not a handful
    (idle,), = q(seeded_engine, """
        SELECT count(*) FROM members m WHERE NOT EXISTS (SELECT 1 FROM checkins c
        WHERE c.member_code = m.code AND c.status = 'valid' AND c.checked_out_at IS NOT NULL
        AND c.checked_in_at >= '2026-08-01 00:00+08' AND c.checked_in_at < '2026-11-01 00:00+08')""")
    assert 0.10 < idle / 2207 < 0.30


def test_accounts_demands_and_key_tasks(seeded_engine):
    (n, orgs, months, draft, late), = q(seeded_engine, """
        SELECT count(*), count(DISTINCT org_code), count(DISTINCT month),
               count(*) FILTER (WHERE status = 'draft'),
               count(*) FILTER (WHERE submitted_at > due_at) FROM accounts""")
    assert (n, orgs, months) == (131 * 11, 131, 11)
    assert 0 < draft < 0.03 * n and 0.05 < late / n < 0.15
    # some units are late often: a few organisations account for many of the late months
    often = q(seeded_engine, """SELECT org_code FROM accounts WHERE submitted_at > due_at
                                GROUP BY org_code HAVING count(*) >= 4""")
    assert 5 <= len(often) <= 20
    # prefilled visits are the verified check-ins of the organisation in the month
    (mismatch,), = q(seeded_engine, """
        SELECT count(*) FROM accounts a WHERE (a.prefilled ->> 'visits')::int <> (
            SELECT count(*) FROM checkins c WHERE c.org_code = a.org_code
            AND c.status = 'valid' AND c.checked_out_at IS NOT NULL
            AND (c.checked_in_at AT TIME ZONE 'Asia/Shanghai')::date >= a.month
            AND (c.checked_in_at AT TIME ZONE 'Asia/Shanghai')::date
                < a.month + interval '1 month')""")
    assert mismatch == 0
    statuses = dict(q(seeded_engine, "SELECT status, count(*) FROM demands GROUP BY status"))
    assert sum(statuses.values()) == 40 and 1 <= statuses["open"] <= 6
    (on_time, late_answers), = q(seeded_engine, """
        SELECT count(*) FILTER (WHERE answered_at <= due_at),
               count(*) FILTER (WHERE answered_at > due_at) FROM demands""")
    assert on_time > 2 * late_answers > 0
    per_task = dict(q(seeded_engine, "SELECT task_code, count(*) FROM key_task_milestones GROUP BY 1"))
    assert len(per_task) == 12 and all(3 <= k <= 5 for k in per_task.values())
    (late_ms, overdue), = q(seeded_engine, """
        SELECT count(*) FILTER (WHERE done_on > due_on),
               count(*) FILTER (WHERE done_on IS NULL AND due_on <= '2026-11-27')
        FROM key_task_milestones""")
    assert late_ms > 0 and overdue > 0
    # monthly progress from every responsible unit of every task, never going down
    (missing, reports, down), = q(seeded_engine, """
        SELECT (SELECT count(*) FROM key_task_units u WHERE NOT EXISTS (SELECT 1
                FROM key_task_progress p WHERE p.task_code = u.task_code AND p.org_code = u.org_code)),
               (SELECT count(*) FROM key_task_progress) - 12 * (SELECT count(*) FROM key_task_units),
               (SELECT count(*) FROM (SELECT percent < lag(percent) OVER (PARTITION BY task_code,
                org_code ORDER BY reported_on) AS fell FROM key_task_progress) s WHERE fell)""")
    assert (missing, reports, down) == (0, 0, 0)
    (acts, themed), = q(seeded_engine, """
        SELECT (SELECT count(*) FROM activities),
               (SELECT count(*) FROM practice_sites s WHERE s.demonstration AND EXISTS (SELECT 1
                FROM activities a WHERE a.site_code = s.code AND a.theme = s.theme))""")
    assert 250 <= acts <= 500 and themed == 10
