"""Writes the analysts' notebooks from the cell lists below (outputs empty, as kept in git).

Edit the cells here, run `python notebooks/build_notebooks.py`, commit the .ipynb files. The test
suite executes every notebook top to bottom against a test database.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent

NOTEBOOKS = {
    "01_coverage_overview.ipynb": [
        ("md", "# 包联覆盖总览 · Coverage overview\n\nWho covers which compound in 中阳县, with how "
               "many members, from how far. Every number comes from `gridgov.analysis`, the same "
               "functions the CLI and the map service use."),
        ("code", "import gridgov\n\ngg = gridgov.connect()  # GRIDGOV_DATABASE_URL\n"
                 "gg.inventory()"),
        ("code", "cov = gg.coverage()\ncov.status_zh.value_counts()"),
        ("code", "gg.kpis()"),
        ("md", "## By community · 按社区汇总"),
        ("code", "gg.rollup(\"community\").sort_values(\"households_per_member\", ascending=False)"),
        ("md", "## Organization load · 党组织负荷\n\nHouseholds per member across organizations, "
               "and how evenly the burden falls (coefficient of variation, Gini)."),
        ("code", "from gridgov.analysis.load import balance\n\nload = gg.org_load()\n"
                 "load.sort_values(\"households_per_member\", ascending=False)"
                 "[[\"name\", \"member_count\", \"compounds\", \"households\", "
                 "\"households_per_member\", \"max_office_m\"]].head(10)"),
        ("code", "balance(load)"),
        ("md", "## Map · 地图 (no basemap: works offline)"),
        ("code", "cov.explore(column=\"status_zh\", tiles=None, tooltip=[\"name\", \"households\", "
                 "\"members\", \"status_zh\"], categorical=True)"),
    ],
    "02_gap_hunt.ipynb": [
        ("md", "# 查找薄弱小区 · A planner's gap hunt\n\nFind the compounds that need action, test a "
               "change without touching live data, and end with the optimal assignment."),
        ("code", "import gridgov\n\ngg = gridgov.connect()\ngaps = gg.gaps()\n"
                 "gaps[[\"rank\", \"name\", \"households\", \"priority\", \"score_shortfall\", "
                 "\"score_distance\", \"score_access\", \"reasons_zh\"]].head(10)"),
        ("code", "from gridgov.analysis.gaps import to_xlsx\n\nto_xlsx(gaps, \"gaps.xlsx\")  "
                 "# for officials: Chinese headers, one row per compound"),
        ("md", "## What if the two farthest assignments end? · 假设撤回最远的两个包联"),
        ("code", "cov = gg.coverage()\nload = gg.org_load()\n"
                 "far = cov[cov.far_assignment].sort_values(\"max_office_m\", ascending=False)"
                 ".head(2)\n"
                 "changes = [{\"op\": \"end_assignment\", \"org_code\": org, \"compound_code\": code}\n"
                 "           for code, orgs in zip(far.code, far.org_codes) for org in orgs]\n"
                 "result = gg.scenario(changes)\nresult.kpi_diff"),
        ("code", "result.compounds[result.compounds.changed][[\"name\", \"status_before\", "
                 "\"status_after\", \"members_before\", \"members_after\"]]"),
        ("md", "## The recommended assignment · 推荐包联方案\n\nA capacitated min-cost flow: "
               "organizations with spare members → compounds short of members, at least total "
               "office distance."),
        ("code", "rec = gg.recommend_assignments()\n"
                 "rec[[\"org_name\", \"compound_name\", \"members\", \"distance_m\"]]"),
        ("code", "{k: (rec.attrs[\"kpis_before\"][k], rec.attrs[\"kpis_after\"][k]) "
                 "for k in (\"covered\", \"under_covered\", \"uncovered\", \"households_per_member\")}"),
        ("code", "gg.save_scenario(\"推荐包联方案\", rec.attrs[\"changes\"], "
                 "\"min-cost flow recommendation\")\ngg.scenarios()"),
    ],
    "03_access_and_siting.ipynb": [
        ("md", "# 文明实践阵地可达性与选址 · Practice-site access and siting\n\nWalking distance "
               "to the nearest site of each tier and the GB 50180-2018 life circles (5 / 10 / 15 "
               "minutes ≈ 300 / 500 / 1,000 m), then where new stations reach the most households."),
        ("code", "import gridgov\n\ngg = gridgov.connect()\nacc = gg.access()\n"
                 "acc.groupby([\"kind\", \"life_circle_zh\"]).size()"),
        ("md", "Straight-line distance × detour factor (1.3 by default). How do the classes move "
               "between 1.2 and 1.4?"),
        ("code", "gg.detour_sensitivity()"),
        ("code", "villages = acc[acc.kind == \"division\"].sort_values(\"station_walk_m\", "
                 "ascending=False)\nvillages[[\"name\", \"station_walk_m\", \"institute_walk_m\", "
                 "\"life_circle_zh\"]].head(10)"),
        ("md", "## New stations · 新增阵地选址 (maximal covering)"),
        ("code", "sites = gg.recommend_sites(n_sites=3)\n"
                 "sites[[\"rank\", \"lon\", \"lat\", \"compounds_gained\", \"households_gained\"]]"),
        ("code", "sites.attrs"),
        ("code", "best = sites.iloc[0]\nresult = gg.scenario([{\"op\": \"add_site\", \"code\": "
                 "\"141129-S900\", \"tier\": \"station\", \"name\": \"新增文明实践站（方案）\",\n"
                 "    \"division_code\": \"141129100001\", \"lon\": best.lon, \"lat\": best.lat}])\n"
                 "result.access_before, result.access_after"),
        ("code", "sites.explore(tiles=None, marker_kwds={\"radius\": 8}, color=\"red\")"),
    ],
    "04_case_hotspots.ipynb": [
        ("md", "# 工单热点与单位表现 · Case hot spots and unit performance\n\nWhere residents' "
               "随手拍 reports, community whistles and 12345 orders concentrate, which units close "
               "them on time, and how cases change the gap ranking. Cases come from "
               "`gg.cases()` (no reporter's contact unless asked for), KPIs from `gg.case_kpis()`, "
               "the same functions the service's /cases/kpis uses."),
        ("code", "import gridgov\nimport pandas as pd\n\ngg = gridgov.connect()\n"
                 "cases = gg.cases()\ncases.groupby([\"channel\", \"status\"]).size().unstack("
                 "fill_value=0)"),
        ("md", "## Hexagon bins · 六边形热点 (H3 resolution 9, ≈ 0.1 km² each)"),
        ("code", "import h3\nimport geopandas as gpd\nfrom shapely.geometry import Polygon\n\n"
                 "cases[\"hex\"] = [h3.latlng_to_cell(p.y, p.x, 9) for p in cases.geometry]\n"
                 "hot = cases.groupby(\"hex\").agg(cases=(\"code\", \"size\"), "
                 "open=(\"open\", \"sum\"), overdue=(\"overdue\", \"sum\"))\n"
                 "hexes = gpd.GeoDataFrame(hot, geometry=[Polygon([(lng, lat) for lat, lng in "
                 "h3.cell_to_boundary(h)]) for h in hot.index], crs=4326)\n"
                 "hexes.sort_values(\"cases\", ascending=False).head(10)"),
        ("code", "hexes.reset_index().explore(column=\"cases\", tiles=None, cmap=\"OrRd\", "
                 "tooltip=[\"cases\", \"open\", \"overdue\"])"),
        ("md", "## Seasons · 季节与类别: cases per month by category"),
        ("code", "month = cases.reported_at.dt.tz_convert(\"Asia/Shanghai\").dt.strftime(\"%Y-%m\")\n"
                 "pd.crosstab(cases.category_code, month)"),
        ("md", "## Units · 单位表现: 按期结案率 per organization and month; units with fewer than "
               "5 due cases are listed, not ranked"),
        ("code", "k = gg.case_kpis(level=\"unit\", period=\"month\")\n"
                 "last = k[k.period == k.period.max()].sort_values(\"rank\")\n"
                 "last[[\"name\", \"due\", \"closed_on_time\", \"on_time_rate\", "
                 "\"rework_rate\", \"accurate_dispatch_rate\", \"median_hours\", \"rank\", "
                 "\"note_zh\"]].head(15)"),
        ("code", "gg.case_kpis(level=\"township\", period=\"month\").pivot_table("
                 "index=\"name\", columns=\"period\", values=\"on_time_rate\").round(3)"),
        ("md", "## Cases in the gap ranking · 工单进入问题小区排序: overdue cases and cases per "
               "100 households are score parts beside coverage on paper"),
        ("code", "g = gg.gaps()\ng[g.score_overdue + g.score_cases > 0][[\"rank\", \"name\", "
                 "\"overdue_cases\", \"cases_per_100\", \"score_overdue\", \"score_cases\", "
                 "\"reasons_zh\"]].head(10)"),
    ],
    "05_paper_vs_verified.ipynb": [
        ("md", "# 纸面覆盖与实际走访 · Paper vs verified coverage\n\nOn paper every compound of "
               "中阳县 is covered: each has an organization assigned. In fact a compound is covered "
               "only if members of those organizations come: a *verified visit* is a check-in that "
               "counts (valid, or approved by a planner, and checked out) by a member of an "
               "organization assigned to the compound that day. A compound covered on paper with "
               "fewer than 2 days of verified visits in a month is *inactive* (有名无实). The "
               "bundle's check-ins are invented (see geodata/README.md)."),
        ("code", "import datetime as dt\n\nimport gridgov\nimport pandas as pd\n"
                 "from sqlalchemy import text\nfrom gridgov.analysis import coverage as cv\n\n"
                 "gg = gridgov.connect()\nmonth = \"2026-10\"  # the last full month of the bundle\n"
                 "cov = cv.coverage(gg.engine, counties=gg.counties, settings=gg.settings, "
                 "basis=\"visits\", period=month)\ncov.status_zh.value_counts()"),
        ("code", "k = cv.kpis(cov)\n{key: k[key] for key in (\"period\", \"paper_coverage_rate\", "
                 "\"verified_coverage_rate\", \"coverage_gap\", \"inactive\", \"verified_visits\", "
                 "\"verified_hours\")}"),
        ("md", "## By community · 按社区: the gap between paper and fact"),
        ("code", "cv.rollup(cov, \"community\")[[\"community_name\", \"compounds\", \"inactive\", "
                 "\"coverage_rate\", \"verified_coverage_rate\", \"coverage_gap\", \"visits\", "
                 "\"verified_hours\"]].sort_values(\"coverage_gap\", ascending=False)"),
        ("md", "## Month by month · 逐月对比: paper and verified coverage rates"),
        ("code", "rows = []\nfor m in pd.period_range(\"2025-12\", month, freq=\"M\").strftime(\"%Y-%m\"):\n"
                 "    km = cv.kpis(cv.coverage(gg.engine, counties=gg.counties, settings=gg.settings,\n"
                 "                             basis=\"visits\", period=m))\n"
                 "    rows.append({\"month\": m, **{key: km[key] for key in (\n"
                 "        \"paper_coverage_rate\", \"verified_coverage_rate\", \"inactive\", "
                 "\"verified_visits\", \"verified_hours\")}})\n"
                 "monthly = pd.DataFrame(rows).set_index(\"month\")\nmonthly.round(3)"),
        ("code", "monthly[[\"paper_coverage_rate\", \"verified_coverage_rate\"]].plot("
                 "ylim=(0, 1.05), marker=\"o\", title=\"paper vs verified coverage\");"),
        ("md", "## Inactive compounds · 有名无实的小区 in the last full month, and the compounds "
               "nobody visited all year"),
        ("code", "inactive = cov[cov.status == \"inactive\"].sort_values([\"visit_days\", "
                 "\"households\"], ascending=[True, False])\n"
                 "inactive[[\"code\", \"name\", \"community_name\", \"households\", \"members\", "
                 "\"visit_days\", \"visits\", \"days_since_visit\", \"paper_status\", \"orgs_zh\"]]"),
        ("code", "year = cv.coverage(gg.engine, counties=gg.counties, settings=gg.settings, "
                 "basis=\"visits\",\n                   period=(dt.date(2025, 12, 1), "
                 "dt.date(2026, 11, 28)))  # the whole year of data\n"
                 "year[year.visits == 0][[\"code\", \"name\", \"households\", \"members\", \"orgs_zh\"]]"),
        ("code", "cov.explore(column=\"status_zh\", tiles=None, categorical=True, tooltip=[\"name\", "
                 "\"households\", \"members\", \"visit_days\", \"status_zh\"])"),
        ("md", "## Who is not visiting · 未走访的党员 (the last quarter)\n\nMembers with no verified "
               "visit from August to October, straight from the check-ins table. No names: member "
               "codes and organization names only (positions and names are personal data)."),
        ("code", "members = pd.read_sql(text(\"\"\"\n"
                 "    SELECT m.code AS member_code, o.name AS org_name, m.compound_code,\n"
                 "           count(c.member_code) FILTER (WHERE c.status IN ('valid', 'approved')\n"
                 "                                   AND c.checked_out_at IS NOT NULL) AS verified,\n"
                 "           count(c.member_code) FILTER (WHERE c.status = 'flagged') AS flagged\n"
                 "    FROM members m JOIN party_orgs o ON o.code = m.org_code\n"
                 "    LEFT JOIN checkins c ON c.member_code = m.code AND c.org_code = m.org_code\n"
                 "         AND c.checked_in_at >= :start AND c.checked_in_at < :end\n"
                 "    GROUP BY 1, 2, 3 ORDER BY 1\"\"\"), gg.engine,\n"
                 "    params={\"start\": \"2026-08-01 00:00+08\", \"end\": \"2026-11-01 00:00+08\"})\n"
                 "idle = members[members.verified == 0]\n"
                 "len(idle), round(len(idle) / len(members), 3)"),
        ("code", "by_org = members.groupby(\"org_name\").agg(members=(\"member_code\", \"size\"), "
                 "not_visiting=(\"verified\", lambda v: int((v == 0).sum())))\n"
                 "by_org[\"share\"] = (by_org.not_visiting / by_org.members).round(2)\n"
                 "by_org.sort_values([\"share\", \"members\"], ascending=False).head(15)"),
        ("code", "# members whose check-ins in the quarter were all flagged (mocked, 2 km away, ...)\n"
                 "idle[idle.flagged > 0][[\"member_code\", \"org_name\", \"compound_code\", \"flagged\"]]"),
        ("md", "## A recommended re-assignment · 推荐调整\n\n`gg.recommend_assignments()` as it is "
               "today balances members on paper (the roster): organizations with spare members "
               "take on compounds short of members, at least total office distance. The "
               "recommendation will use serving members' capacity (members with a verified visit "
               "in the period) and count inactive compounds as needing members once that lands; "
               "meanwhile, set its compounds beside those inactive in fact, and its donors beside "
               "the share of their members who did not visit."),
        ("code", "rec = gg.recommend_assignments()\n"
                 "rec.assign(inactive_in_fact=rec.compound_code.isin(inactive.code),\n"
                 "           donor_not_visiting=rec.org_name.map(by_org.share))"
                 "[[\"org_name\", \"compound_name\", \"members\", \"distance_m\", "
                 "\"inactive_in_fact\", \"donor_not_visiting\"]]"),
        ("code", "{k: (rec.attrs[\"kpis_before\"][k], rec.attrs[\"kpis_after\"][k]) "
                 "for k in (\"covered\", \"under_covered\", \"uncovered\", \"households_per_member\")}"),
    ],
}


def build() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                                 for kind, src in cells],
                          metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                   "language": "python"},
                                    "language_info": {"name": "python"}})
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{name.split('_')[0]}-{i:02d}"  # stable ids: no churn in git
        nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    build()
