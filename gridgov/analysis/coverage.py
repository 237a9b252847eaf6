"""Coverage: who covers each compound, with how many members, from how far; and roll-ups.

Example:
    >>> from datetime import date
    >>> cov = coverage(engine, as_of=date(2026, 11, 28))   # one row per compound, a GeoDataFrame
    >>> cov.status.value_counts()
    status
    covered          78
    under_covered    29
    Name: count, dtype: int64
    >>> rollup(cov, "township")[["township_name", "compounds", "members", "under_covered"]]
      township_name  compounds  members  under_covered
    0           宁乡镇        107   2207.0             29
    >>> kpis(cov)["coverage_rate"]
    1.0
"""

from __future__ import annotations

import datetime as dt
import decimal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine

from gridgov.analysis.sqlfiles import connection, scope, sql
from gridgov.settings import AnalysisSettings

STATUS_ZH = {"uncovered": "未包联", "under_covered": "力量不足", "covered": "已覆盖"}
LEVELS = {
    "grid_cell": ["grid_cell_code"],
    "community": ["community_code", "community_name"],
    "township": ["township_code", "township_name"],
    "county": ["county_code"],
}


def thresholds(settings: AnalysisSettings | None) -> dict:
    s = settings or AnalysisSettings()
    return {"min_members": s.min_members, "max_households_per_member": s.max_households_per_member,
            "far_m": s.far_m, "max_orgs": s.max_orgs}


def read_geo(bind: Engine | Connection, name: str, params: dict) -> gpd.GeoDataFrame:
    """Run gridgov/sql/NAME.sql and return a GeoDataFrame in EPSG:4326 (geometry: ``geom``)."""
    with connection(bind) as conn:
        result = conn.execute(sql(name), params)
        df = pd.DataFrame(result.all(), columns=list(result.keys()))
    for col in df.columns:  # numeric SQL results arrive as Decimal; analysts want floats
        if len(df) and isinstance(df[col].dropna().iloc[0] if df[col].notna().any() else None,
                                  decimal.Decimal):
            df[col] = df[col].astype(float)
    geoms = shapely.from_wkb([bytes.fromhex(g) if isinstance(g, str) else bytes(g)
                              for g in df.pop("geom")]) if len(df) else []
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


def coverage(bind: Engine | Connection, as_of: dt.date | None = None,
             counties: list[str] | None = None,
             settings: AnalysisSettings | None = None) -> gpd.GeoDataFrame:
    """One row per compound: assigned orgs, members, households per member, office distances,
    ``status`` (uncovered / under_covered / covered) and the ``far_assignment`` and
    ``fragmented`` flags, as of ``as_of`` (default today)."""
    cov = read_geo(bind, "coverage", {**scope(as_of, counties), **thresholds(settings)})
    cov["status_zh"] = cov["status"].map(STATUS_ZH)
    return cov


def rollup(cov: pd.DataFrame, level: str = "community") -> pd.DataFrame:
    """Coverage summed by ``grid_cell``, ``community``, ``township`` or ``county``."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    keys = LEVELS[level]
    frame = pd.DataFrame(cov.drop(columns=cov.geometry.name, errors="ignore"))
    grouped = frame.groupby(keys, dropna=False)
    out = grouped.agg(
        compounds=("code", "size"),
        households=("households", "sum"),
        members=("members", "sum"),
        uncovered=("status", lambda s: int((s == "uncovered").sum())),
        under_covered=("status", lambda s: int((s == "under_covered").sum())),
        far_assignments=("far_assignment", "sum"),
        worst_office_m=("max_office_m", "max"),
    ).reset_index()
    out["coverage_rate"] = 1 - out["uncovered"] / out["compounds"]
    out["households_per_member"] = out["households"] / out["members"].replace(0, np.nan)
    return out


def kpis(cov: pd.DataFrame) -> dict:
    """County key figures from a coverage frame."""
    n = len(cov)
    dist = cov["max_office_m"].dropna()
    return {
        "compounds": n,
        "covered": int((cov["status"] == "covered").sum()),
        "under_covered": int((cov["status"] == "under_covered").sum()),
        "uncovered": int((cov["status"] == "uncovered").sum()),
        "coverage_rate": float((cov["orgs"] > 0).mean()) if n else 0.0,
        "households": int(cov["households"].sum()),
        "members_sunk": float(round(cov["members"].sum(), 6)),
        "households_per_member": float(cov["households"].sum() / cov["members"].sum())
        if cov["members"].sum() else None,
        "far_assignments": int(cov["far_assignment"].sum()),
        "fragmented": int(cov["fragmented"].fillna(False).sum()),
        "mean_office_m": float(cov["mean_office_m"].dropna().mean()) if len(dist) else None,
        "worst_office_m": float(dist.max()) if len(dist) else None,
    }
