"""Practice-site access: walking distance to the nearest site of each tier, and the GB 50180-2018
life circle it falls in (5 / 10 / 15 minutes ≈ 300 / 500 / 1,000 m walked).

With a road layer (``roads``) the walk is measured along it (:mod:`gridgov.analysis.network`);
places or sites off the network, and counties without roads, fall back to the straight-line
distance times a detour factor (default 1.3; published circuity for city walking is about 1.2 to
1.4). ``*_method`` says which was used. :func:`detour_sensitivity` shows how the classes move
between 1.2 and 1.4.

Example:
    >>> acc = access(engine)                          # compounds and villages/communities
    >>> acc.kind.value_counts()
    kind
    compound    107
    division     89
    Name: count, dtype: int64
    >>> acc[acc.kind == "compound"].life_circle.value_counts()
    life_circle
    10min    53
    15min    36
    5min     18
    Name: count, dtype: int64
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from gridgov.analysis.sqlfiles import connection, scope
from gridgov.analysis.coverage import read_geo
from gridgov.analysis.network import RoadNetwork
from gridgov.settings import AnalysisSettings, current

TIERS = ("station", "institute", "center")
CIRCLES = ("5min", "10min", "15min", "beyond")
CIRCLE_ZH = {"5min": "5分钟生活圈", "10min": "10分钟生活圈", "15min": "15分钟生活圈",
             "beyond": "15分钟生活圈外", None: "无阵地"}
CANDIDATES = 8


def life_circle(walk_m, settings: AnalysisSettings | None = None) -> np.ndarray:
    """Life-circle class of walking distances (NaN → None)."""
    s = settings or current(AnalysisSettings)
    walk = np.asarray(walk_m, dtype=float)
    out = np.select([walk <= s.circle_5_m, walk <= s.circle_10_m, walk <= s.circle_15_m,
                     np.isfinite(walk)], list(CIRCLES), default=None)
    return out.astype(object)


def access(bind: Engine | Connection, counties: list[str] | None = None,
           settings: AnalysisSettings | None = None,
           detour_factor: float | None = None, network: bool = True) -> gpd.GeoDataFrame:
    """One row per compound and per village/community (``kind``): for each tier the nearest site
    (``station_code``, ``station_m`` straight, ``station_walk_m``, ``station_method``) and, over
    all tiers, ``nearest_walk_m`` with its ``life_circle`` class. ``network=False`` ignores roads."""
    s = settings or current(AnalysisSettings)
    factor = detour_factor if detour_factor is not None else s.detour_factor
    params = {**scope(dt.date.today(), counties), "candidates": CANDIDATES}
    with connection(bind) as conn:
        long = read_geo(conn, "access", params)
        net = RoadNetwork.from_store(conn, counties, s.snap_m) if network else None
        sites = _sites(conn) if net is not None else None
    keys = ["kind", "code", "name", "county_code", "division_code", "households"]
    base = long.drop_duplicates(["kind", "code"])[keys + ["geometry"]].set_index(["kind", "code"])
    wide = long.pivot_table(index=["kind", "code"], columns="tier",
                            values=["site_code", "distance_m"], aggfunc="first")
    out = base.copy()
    for tier in TIERS:
        out[f"{tier}_code"] = wide.get(("site_code", tier))
        out[f"{tier}_m"] = pd.to_numeric(wide.get(("distance_m", tier)), errors="coerce")
        out[f"{tier}_walk_m"] = out[f"{tier}_m"] * factor
        out[f"{tier}_method"] = "detour"
        if net is not None:
            _network_walk(out, net, sites[sites["tier"] == tier], tier)
    walks = out[[f"{t}_walk_m" for t in TIERS]]
    out["nearest_walk_m"] = walks.min(axis=1)
    out["nearest_tier"] = walks.idxmin(axis=1, skipna=True).str.replace("_walk_m", "") \
        if walks.notna().any().any() else None
    out["life_circle"] = life_circle(out["nearest_walk_m"], s)
    out["life_circle_zh"] = out["life_circle"].map(CIRCLE_ZH)
    out["detour_factor"] = factor
    out = out.reset_index()
    return gpd.GeoDataFrame(out, geometry="geometry", crs=4326)


def _sites(conn) -> pd.DataFrame:
    rows = conn.execute(text("SELECT code, tier, ST_X(geom), ST_Y(geom) FROM practice_sites "
                             "ORDER BY code")).all()
    return pd.DataFrame(rows, columns=["code", "tier", "lon", "lat"])


def _network_walk(out: pd.DataFrame, net: RoadNetwork, sites: pd.DataFrame, tier: str) -> None:
    """Replace detour estimates by network walks where both ends are on the network."""
    if not len(sites):
        return
    geoms = out.geometry.values
    walk, idx = net.nearest(shapely.get_x(geoms), shapely.get_y(geoms),
                            sites["lon"].values, sites["lat"].values)
    ok = np.isfinite(walk)
    out.loc[ok, f"{tier}_walk_m"] = walk[ok]
    out.loc[ok, f"{tier}_code"] = sites["code"].values[idx[ok]]
    out.loc[ok, f"{tier}_method"] = "network"


def detour_sensitivity(bind: Engine | Connection, factors=(1.2, 1.3, 1.4),
                       counties: list[str] | None = None,
                       settings: AnalysisSettings | None = None) -> pd.DataFrame:
    """Compounds (and households) per life circle for each detour factor (straight-line
    distances, roads ignored: this is what the factor is for). Queried once; only the factor
    changes."""
    s = settings or current(AnalysisSettings)
    base = access(bind, counties, s, detour_factor=1.0, network=False)
    base = base[base["kind"] == "compound"]
    rows = []
    for f in factors:
        circles = life_circle(base["nearest_walk_m"] * f, s)
        for c in CIRCLES:
            mask = circles == c
            rows.append({"detour_factor": f, "life_circle": c, "compounds": int(mask.sum()),
                         "households": int(base.loc[mask, "households"].sum())})
    return pd.DataFrame(rows).pivot_table(index="life_circle", columns="detour_factor",
                                          values=["compounds", "households"]).reindex(CIRCLES)
