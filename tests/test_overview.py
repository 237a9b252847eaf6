"""The command center's overview and trends (issue 10: maps, trends) in a real browser (Debian's
Chromium driven by Playwright) and from Python.

The overview shows coverage on paper and in fact side by side: the KPI panel has 纸面覆盖率,
实际走访覆盖率 and 差距 for a month, and the month slider recolours the compounds by that month's
verified status (有名无实 in its own colour). Here one compound covered on paper gets two days of
verified visits in one month (check-ins made with gridgov.activity.checkins on a private seeded
copy): that month it is not 有名无实, another compound is, and the month after it is again. The
trends page draws its charts (Vega-Lite from altair, vega-embed from the service's /static) as
SVG, fetching nothing from outside the service; the dark wall-screen theme loads. Screenshots go
to $GRIDGOV_SCREENSHOTS when it is set (wall 1920x1080, both themes).

The overview flags what the command center must chase (督办): the organizations whose account
is late and those with a demand past its deadline unanswered, as diamonds at their offices, in
the legend, and listed in a panel; checked against the bundle's own files, with an organization
that is never late left out.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from gridgov.activity import checkins, supervision
from gridgov.analysis import trends
from gridgov.calendar import SHANGHAI
from gridgov.db import make_engine
from gridgov.maps import style
from conftest import BUNDLE
from test_maps_browser import only_local

WALL = {"width": 1920, "height": 1080}
LIGHT = style.THEMES["light"]["status"]
DARK = style.THEMES["dark"]["status"]


def pct(x: float) -> str:
    """As the page writes a rate (JavaScript's Math.round)."""
    return f"{math.floor(x * 100 + 0.5)}%"


@pytest.fixture(scope="module")
def live(databases, seeded_template):
    """The service over a private seeded copy in which one compound (``visited``) got two days
    of verified visits in ``month`` (the slider's second last month), and nothing was added to
    ``other``; both are 有名无实 in ``last`` (the default month) and ``other`` in ``month``."""
    from service import LiveService

    url = databases.create(seeded_template, "overview")
    engine = make_engine(url)
    months = trends.months_back(12)
    month, last = months[-2], months[-1]
    before = {m: trends.month_status(engine, m)["status"] for m in (month, last)}
    inactive = sorted(c for c, (s, _) in before[month].items()
                      if s == "inactive" and before[last][c][0] == "inactive")
    start = dt.date.fromisoformat(month + "-01")
    with engine.connect() as conn:
        who = conn.execute(text(
            "SELECT a.compound_code AS compound, m.code AS member, ST_X(p) AS lon, ST_Y(p) AS lat"
            " FROM assignments a JOIN members m ON m.org_code = a.org_code "
            "JOIN compounds k ON k.code = a.compound_code, LATERAL (SELECT "
            "ST_PointOnSurface(k.geom) AS p) pt WHERE a.compound_code = ANY(:codes) "
            "AND a.valid_from <= :start AND (a.valid_to IS NULL OR a.valid_to > :end) "
            "ORDER BY a.compound_code, m.code LIMIT 1"),
            {"codes": inactive, "start": start, "end": start + dt.timedelta(days=31)}
        ).mappings().one()
    for day in (9, 21):  # two days in the month, 45 minutes each
        at = dt.datetime.combine(start.replace(day=day), dt.time(6, 10), SHANGHAI)
        with engine.begin() as conn:
            c = checkins.check_in(conn, who["member"], who["compound"], lon=who["lon"],
                                  lat=who["lat"], accuracy_m=10, at=at)
            c = checkins.check_out(conn, c["id"], at + dt.timedelta(minutes=45))
        assert c["status"] == "valid", c
    other = next(c for c in inactive if c != who["compound"])
    with LiveService(url) as service:
        service.engine, service.months = engine, months
        service.month, service.last = month, last
        service.visited, service.other = who["compound"], other
        yield service
    engine.dispose()


def wall_page(browser):
    page = browser.new_page(viewport=WALL, locale="zh-CN", timezone_id="Asia/Shanghai")
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, requests, errors


def screenshot(page, name):
    folder = os.environ.get("GRIDGOV_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


# the fills a compound is drawn with, one per vector tile holding it
FILLS = """code => {
    const vg = window.gridgovCompounds, out = [];
    for (const key in vg._vectorTiles) {
        const f = vg._vectorTiles[key]._features[code];
        if (f && f.feature._path) out.push(f.feature._path.getAttribute('fill'));
    }
    return out;
}"""


def wait_fill(page, code, color):
    page.wait_for_function(f"([code, color]) => {{ const f = ({FILLS})(code); "
                           "return f.length > 0 && f.every(c => c === color); }",
                           arg=[code, color], timeout=10_000)


def open_overview(browser, url):
    page, requests, errors = wall_page(browser)
    page.goto(url, wait_until="networkidle")
    page.wait_for_function("document.querySelectorAll('path.leaflet-interactive').length > 50",
                           timeout=15_000)
    return page, requests, errors


def test_month_slider_recolours_by_verified_visits(browser, live):
    page, requests, errors = open_overview(browser, f"{live.url}/maps/overview")
    panel = page.inner_text(".gg-kpi")
    for label in ("包联覆盖率", "纸面覆盖率", "实际走访覆盖率", "差距", "有名无实"):
        assert label in panel
    last = live.months[-1]
    assert page.inner_text("#kpi-month") == f"{int(last[:4])}年{int(last[5:])}月"
    # 纸面 first: the compounds in their paper colours, the one visited too
    paper = page.evaluate(FILLS, live.visited)
    assert paper and set(paper) <= {LIGHT["covered"], LIGHT["under_covered"]}
    # one step back on the slider (the keyboard, as a person would): that month, in fact
    page.focus("#gg-month")
    page.keyboard.press("ArrowLeft")
    month = live.month
    page.wait_for_function("m => document.getElementById('kpi-month').textContent === m",
                           arg=f"{int(month[:4])}年{int(month[5:])}月")
    assert page.get_attribute(".gg-toggle button[data-coloring=verified]",
                              "aria-pressed") == "true"
    expected = trends.month_status(live.engine, month)
    status, days = expected["status"][live.visited]
    assert status != "inactive" and days == 2
    wait_fill(page, live.visited, LIGHT[status])
    wait_fill(page, live.other, LIGHT["inactive"])
    page.wait_for_function("v => document.getElementById('kpi-verified').textContent === v",
                           arg=pct(expected["kpis"]["verified_coverage_rate"]))
    assert page.inner_text("#kpi-paper") == pct(expected["kpis"]["paper_coverage_rate"])
    assert page.inner_text("#kpi-gap") == pct(expected["kpis"]["coverage_gap"])
    assert page.inner_text("#kpi-inactive") == str(expected["kpis"]["inactive"])
    # its popup says what that month's visits were
    popup = click_compound(page, live.visited)
    assert "走访核验" in popup and "核验走访 2 天" in popup and "户数" in popup
    page.keyboard.press("Escape")
    # forward again: the last month, where nobody came: 有名无实
    page.focus("#gg-month")
    page.keyboard.press("ArrowRight")
    wait_fill(page, live.visited, LIGHT["inactive"])
    # and back to paper
    page.click(".gg-toggle button[data-coloring=paper]")
    page.wait_for_function(f"code => ({FILLS})(code).every(c => c !== "
                           f"{json.dumps(LIGHT['inactive'])})", arg=live.visited)
    assert errors == [] and only_local(requests), [u for u in requests if "127.0.0.1" not in u]
    assert any(f"/maps/overview/coverage?period={month}" in u for u in requests)
    legend = page.inner_text(".gridgov-panel:has(b:text('图例 · legend'))")
    assert style.INACTIVE_ZH in legend
    page.close()


def click_compound(page, code):
    """Click a point of the compound's polygon that nothing above it covers (a case cluster,
    an office); the popup's text."""
    point = page.evaluate("""code => {
        const vg = window.gridgovCompounds;
        for (const key in vg._vectorTiles) {
            const f = vg._vectorTiles[key]._features[code];
            if (!f || !f.feature._path) continue;
            const path = f.feature._path, r = path.getBoundingClientRect();
            for (let i = 1; i < 8; i++) for (let j = 1; j < 8; j++) {
                const x = r.x + r.width * i / 8, y = r.y + r.height * j / 8;
                if (document.elementFromPoint(x, y) === path) return {x, y};
            }
        }
        return null;
    }""", code)
    assert point, f"no clickable point of {code}"
    page.mouse.click(point["x"], point["y"])
    page.wait_for_selector(".leaflet-popup-content", timeout=5_000)
    return page.inner_text(".leaflet-popup-content")


def test_overview_opens_on_a_month_in_fact_and_dark(browser, live):
    url = f"{live.url}/maps/overview?theme=dark&coloring=verified&month={live.month}"
    page, requests, errors = open_overview(browser, url)
    expected = trends.month_status(live.engine, live.month)["status"]
    wait_fill(page, live.visited, DARK[expected[live.visited][0]])
    wait_fill(page, live.other, DARK["inactive"])
    # the wall screen: dark ground, light text, big figures, the base drawn from our tiles
    looks = page.evaluate("""() => ({
        ground: getComputedStyle(document.querySelector('.leaflet-container')).backgroundColor,
        panel: getComputedStyle(document.querySelector('.gridgov-panel')).backgroundColor,
        text: getComputedStyle(document.querySelector('.gridgov-panel')).color,
        figure: parseFloat(getComputedStyle(document.getElementById('kpi-verified')).fontSize),
        labels: document.querySelectorAll('.gg-label').length})""")
    assert looks["ground"] == "rgb(11, 19, 32)"
    assert looks["panel"].startswith("rgba(10, 19, 34") and looks["text"] == "rgb(232, 238, 247)"
    assert looks["figure"] >= 32 and looks["labels"] >= 10
    for layer in ("roads", "divisions", "townships", "compounds"):
        assert any(f"/tiles/{layer}/" in u for u in requests), layer
    assert errors == [] and only_local(requests)
    page.close()


def test_wall_screenshots_both_themes(browser, live):
    for theme in ("light", "dark"):
        page, requests, errors = open_overview(
            browser, f"{live.url}/maps/overview?theme={theme}&coloring=verified")
        page.wait_for_function("window.gridgovCases && window.gridgovCases.getLayers().length")
        page.wait_for_timeout(500)
        screenshot(page, f"overview-wall-{theme}")
        assert errors == [] and only_local(requests)
        page.close()
        page, requests, errors = wall_page(browser)
        page.goto(f"{live.url}/maps/trends?theme={theme}", wait_until="networkidle")
        page.wait_for_selector("body[data-charts=drawn]", timeout=15_000)
        screenshot(page, f"trends-wall-{theme}")
        assert errors == [] and only_local(requests)
        page.close()


def test_trends_page_draws_its_charts_from_the_service_alone(browser, live):
    page, requests, errors = wall_page(browser)
    page.goto(f"{live.url}/maps/trends", wait_until="networkidle")
    page.wait_for_selector("body[data-charts=drawn]", timeout=15_000)
    charts = page.evaluate("""() => [...document.querySelectorAll('.gg-chart')].map(el => ({
        name: el.dataset.chart, drawn: el.dataset.drawn,
        svg: el.querySelectorAll('svg').length, canvas: el.querySelectorAll('canvas').length,
        marks: el.querySelectorAll('svg .mark-rect path, svg .mark-line path, '
                                   + 'svg .mark-symbol path, svg .mark-text text').length,
        width: el.getBoundingClientRect().width}))""")
    assert [c["name"] for c in charts] == list(trends.TRENDS)
    for c in charts:
        assert c["drawn"] == "true" and c["svg"] + c["canvas"] >= 1 and c["width"] > 300, c
    by_name = {c["name"]: c for c in charts}
    assert by_name["coverage"]["marks"] >= 12 and by_name["checkins"]["marks"] >= 20
    body = page.inner_text("body")
    for title, _ in trends.TRENDS.values():
        assert title in body
    assert "纸面覆盖率" in body and "实际走访覆盖率" in body
    assert errors == []
    assert only_local(requests), [u for u in requests if "127.0.0.1" not in u]
    assert any("/static/vendor/vega-embed/vega-embed.min.js" in u for u in requests)
    page.close()
    html = httpx.get(f"{live.url}/maps/trends").text
    assert "cdn" not in html.lower() and "http://" not in html and "https://" not in html.replace(
        "https://vega.github.io/schema/", "")
    page, requests, errors = wall_page(browser)
    page.goto(f"{live.url}/maps/trends?theme=dark", wait_until="networkidle")
    page.wait_for_selector("body[data-charts=drawn]", timeout=15_000)
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(7, 14, 26)"
    assert errors == [] and only_local(requests)
    page.close()


def test_month_coverage_endpoint(live):
    with httpx.Client(base_url=live.url, timeout=60) as client:
        r = client.get("/maps/overview/coverage", params={"period": live.month})
        assert r.status_code == 200
        body = r.json()
        assert body["period"] == live.month and body["started"] is True
        assert body["status"][live.visited][1] == 2
        assert body["status"][live.visited][0] != "inactive"
        assert body["status"][live.other][0] == "inactive"
        assert set(body["kpis"]) >= {"paper_coverage_rate", "verified_coverage_rate",
                                     "coverage_gap"}
        # a month that is no month, one out of the slider's reach, a look we do not have
        for path, params in (("/maps/overview/coverage", {"period": "2026-13"}),
                             ("/maps/overview/coverage", {"period": "0000-01"}),
                             ("/maps/overview/coverage", {"period": "9999-12"}),
                             ("/maps/overview", {"month": "2001-01"}),
                             ("/maps/overview", {"theme": "neon"}),
                             ("/maps/trends", {"theme": "neon"})):
            r = client.get(path, params=params)
            assert r.status_code == 400, (path, params, r.text)


def test_trend_frames_and_charts(live):
    engine, months = live.engine, live.months
    f = trends.frames(engine, months)
    assert list(f) == list(trends.TRENDS)
    cov = f["coverage"].set_index("month")
    row = cov.loc[dt.date.fromisoformat(live.month + "-01")]
    k = trends.month_status(engine, live.month)["kpis"]
    assert row["verified_coverage_rate"] == pytest.approx(k["verified_coverage_rate"])
    assert row["paper_coverage_rate"] == pytest.approx(k["paper_coverage_rate"])
    assert len(cov) == 12
    # the two check-ins are in their weeks, both counted as verified
    weeks = f["checkins"].set_index("week")
    for day in (9, 21):
        d = dt.date.fromisoformat(live.month + f"-{day:02d}")
        monday = d - dt.timedelta(days=d.weekday())
        assert weeks.loc[monday, "verified"] >= 1
    assert (weeks["checkins"] >= weeks["verified"]).all()
    # every chart is a Vega-Lite spec a browser accepts (JSON has no NaN), light and dark
    for theme in ("light", "dark"):
        for name, chart in trends.charts(f, theme).items():
            spec = chart.to_dict()
            json.dumps(spec, allow_nan=False)
            assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")
    assert trends.months_back(3, "2026-01") == ["2025-11", "2025-12", "2026-01"]


def test_accounts_and_key_task_trends(seeded_copy):
    """On time = submitted by the due time, over the accounts already due; a task's progress is
    the mean of its units' latest reports by each month's end, 0 before a unit's first."""
    months = trends.months_back(3, "2026-03")
    with seeded_copy.begin() as conn:
        orgs = conn.execute(text("SELECT code FROM party_orgs ORDER BY code LIMIT 4")
                            ).scalars().all()
        conn.execute(text("DELETE FROM accounts WHERE month = '2026-02-01'"))
        due = dt.datetime(2026, 3, 13, 18, tzinfo=SHANGHAI)
        for org, late in zip(orgs, (0, 0, 0, 2)):
            conn.execute(text(
                "INSERT INTO accounts (org_code, county_code, month, status, due_at, "
                "submitted_at) VALUES (:o, '141129', '2026-02-01', 'submitted', :d, :s)"),
                {"o": org, "d": due, "s": due + dt.timedelta(days=late, hours=-1)})
        task = conn.execute(text(
            "SELECT task_code FROM key_task_units GROUP BY task_code HAVING count(*) >= 2 "
            "ORDER BY task_code LIMIT 1")).scalar_one()
        units = conn.execute(text("SELECT org_code FROM key_task_units WHERE task_code = :t "
                                  "ORDER BY org_code"), {"t": task}).scalars().all()
        conn.execute(text("DELETE FROM key_task_progress WHERE task_code = :t"), {"t": task})
        for org, day, percent in ((units[0], "2026-01-20", 20), (units[0], "2026-02-10", 40),
                                  (units[1], "2026-02-25", 30)):
            conn.execute(text(
                "INSERT INTO key_task_progress (task_code, county_code, org_code, reported_on, "
                "percent) VALUES (:t, '141129', :o, :d, :p)"),
                {"t": task, "o": org, "d": day, "p": percent})
    acc = trends.accounts_by_month(seeded_copy, months).set_index("month")
    feb = acc.loc[dt.date(2026, 2, 1)]
    assert (feb["due"], feb["on_time"], feb["on_time_rate"]) == (4, 3, 0.75)
    kt = trends.key_tasks_by_month(seeded_copy, months)
    mine = kt[kt["task_code"] == task].set_index("month")["percent"]
    n = len(units)
    assert mine.loc[dt.date(2026, 1, 1)] == pytest.approx(20 / n)
    assert mine.loc[dt.date(2026, 2, 1)] == pytest.approx(70 / n)
    assert mine.loc[dt.date(2026, 3, 1)] == pytest.approx(70 / n)


def test_a_standalone_file_carries_every_month(browser, live, tmp_path):
    """Saved as one file (no service), the overview still moves through the months: their
    statuses are inlined, and the inlined compounds are recoloured."""
    from gridgov.maps.pages import save_standalone

    path = save_standalone(live.engine, "overview", tmp_path / "overview.html", theme="dark")
    page, requests, errors = wall_page(browser)
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("window.gridgovCompounds && window.gridgovCompounds.getLayers().length")
    fills = """code => window.gridgovCompounds.getLayers()
        .filter(l => l.feature.properties.code === code).map(l => l._path.getAttribute('fill'))"""
    page.focus("#gg-month")
    page.keyboard.press("ArrowLeft")
    status = trends.month_status(live.engine, live.month)["status"][live.visited][0]
    page.wait_for_function(f"([code, color]) => ({fills})(code).every(c => c === color)",
                           arg=[live.visited, DARK[status]])
    assert page.evaluate(fills, live.other) == [DARK["inactive"]]
    assert errors == [] and all(u.startswith(("file:", "data:")) for u in requests), requests
    page.close()


# --------------------------------------------------------------------------- 督办 on the overview

def bundle_rows(name: str) -> list[dict]:
    import csv

    with open(BUNDLE / f"{name}.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_overview_flags_late_accounts_and_unanswered_demands(live):
    """As of 2026-11-20 (its end), read from the bundle's files: the accounts never submitted
    whose due time has passed, and the demands still open past theirs; the overview's JSON has
    exactly those organizations (and the work group of a demand sent to a group), and its page
    has them, the layer and its two legend entries. An organization that always accounted on
    time and has no open demand is not flagged. No member's name or phone anywhere."""
    end = dt.datetime(2026, 11, 21, tzinfo=SHANGHAI)
    late = {}
    for a in bundle_rows("accounts"):
        if a["status"] == "draft" and dt.datetime.fromisoformat(a["due_at"]) < end:
            late.setdefault(a["org_code"], set()).add(f"{a['org_code']}/{a['month'][:7]}")
    unanswered = {}
    for d in bundle_rows("demands"):
        if d["status"] == "open" and dt.datetime.fromisoformat(d["due_at"]) < end:
            unanswered.setdefault(d["org_code"] or d["work_group_code"], set()).add(d["code"])
    assert len(late) >= 5 and len(unanswered) >= 2  # the bundle's late units and open demands
    offices = json.loads((BUNDLE / "party_orgs.geojson").read_text(encoding="utf-8"))
    orgs = {o["properties"]["code"]: o["properties"]["name"] for o in offices["features"]}
    ever_late = {a["org_code"] for a in bundle_rows("accounts")
                 if a["status"] == "draft" or a["submitted_at"] > a["due_at"]}
    ever_open = {d["org_code"] for d in bundle_rows("demands") if d["status"] == "open"}
    punctual = sorted(set(orgs) - ever_late - ever_open)[0]
    with httpx.Client(base_url=live.url, timeout=60) as client:
        r = client.get("/maps/overview/supervision", params={"as_of": "2026-11-20"})
        assert r.status_code == 200
        f = r.json()
        page = client.get("/maps/overview", params={"theme": "dark"}).text
        assert client.get("/maps/overview/supervision",
                          params={"as_of": "1999-12-31"}).status_code == 400
    units = {u["code"]: u for u in f["units"]}
    assert set(units) == set(late) | set(unanswered)
    assert f["late_accounts"] == sum(map(len, late.values()))
    assert f["overdue_demands"] == sum(map(len, unanswered.values()))
    for code, u in units.items():
        assert {i["ref"] for i in u["items"]} == late.get(code, set()) | unanswered.get(code, set())
        assert u["accounts"] == len(late.get(code, ())) and u["demands"] == len(
            unanswered.get(code, ()))
        assert all(i["days_late"] >= 0 and i["what_zh"] and i["since"] for i in u["items"])
        if u["kind"] == "org":  # at the office, which the bundle invented (and says so)
            assert u["name"] == orgs[code] and u["lat"] is not None and u["synthetic"] is True
        else:
            assert u["lat"] is None and u["name"].endswith("组")
    assert punctual not in units and orgs[punctual] not in json.dumps(f, ensure_ascii=False)
    # ranked: the most overdue items first, then the longest overdue
    keys = [(-(u["accounts"] + u["demands"]), -u["days_late"]) for u in f["units"]]
    assert keys == sorted(keys)
    # the page: today's flags (the same rule, as of now), the layer, its legend entries
    now = supervision.by_unit(live.engine)
    for u in now["units"]:
        assert json.dumps(u["name"], ensure_ascii=False)[1:-1] in page
    for label in style.FLAG_ZH.values():
        assert label in page
    assert "gridgovFlags" in page and "督办：逾期单位" in page and "kpi-flags-accounts" in page
    with live.engine.connect() as conn:
        people = conn.execute(text("SELECT name, phone FROM members")).all()
    leaked = [p for person in people for p in person
              if p and (p in page or p in json.dumps(f, ensure_ascii=False))]
    assert leaked == []


def test_flags_on_the_wall_screen(browser, live):
    """In the browser (dark theme): a diamond at the office of each flagged organization, in the
    account or the demand colour, with its count; the panel's figures and the units to chase
    first; a click on a listed unit opens its popup (what is late, by how many days, and that
    the office's place is invented); the legend has both entries; nothing from outside."""
    expected = supervision.by_unit(live.engine)
    located = [u for u in expected["units"] if u["lat"] is not None]
    page, requests, errors = open_overview(browser, f"{live.url}/maps/overview?theme=dark")
    page.wait_for_function("n => document.querySelectorAll('.gg-flag').length === n",
                           arg=len(located), timeout=10_000)
    assert page.inner_text("#kpi-flags-accounts") == str(expected["late_accounts"])
    assert page.inner_text("#kpi-flags-demands") == str(expected["overdue_demands"])
    assert page.inner_text("#kpi-flags-units") == str(len(expected["units"]))
    listed = page.eval_on_selector_all("#gg-flag-list li .gg-flag-name",
                                       "els => els.map(e => e.textContent)")
    assert listed == [u["name"] + ("（工作组）" if u["kind"] == "work_group" else "")
                      for u in expected["units"][:5]]
    kinds = page.evaluate("""() => [...document.querySelectorAll('.gg-flag')].map(e =>
        e.className.match(/gg-flag-(account|demand|both)/)[1])""")
    want = ["both" if u["accounts"] and u["demands"] else "demand" if u["demands"] else "account"
            for u in located]
    assert sorted(kinds) == sorted(want) and "demand" in kinds and "account" in kinds
    fills = page.evaluate("""() => Object.fromEntries(['account', 'demand'].map(k => [k,
        getComputedStyle(document.querySelector('.gg-flag-' + k + ' div')).backgroundColor]))""")
    assert fills == {"account": "rgb(255, 64, 129)", "demand": "rgb(179, 136, 255)"}  # dark
    first = next(u for u in expected["units"] if u["lat"] is not None)
    page.click(f"#gg-flag-list li[data-code='{first['code']}'] button")
    page.wait_for_selector(".leaflet-popup-content .gg-flag-popup", timeout=5_000)
    popup = page.inner_text(".leaflet-popup-content")
    assert first["name"] in popup and "驻地位置为示意" in popup
    for item in first["items"]:
        assert item["what_zh"] in popup
    assert "已逾期" in popup
    legend = page.inner_text(".gridgov-panel:has(b:text('图例 · legend'))")
    assert all(label in legend for label in style.FLAG_ZH.values())
    screenshot(page, "overview-flags-dark")
    assert errors == [] and only_local(requests)
    page.close()
