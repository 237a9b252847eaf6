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
correct for any county. The work is per area and per group of points, never per point in Python:
the areas are prepared (indexed) once, their boundaries are cut into segments so that a point
meets only the few around it, and a compound's organizations are ranked once per period in which
its assignments do not change.

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

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyproj
import shapely
from sqlalchemy import Connection, text

KIND_ORDER = {"unit": 0, "leader": 1, "members": 2}
MANUAL_NOTE = "不在县内已知区域，待指挥中心人工派遣"
_NEW_LIST = np.frompyfunc(lambda _: [], 1, 1)  # a new empty list per element of an array


@dataclass
class Areas:
    """A county's areas in local metres, with search trees, and its assignments.

    The areas in the trees are prepared (indexed for point-in-polygon tests); the boundary tree
    holds every area's boundary cut into segments."""

    county: str
    to_metric: pyproj.Transformer
    compounds: pd.DataFrame  # code, name, community_code
    compound_tree: shapely.STRtree
    cells: pd.DataFrame  # code, community_code, community_name, note
    cell_tree: shapely.STRtree
    divisions: pd.DataFrame  # code, name, kind, township_code, note
    division_tree: shapely.STRtree
    townships: pd.DataFrame  # code, name, note
    township_tree: shapely.STRtree
    boundary_tree: shapely.STRtree  # segments of all the areas' boundaries
    # org_code, org_name, compound_code, kind, valid_from, valid_to, members; and for ranking:
    # compound (index in compounds), start and end (day numbers), in rank order per compound
    assignments: pd.DataFrame
    orgs: dict  # org code -> name (the county's organizations, for overrides)
    _columns: dict = field(default_factory=dict, repr=False)

    def column(self, frame: str, column: str) -> np.ndarray:
        """A column of one of the area frames as an object array, made once (routing one case
        at intake picks ten of them; converting each again cost more than the search)."""
        key = (frame, column)
        if key not in self._columns:
            values = getattr(self, frame)[column]
            self._columns[key] = values.to_numpy(dtype=object) if len(values) else \
                np.array([None], dtype=object)
        return self._columns[key]


def _frame(conn: Connection, sql: str, county: str, tr) -> tuple[pd.DataFrame, np.ndarray]:
    result = conn.execute(text(sql), {"c": county})
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    wkb = frame.pop("wkb") if len(frame) else pd.Series([], dtype=object)
    geoms = shapely.from_wkb([bytes(b) for b in wkb]) if len(wkb) else np.array([], dtype=object)
    if len(geoms):
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(
            tr.transform(xy[:, 0], xy[:, 1])))
    return frame, geoms


def prepared_tree(geoms: np.ndarray) -> shapely.STRtree:
    """An STRtree of ``geoms``, prepared and warmed: GEOS builds a prepared polygon's index on
    its first test of a point within its envelope, and the Areas are shared between threads, so
    that happens here, once (with each area's centroid)."""
    shapely.prepare(geoms)
    if len(geoms):
        center = shapely.centroid(geoms)
        shapely.intersects_xy(geoms, shapely.get_x(center), shapely.get_y(center))
    return shapely.STRtree(geoms)


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
    # each area's explanation, written once here rather than once per case
    for frame, note in (
            (townships, lambda f: "位于" + f["name"].fillna("") + "，由" + f["name"].fillna("")
             + "负责（属地兜底）"),
            (divisions, lambda f: "位于" + f["name"].fillna("") + "，由" + f["name"].fillna("")
             + "负责（属地兜底）"),
            (cells, lambda f: "位于" + f["code"].fillna("") + "网格，由"
             + f["community_name"].fillna("") + "负责（网格所属社区）")):
        frame["note"] = note(frame) if len(frame) else []
    result = conn.execute(text(
        "SELECT a.org_code, o.name AS org_name, a.compound_code, a.kind, a.valid_from, "
        "a.valid_to, a.members FROM assignments a JOIN party_orgs o ON o.code = a.org_code "
        "WHERE a.county_code = :c"), {"c": county})
    assignments = _ranked(pd.DataFrame(result.all(), columns=list(result.keys())), compounds)
    orgs = dict(conn.execute(text("SELECT code, name FROM party_orgs WHERE county_code = :c"),
                             {"c": county}).all())
    everything = np.concatenate([cg, gg, dg, tg])
    segments = _segments(everything) if len(everything) else np.array([], dtype=object)
    return Areas(county, tr, compounds, prepared_tree(cg), cells, prepared_tree(gg),
                 divisions, prepared_tree(dg), townships, prepared_tree(tg),
                 shapely.STRtree(segments), assignments, orgs)


def first_hit(tree: shapely.STRtree, points: np.ndarray, x: np.ndarray,
               y: np.ndarray) -> np.ndarray:
    """Index of the first area containing each point, -1 where none does: candidates by the
    tree's bounding boxes, then the exact test against the prepared areas."""
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(tree) == 0:
        return out
    src, idx = tree.query(points)
    hit = shapely.intersects_xy(tree.geometries[idx], x[src], y[src])
    src, idx = src[hit], idx[hit]
    if len(src) == 0:
        return out
    # several hits (overlapping outlines): the lowest area index wins, deterministically
    first = np.full(len(points), len(tree), dtype=np.int64)
    np.minimum.at(first, src, idx)
    out[src] = first[src]
    return out


def _near_boundary(areas: Areas, points: np.ndarray, distance: float) -> np.ndarray:
    """Whether each point lies within ``distance`` of any area's boundary (the tree holds the
    boundaries cut into their segments, so a point meets only the few segments around it)."""
    near = np.zeros(len(points), dtype=bool)
    if len(points) and len(areas.boundary_tree):
        src, _ = areas.boundary_tree.query(points, predicate="dwithin", distance=distance)
        near[src] = True
    return near


def _segments(geoms: np.ndarray) -> np.ndarray:
    """The boundaries of ``geoms`` as two-point line segments."""
    rings = shapely.get_parts(shapely.boundary(geoms))
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    return shapely.linestrings(np.stack([xy[:-1][same], xy[1:][same]], axis=1))


def _days(dates) -> np.ndarray:
    """Day numbers (days since 1970-01-01) of dates, naive datetimes or timestamps (a
    timezone-aware timestamp counts in its own zone)."""
    if not isinstance(dates, pd.Series) and all(type(d) is dt.date for d in dates):
        return np.array(dates, dtype="datetime64[D]").astype(np.int64)  # plain dates: no zone
    values = pd.Series(dates) if not isinstance(dates, pd.Series) else dates
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_dtype(values.dtype):
        values = pd.to_datetime(values)
    return values.to_numpy().astype("datetime64[D]").astype(np.int64)


def route(areas: Areas, lon, lat, dates, override_orgs=None, categories=None,
          boundary_m: float = 20.0) -> pd.DataFrame:
    """Route points (lon/lat, WGS84) reported on ``dates``; one row per point.

    ``dates``: per point, a date (or a timestamp: its day in its own time zone);
    ``override_orgs``: per point, the organization its category names (or None);
    ``categories``: per point, the category name (for the explanation of an override).
    Columns: rule, unit_kind, unit_code, co_units (list), compound_code, grid_cell_code,
    division_code, township_code, near_boundary, note (Chinese)."""
    return pd.DataFrame(routed(areas, lon, lat, dates, override_orgs, categories, boundary_m))


def routed(areas: Areas, lon, lat, dates, override_orgs=None, categories=None,
           boundary_m: float = 20.0) -> dict[str, np.ndarray]:
    """:func:`route` as arrays, one per column: for one case at intake, where building the
    frame would cost more than the routing."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    n = len(lon)
    x, y = (np.asarray(v, dtype=float) for v in areas.to_metric.transform(lon, lat))
    points = shapely.points(x, y)
    ci = first_hit(areas.compound_tree, points, x, y)
    gi = first_hit(areas.cell_tree, points, x, y)
    di = first_hit(areas.division_tree, points, x, y)
    ti = first_hit(areas.township_tree, points, x, y)

    def pick(frame, index, column):
        values = areas.column(frame, column)
        return np.where(index >= 0, values[np.maximum(index, 0)], None)

    rule = np.full(n, "manual", dtype=object)
    kind = np.full(n, None, dtype=object)
    unit = np.full(n, None, dtype=object)
    note = np.full(n, MANUAL_NOTE, dtype=object)
    # from the weakest rule to the strongest: each later rule overwrites where it applies
    for index, frame, this_rule, this_kind, unit_column in (
            (ti, "townships", "township", "township", "code"),
            (di, "divisions", "division", "division", "code"),
            (gi, "cells", "grid_cell", "division", "community_code")):
        hit = index >= 0
        rule[hit], kind[hit] = this_rule, this_kind
        unit[hit] = pick(frame, index, unit_column)[hit]
        note[hit] = pick(frame, index, "note")[hit]
    co_units = np.empty(n, dtype=object)
    group, lead, co, org_note = _organizations(areas, ci, _days(dates) if n else np.array([]))
    has_org = group >= 0
    rule[has_org], kind[has_org] = "compound", "org"
    unit[has_org] = lead[group[has_org]]
    note[has_org] = org_note[group[has_org]]
    co_units[has_org] = co[group[has_org]]
    if override_orgs is not None and pd.notna(np.asarray(override_orgs, dtype=object)).any():
        override = pd.Series(np.asarray(override_orgs, dtype=object), dtype=object)
        override = override.where(override.isin(list(areas.orgs)))  # not another county's
        mask = override.notna().to_numpy()
        if mask.any():
            cats = pd.Series(np.asarray(categories, dtype=object) if categories is not None
                             else np.full(n, "", dtype=object))
            rule[mask], kind[mask] = "override", "org"
            unit[mask] = override[mask].to_numpy()
            co_units[mask] = None
            note[mask] = (cats[mask].fillna("").astype(str) + "类问题由"
                          + override[mask].map(areas.orgs) + "负责（类别指定）").to_numpy()
    near = _near_boundary(areas, points, boundary_m)
    flag = near & (rule != "override")
    note[flag] = note[flag] + f"；距边界不足{boundary_m:g}米，请派遣员核实"
    # one list per point (the compound's are shared by its points: read them, do not change them)
    empty = co_units == None  # noqa: E711  (elementwise)
    co_units[empty] = _NEW_LIST(np.zeros(int(empty.sum())))
    return {
        "rule": rule, "unit_kind": kind, "unit_code": unit, "co_units": co_units,
        "compound_code": pick("compounds", ci, "code"),
        "grid_cell_code": pick("cells", gi, "code"),
        "division_code": pick("divisions", di, "code"),
        "township_code": pick("townships", ti, "code"),
        "near_boundary": near, "note": note}


def _ranked(assignments: pd.DataFrame, compounds: pd.DataFrame) -> pd.DataFrame:
    """The assignments of the county's compounds in the order routing ranks them: by compound,
    then the lead first (单位包创 before 领导包联 and 党员进社区, then the most members, then code),
    with their compound's index and their first and last day as numbers."""
    position = pd.Series(np.arange(len(compounds)), index=compounds["code"], dtype=np.int64)
    a = assignments.assign(compound=assignments["compound_code"].map(position))
    a = a.dropna(subset=["compound"]).astype({"compound": np.int64})
    a = a.assign(start=_days(a["valid_from"]), end=_days(a["valid_to"]),
                 kind_order=a["kind"].map(KIND_ORDER).fillna(9),
                 members_order=-a["members"].astype(float).fillna(-1))
    a = a.sort_values(["compound", "kind_order", "members_order", "org_code"])
    return a.drop(columns=["kind_order", "members_order"]).reset_index(drop=True)


def _organizations(areas: Areas, compound: np.ndarray, days: np.ndarray):
    """The organizations active at each point's compound on its day: per point the index of its
    group (-1: none active), and per group the lead organization, the others and the note.

    Who is active at a compound changes only on the days its assignments start or end, so points
    fall into groups (compound, period between such days), each ranked once: a million orders
    in a county make a few hundred groups."""
    a = areas.assignments
    group = np.full(len(compound), -1, dtype=np.int64)
    inside = np.flatnonzero(compound >= 0)
    if len(inside) == 0 or a.empty:
        return group, *(np.array([], dtype=object),) * 3
    ci, start, end = (a[c].to_numpy(np.int64) for c in ("compound", "start", "end"))
    ended = a["valid_to"].notna().to_numpy()
    orgs = a["org_code"].to_numpy(dtype=object)
    # compound and day in one sortable number; the changes of each compound, in order
    span = np.int64(1 << 32)
    changes = np.unique(np.concatenate([ci * span + start, ci[ended] * span + end[ended]]))
    period = np.searchsorted(changes, compound[inside] * span + days[inside], side="right")
    keys, first, member = np.unique(compound[inside] * (len(changes) + 1) + period,
                                    return_index=True, return_inverse=True)
    lead, co, note = (np.full(len(keys), None, dtype=object) for _ in range(3))
    names = areas.column("compounds", "name")
    rows = np.searchsorted(ci, np.arange(len(names) + 1))  # each compound's assignments
    # each group ranked as its first point: the same answer holds for all of its points
    for g, i in enumerate(inside[first]):
        c, day = compound[i], days[i]
        lo, hi = rows[c], rows[c + 1]
        active = (start[lo:hi] <= day) & (~ended[lo:hi] | (end[lo:hi] > day))
        ranked = list(dict.fromkeys(orgs[lo:hi][active]))  # in rank order, each once
        if ranked:
            lead[g], co[g] = ranked[0], ranked[1:]
            note[g] = (f"位于{names[c]}，包联单位{areas.orgs.get(ranked[0], ranked[0])}（牵头）"
                       + "".join(f"、{areas.orgs.get(o, o)}" for o in ranked[1:]))
    group[inside] = np.where(pd.notna(lead[member]), member, -1)
    return group, lead, co, note
