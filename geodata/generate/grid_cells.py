"""Grid cells (网格) of the 14 communities of 宁乡镇. Real: the code scheme (community code + a
2-digit sequence, GB/T 30428 family) and the rules (cells tile their community without gaps or
overlaps, numbered north to south, west to east). Invented: the cells. Each community is cut along
its streets into 1 to 3 rows and 1 or 2 columns per row, 2 to 6 cells, planned here in the town's
(u, v) metres; the outlines written come from the county's planar partition (divisions.py), so
the cells tile their community exactly.
"""
from __future__ import annotations

import numpy as np
from shapely.geometry import LineString, box

from .common import COUNTY, rng_for
from .town import Town, bank_extent

NOTE_CELL = "code scheme per GB/T 30428 (community + 2-digit seq); cell outline invented"


def plan_cells(town: Town, communities: dict) -> dict:
    """Choose, per community, 1-3 rows (cut along cross streets) and 1-2 columns per row (cut
    along a longitudinal street) giving 2-6 grid cells. Returns (slice, side) -> list of
    (v_lo, v_hi, [u cuts]) rows."""
    rng = rng_for("grid cells")
    plans = {}
    for key in sorted(communities):
        k, side = key
        lo, hi = town.slice_bounds[k], town.slice_bounds[k + 1]
        interior = [c for c in town.cross_streets if lo + 60 < c < hi - 60]
        n_rows = min(int(rng.choice([1, 2, 2, 3])), len(interior) + 1)
        if n_rows > 1:
            # Row borders on the cross streets nearest to even fractions of the slice.
            marks = [lo + (hi - lo) * j / n_rows for j in range(1, n_rows)]
            cuts = sorted({min(interior, key=lambda c, m=m: abs(c - m)) for m in marks})
        else:
            cuts = []
        edges = [lo] + cuts + [hi]
        rows = []
        for v_lo, v_hi in zip(edges[:-1], edges[1:]):
            want_two = rng.random() < 0.6
            rows.append([v_lo, v_hi, [street_cut(town, side, v_lo, v_hi)] if want_two else []])
        for r in rows:  # a street may not fit in a narrow part of the bank
            r[2] = [u for u in r[2] if u is not None]
        n = sum(1 + len(r[2]) for r in rows)
        if n == 1:      # a community needs at least 2 cells: split its single row if possible
            u = street_cut(town, side, rows[0][0], rows[0][1])
            if u is not None:
                rows[0][2] = [u]
            else:
                mid = min(interior, key=lambda c: abs(c - (lo + hi) / 2))
                rows = [[lo, mid, []], [mid, hi, []]]
        plans[key] = [tuple(r) for r in reversed(rows)]   # north first
    return plans


def street_cut(town: Town, side: str, v_lo: float, v_hi: float):
    """The longitudinal street closest to the middle of the bank that stays at least 60 m from
    the town edge and the river all along the row, or None."""
    vs = np.linspace(v_lo, v_hi, 12)
    ext = np.array([bank_extent(side, v) for v in vs])
    lo, hi = ext[:, 0].max() + 60, ext[:, 1].min() - 60
    mid = (ext[:, 0].mean() + ext[:, 1].mean()) / 2
    fits = [u for u in town.long_streets[side] if lo < u < hi]
    return min(fits, key=lambda u: abs(u - mid)) if fits else None


def cell_polygons_uv(communities: dict, plans: dict) -> dict:
    """(slice, side) -> list of cell polygons, numbered rows north to south, west to east."""
    out = {}
    for key, rows in plans.items():
        cells = []
        for v_lo, v_hi, ucuts in rows:
            us = [-3000.0] + sorted(ucuts) + [3000.0]
            for u_lo, u_hi in zip(us[:-1], us[1:]):
                cells.append(communities[key].intersection(box(u_lo, v_lo, u_hi, v_hi)))
        out[key] = cells
    return out


def cell_cut_lines_uv(communities: dict, plans: dict) -> list:
    """The lines that cut the communities into cells, overshooting by 0.5 m like the community
    cuts (town.community_cut_lines_uv)."""
    lines = []
    for key, rows in plans.items():
        for v_lo, v_hi, ucuts in rows:
            for u in ucuts:
                lines.append(LineString([(u, v_lo - 0.5), (u, v_hi + 0.5)]))
        for v_lo, _, _ in rows[:-1]:   # row borders inside the community (rows are north first)
            lines.append(LineString([(-3000, v_lo), (3000, v_lo)]).intersection(
                communities[key].buffer(0.5)))
    return lines


def cell_features(cells: dict) -> list[tuple[dict, object]]:
    """grid_cells.geojson: community code -> its numbered cell outlines (EPSG:4326)."""
    return [(
        {"code": f"{comm}{j + 1:02d}", "community_code": comm, "county_code": COUNTY, "seq": j + 1,
         "source": "synthetic", "source_note": NOTE_CELL}, g)
        for comm, parts in cells.items() for j, g in enumerate(parts)]
