"""Who takes a case: routing by where it lies, explained in Chinese.

The rule, in order (the first that applies wins):

1. ``override``: the category names a county department (部件 such as street lights);
2. ``compound``: the point lies in a compound with active assignments: its organizations, the
   lead first (单位包创 before 领导包联 and 党员进社区; then the most members committed);
3. ``grid_cell``: the point lies in a grid cell: the cell's community;
4. ``division``: the village or community it lies in (属地兜底);
5. ``township``: the township it lies in;
6. ``manual``: nowhere known: the command center dispatches by hand.

Points within 20 m (setting) of any compound, grid-cell, village/community or township boundary
are flagged for the dispatcher: a wrong side of a street is a wrong unit.

Routing works on arrays of points (one case at intake, a million 12345 orders in bulk) against a
county's areas held in memory with STRtrees, in metres on a local equidistant projection that is
correct for any county.

Example:
    >>> import datetime as dt
    >>> with engine.connect() as conn:
    ...     areas = load_areas(conn, "141129")
    >>> r = route(areas, [111.19765], [37.33306], [dt.date(2026, 11, 28)])   # in 康乐小区
    >>> r.loc[0, ["rule", "unit_code", "co_units"]].tolist()
    ['compound', '141129-P047', ['141129-P097']]
    >>> r.loc[0, "note"]
    '位于康乐小区，包联单位中共中阳县委党校党支部（牵头）、中阳县公安局城南派出所党支部'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyproj
import shapely
from sqlalchemy import Connection, text

KIND_ORDER = {"unit": 0, "leader": 1, "members": 2}


@dataclass
class Areas:
    """A county's areas in local metres, with search trees, and its assignments."""

    county: str
    to_metric: pyproj.Transformer
    compounds: pd.DataFrame  # code, name, community_code
    compound_tree: shapely.STRtree
    cells: pd.DataFrame  # code, community_code
    cell_tree: shapely.STRtree
    divisions: pd.DataFrame  # code, name, kind, township_code
    division_tree: shapely.STRtree
    townships: pd.DataFrame  # code, name
    township_tree: shapely.STRtree
    boundary_tree: shapely.STRtree
    assignments: pd.DataFrame  # org_code, org_name, compound_code, kind, valid_from, valid_to, members
    orgs: dict  # org code -> name (the county's organizations, for overrides)


def _frame(conn: Connection, sql: str, county: str, tr) -> tuple[pd.DataFrame, np.ndarray]:
    result = conn.execute(text(sql), {"c": county})
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    wkb = frame.pop("wkb") if len(frame) else pd.Series([], dtype=object)
    geoms = shapely.from_wkb([bytes(b) for b in wkb]) if len(wkb) else np.array([], dtype=object)
    if len(geoms):
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(
            tr.transform(xy[:, 0], xy[:, 1])))
    return frame, geoms


def load_areas(conn: Connection, county: str) -> Areas:
    """Read a county's compounds, grid cells, villages/communities, townships and assignments."""
    center = conn.execute(text("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) AS c "
                               "FROM counties WHERE code = :c) s"), {"c": county}).first()
    lon0, lat0 = center if center else (111.2, 37.3)
    tr = pyproj.Transformer.from_crs(4326, pyproj.CRS.from_proj4(
        f"+proj=aeqd +lat_0={lat0:.6f} +lon_0={lon0:.6f} +datum=WGS84 +units=m"), always_xy=True)
    compounds, cg = _frame(conn, "SELECT code, name, community_code, ST_AsBinary(geom) AS wkb "
                                 "FROM compounds WHERE county_code = :c ORDER BY code", county, tr)
    cells, gg = _frame(conn, "SELECT code, community_code, ST_AsBinary(geom) AS wkb "
                             "FROM grid_cells WHERE county_code = :c ORDER BY code", county, tr)
    divisions, dg = _frame(conn, "SELECT code, name, kind, township_code, ST_AsBinary(geom) AS wkb "
                                 "FROM divisions WHERE county_code = :c AND geom IS NOT NULL "
                                 "ORDER BY code", county, tr)
    townships, tg = _frame(conn, "SELECT code, name, ST_AsBinary(geom) AS wkb FROM townships "
                                 "WHERE county_code = :c AND geom IS NOT NULL ORDER BY code",
                           county, tr)
    division_names = dict(conn.execute(text("SELECT code, name FROM divisions WHERE "
                                            "county_code = :c"), {"c": county}).all())
    cells["community_name"] = cells["community_code"].map(division_names) if len(cells) else []
    result = conn.execute(text(
        "SELECT a.org_code, o.name AS org_name, a.compound_code, a.kind, a.valid_from, "
        "a.valid_to, a.members FROM assignments a JOIN party_orgs o ON o.code = a.org_code "
        "WHERE a.county_code = :c"), {"c": county})
    assignments = pd.DataFrame(result.all(), columns=list(result.keys()))
    orgs = dict(conn.execute(text("SELECT code, name FROM party_orgs WHERE county_code = :c"),
                             {"c": county}).all())
    boundaries = shapely.boundary(np.concatenate([cg, gg, dg, tg])) if \
        len(cg) + len(gg) + len(dg) + len(tg) else np.array([], dtype=object)
    return Areas(county, tr, compounds, shapely.STRtree(cg), cells, shapely.STRtree(gg),
                 divisions, shapely.STRtree(dg), townships, shapely.STRtree(tg),
                 shapely.STRtree(boundaries), assignments, orgs)


def _first_hit(tree: shapely.STRtree, points: np.ndarray) -> np.ndarray:
    """Index of the first area containing each point, -1 where none does."""
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(tree) == 0:
        return out
    src, idx = tree.query(points, predicate="intersects")
    if len(src) == 0:
        return out
    # several hits (overlapping outlines): the lowest area index wins, deterministically
    order = np.lexsort((idx, src))
    src, idx = src[order], idx[order]
    first = np.r_[True, src[1:] != src[:-1]]
    out[src[first]] = idx[first]
    return out


def route(areas: Areas, lon, lat, dates, override_orgs=None, categories=None,
          boundary_m: float = 20.0) -> pd.DataFrame:
    """Route points (lon/lat, WGS84) reported on ``dates``; one row per point.

    ``override_orgs``: per point, the organization its category names (or None);
    ``categories``: per point, the category name (for the explanation of an override).
    Columns: rule, unit_kind, unit_code, co_units (list), compound_code, grid_cell_code,
    division_code, township_code, near_boundary, note (Chinese)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    n = len(lon)
    x, y = areas.to_metric.transform(lon, lat)
    points = shapely.points(x, y)
    ci = _first_hit(areas.compound_tree, points)
    gi = _first_hit(areas.cell_tree, points)
    di = _first_hit(areas.division_tree, points)
    ti = _first_hit(areas.township_tree, points)
    near = np.zeros(n, dtype=bool)
    if n and len(areas.boundary_tree):
        src, _ = areas.boundary_tree.query(points, predicate="dwithin", distance=boundary_m)
        near[np.unique(src)] = True

    def pick(frame, index, column):
        values = frame[column].to_numpy(dtype=object) if len(frame) else np.array([], object)
        out = np.full(n, None, dtype=object)
        hit = index >= 0
        out[hit] = values[index[hit]]
        return out

    out = pd.DataFrame({
        "compound_code": pick(areas.compounds, ci, "code"),
        "compound_name": pick(areas.compounds, ci, "name"),
        "grid_cell_code": pick(areas.cells, gi, "code"),
        "cell_community": pick(areas.cells, gi, "community_code"),
        "cell_community_name": pick(areas.cells, gi, "community_name"),
        "division_code": pick(areas.divisions, di, "code"),
        "division_name": pick(areas.divisions, di, "name"),
        "township_code": pick(areas.townships, ti, "code"),
        "township_name": pick(areas.townships, ti, "name"),
        "near_boundary": near,
    })
    out["date"] = pd.to_datetime(pd.Series(list(dates))).dt.date if n else []
    lead, co = _organizations(areas, out)
    out["rule"] = "manual"
    out["unit_kind"] = None
    out["unit_code"] = None
    out["co_units"] = [[] for _ in range(n)]
    out["note"] = "不在县内已知区域，待指挥中心人工派遣"
    # from the weakest rule to the strongest: each later rule overwrites where it applies
    for mask, rule, kind, code, note in (
        (out.township_code.notna(), "township", "township", out.township_code,
         "位于" + out.township_name.fillna("") + "，由" + out.township_name.fillna("")
         + "负责（属地兜底）"),
        (out.division_code.notna(), "division", "division", out.division_code,
         "位于" + out.division_name.fillna("") + "，由" + out.division_name.fillna("")
         + "负责（属地兜底）"),
        (out.grid_cell_code.notna(), "grid_cell", "division", out.cell_community,
         "位于" + out.grid_cell_code.fillna("") + "网格，由" + out.cell_community_name.fillna("")
         + "负责（网格所属社区）"),
    ):
        out.loc[mask, ["rule", "unit_kind"]] = [rule, kind]
        out.loc[mask, "unit_code"] = code[mask]
        out.loc[mask, "note"] = note[mask]
    has_org = lead.notna()
    if has_org.any():
        names = lead[has_org].map(areas.orgs)
        others = co[has_org]
        out.loc[has_org, ["rule", "unit_kind"]] = ["compound", "org"]
        out.loc[has_org, "unit_code"] = lead[has_org]
        out["co_units"] = [o if h else c for h, o, c in zip(has_org, co, out.co_units)]
        out.loc[has_org, "note"] = [
            f"位于{c}，包联单位{n}（牵头）" + "".join(f"、{areas.orgs.get(o, o)}" for o in rest)
            for c, n, rest in zip(out.compound_name[has_org], names, others)]
    if override_orgs is not None:
        override = pd.Series(list(override_orgs), dtype=object).where(
            lambda s: s.isin(list(areas.orgs)))  # a department of another county does not apply
        mask = override.notna()
        if mask.any():
            cats = pd.Series(list(categories) if categories is not None else [""] * n)
            out.loc[mask, ["rule", "unit_kind"]] = ["override", "org"]
            out.loc[mask, "unit_code"] = override[mask]
            out["co_units"] = [[] if m else c for m, c in zip(mask, out.co_units)]
            out.loc[mask, "note"] = [f"{c}类问题由{areas.orgs[o]}负责（类别指定）"
                                     for c, o in zip(cats[mask], override[mask])]
    flag = out.near_boundary & (out.rule != "override")
    out.loc[flag, "note"] = out.loc[flag, "note"] + f"；距边界不足{boundary_m:g}米，请派遣员核实"
    return out[["rule", "unit_kind", "unit_code", "co_units", "compound_code", "grid_cell_code",
                "division_code", "township_code", "near_boundary", "note"]]


def _organizations(areas: Areas, located: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The lead organization and the others active at each point's compound on its date."""
    n = len(located)
    lead = pd.Series([None] * n, dtype=object)
    co = pd.Series([[] for _ in range(n)], dtype=object)
    a = areas.assignments
    if n == 0 or a.empty:
        return lead, co
    cases = pd.DataFrame({"i": np.arange(n), "compound_code": located.compound_code,
                          "date": located.date}).dropna(subset=["compound_code"])
    joined = cases.merge(a, on="compound_code")
    if joined.empty:
        return lead, co
    active = joined[(joined.valid_from <= joined.date) &
                    (joined.valid_to.isna() | (joined.valid_to > joined.date))].copy()
    if active.empty:
        return lead, co
    active["kind_order"] = active.kind.map(KIND_ORDER).fillna(9)
    active["members_order"] = -active.members.fillna(-1).astype(float)
    active = active.sort_values(["i", "kind_order", "members_order", "org_code"])
    active = active.drop_duplicates(["i", "org_code"])
    grouped = active.groupby("i", sort=True)["org_code"].agg(list)
    lead.iloc[grouped.index] = [orgs[0] for orgs in grouped]
    co.iloc[grouped.index] = pd.Series([orgs[1:] for orgs in grouped], index=grouped.index)
    return lead, co

