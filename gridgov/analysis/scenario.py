"""What-if scenarios: apply changes inside a transaction, run the same analyses, roll back.

Nothing here re-implements an analysis: ``coverage`` and ``access`` run unchanged on the
transaction's connection, which sees the changes; the rollback guarantees live data is untouched.

Example:
    >>> from datetime import date
    >>> result = scenario(engine, [{"op": "end_assignment", "org_code": "141129-P130",
    ...                             "compound_code": "141129100011009"}], as_of=date(2026, 11, 28))
    >>> result.kpi_diff.loc[["covered", "under_covered", "uncovered"]]   # of each county KPI
                   before  after  change
    kpi
    covered          78.0   77.0    -1.0
    under_covered    29.0   29.0     0.0
    uncovered         0.0    1.0     1.0
    >>> result.compounds[result.compounds.changed][["name", "status_before", "status_after"]]
        name status_before status_after
    82  文苑小区       covered    uncovered
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Engine, text

from gridgov.analysis.access import access
from gridgov.analysis.coverage import coverage, kpis
from gridgov.edits import apply_change
from gridgov.errors import InputError, NotFound, Problem
from gridgov.settings import AnalysisSettings, current

SITE_OPS = {"move_site", "add_site"}


@dataclass
class ScenarioResult:
    changes: list[dict]
    as_of: dt.date
    kpis_before: dict
    kpis_after: dict
    compounds: gpd.GeoDataFrame  # one row per compound: *_before, *_after, changed
    access_before: dict = field(default_factory=dict)
    access_after: dict = field(default_factory=dict)

    @property
    def kpi_diff(self) -> pd.DataFrame:
        rows = []
        for key in self.kpis_before:
            b, a = self.kpis_before[key], self.kpis_after[key]
            delta = a - b if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
            rows.append({"kpi": key, "before": b, "after": a, "change": delta})
        return pd.DataFrame(rows).set_index("kpi")


def _access_summary(acc: pd.DataFrame, settings: AnalysisSettings) -> dict:
    comp = acc[acc["kind"] == "compound"]
    gap = ~(comp["nearest_walk_m"] <= settings.access_target_m)
    return {"compounds_out_of_reach": int(gap.sum()),
            "households_out_of_reach": int(comp.loc[gap, "households"].sum())}


def run_changes(conn: Connection, changes: list[dict], as_of: dt.date) -> None:
    for i, change in enumerate(changes, start=1):
        try:
            apply_change(conn, change, as_of)
        except InputError as exc:
            raise InputError([Problem("scenario", i, p.field, p.message)
                              for p in exc.problems]) from None
        except NotFound as exc:
            raise InputError([Problem("scenario", i, None, str(exc))]) from None


def scenario(engine: Engine, changes: list[dict], as_of: dt.date | None = None,
             counties: list[str] | None = None,
             settings: AnalysisSettings | None = None) -> ScenarioResult:
    """Evaluate ``changes`` (see :mod:`gridgov.edits`) without touching live data.

    Each problem is reported with the change's position as its row.
    """
    as_of = as_of or dt.date.today()
    s = settings or current(AnalysisSettings)
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            before = coverage(conn, as_of, counties, s)
            sites_changed = any(c.get("op") in SITE_OPS for c in changes)
            acc_before = _access_summary(access(conn, counties, s), s) if sites_changed else {}
            run_changes(conn, changes, as_of)
            after = coverage(conn, as_of, counties, s)
            acc_after = _access_summary(access(conn, counties, s), s) if sites_changed else {}
        finally:
            trans.rollback()
    cols = ["orgs", "members", "status", "households_per_member", "max_office_m"]
    merged = before[["code", "name", "community_code", "households", *cols, "geometry"]].merge(
        pd.DataFrame(after[["code", *cols]]), on="code", suffixes=("_before", "_after"))
    merged["changed"] = (merged["status_before"] != merged["status_after"]) | (
        (merged["members_before"] - merged["members_after"]).abs() > 1e-9)
    compounds = gpd.GeoDataFrame(merged, geometry="geometry", crs=4326)
    return ScenarioResult(list(changes), as_of, kpis(before), kpis(after), compounds,
                          acc_before, acc_after)


def save_scenario(engine: Engine, name: str, changes: list[dict], description: str | None = None,
                  as_of: dt.date | None = None) -> None:
    """Store a scenario by name (replacing one of the same name) after checking it applies."""
    scenario(engine, changes, as_of)  # refuses changes that do not apply
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO scenarios (name, description, as_of, changes) VALUES (:n, :d, :a, "
            "CAST(:c AS jsonb)) ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description,"
            " as_of = EXCLUDED.as_of, changes = EXCLUDED.changes, created_at = now()"),
            {"n": name, "d": description, "a": as_of, "c": json.dumps(changes, default=str)})


def load_scenario(engine: Engine, name: str) -> tuple[list[dict], dt.date | None]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT changes, as_of FROM scenarios WHERE name = :n"),
                           {"n": name}).first()
    if row is None:
        raise NotFound(f"no saved scenario named {name!r}")
    return list(row[0]), row[1]


def list_scenarios(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT name, description, as_of, jsonb_array_length(changes) AS changes, created_at "
            "FROM scenarios ORDER BY name")).all()
    return pd.DataFrame(rows, columns=["name", "description", "as_of", "changes", "created_at"])
