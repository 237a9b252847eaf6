"""Organization load: compounds, households and distance per organization, and how evenly the
burden falls (households per member across organizations: coefficient of variation and Gini).

Example:
    >>> from datetime import date
    >>> load = org_load(engine, as_of=date(2026, 11, 28))   # one row per organization
    >>> load.nlargest(3, "households_per_member")[["code", "households", "households_per_member"]]
                code  households  households_per_member
    90   141129-P091       432.0              86.400000
    101  141129-P102       513.0              73.285714
    62   141129-P063       580.0              72.500000
    >>> balance(load)
    {'orgs': 131, 'idle': 0, 'idle_codes': [], 'mean_households_per_member': 16.42...,
     'cv': 0.92..., 'gini': 0.44...}
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from gridgov.analysis.sqlfiles import scope
from gridgov.analysis.coverage import read_geo


def org_load(bind: Engine | Connection, as_of: dt.date | None = None,
             counties: list[str] | None = None) -> gpd.GeoDataFrame:
    """One row per organization (geometry: its office): ``compounds``, ``households`` (its share),
    ``households_per_member``, office distances and ``idle`` (no active assignment)."""
    return read_geo(bind, "org_load", scope(as_of, counties))


def gini(values) -> float:
    """Gini coefficient of non-negative values (0 = all equal)."""
    x = np.sort(np.asarray(values, dtype=float))
    if len(x) == 0 or x.sum() == 0:
        return 0.0
    n = len(x)
    return float((2 * np.arange(1, n + 1) - n - 1).dot(x) / (n * x.sum()))


def balance(load: pd.DataFrame) -> dict:
    """How evenly households per member are spread over the organizations that have work."""
    active = load[~load["idle"]]
    hpm = active["households_per_member"].dropna()
    return {
        "orgs": int(len(load)),
        "idle": int(load["idle"].sum()),
        "idle_codes": list(load.loc[load["idle"], "code"]),
        "mean_households_per_member": float(hpm.mean()) if len(hpm) else None,
        "cv": float(hpm.std(ddof=0) / hpm.mean()) if len(hpm) and hpm.mean() else None,
        "gini": gini(hpm),
    }
