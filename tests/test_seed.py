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
