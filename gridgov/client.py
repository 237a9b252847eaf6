"""The notebook facade: ``gg = gridgov.connect()``, then one call per analysis.

Every method calls the same function the CLI and the API call, and returns a GeoDataFrame (or a
DataFrame) that ``.explore()`` draws.

Example:
    >>> import gridgov
    >>> from datetime import date
    >>> gg = gridgov.connect()                 # GRIDGOV_DATABASE_URL, or pass a URL
    >>> type(gg.coverage().explore(column="status"))
    <class 'folium.folium.Map'>
    >>> gg.gaps(as_of=date(2026, 11, 28)).name.head(3).tolist()
    ['阳坡塔易地搬迁安置小区', '庞家会小区', '北街小区']
    >>> gg.scenario([{"op": "end_assignment", "org_code": "141129-P130",
    ...               "compound_code": "141129100011009"}], as_of=date(2026, 11, 28)).kpis_after
    {'compounds': 107, 'covered': 77, 'under_covered': 29, 'uncovered': 1, ...}
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine

from gridgov.analysis import access as _access
from gridgov.analysis import coverage as _coverage
from gridgov.analysis import gaps as _gaps
from gridgov.analysis import load as _load
from gridgov.analysis import recommend as _recommend
from gridgov.analysis import scenario as _scenario
from gridgov.analysis.inventory import inventory
from gridgov.settings import AnalysisSettings, current


@dataclass
class Gridgov:
    engine: Engine
    counties: list[str] | None = None
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)

    def inventory(self, as_of: dt.date | None = None) -> dict:
        return inventory(self.engine, self.counties, as_of)

    def coverage(self, as_of: dt.date | None = None, basis: str = "paper",
                 period: tuple[dt.date, dt.date] | str | None = None) -> gpd.GeoDataFrame:
        """Coverage on paper (assignments), or by ``basis="visits"``: verified visits in
        ``period`` ("YYYY-MM", a (start, end) pair; default the last full month)."""
        return _coverage.coverage(self.engine, as_of, self.counties, self.settings,
                                  basis=basis, period=period)

    def rollup(self, level: str = "community", as_of: dt.date | None = None,
               basis: str = "paper", period=None) -> pd.DataFrame:
        return _coverage.rollup(self.coverage(as_of, basis, period), level)

    def kpis(self, as_of: dt.date | None = None, basis: str = "paper", period=None) -> dict:
        return _coverage.kpis(self.coverage(as_of, basis, period))

    def org_load(self, as_of: dt.date | None = None) -> gpd.GeoDataFrame:
        return _load.org_load(self.engine, as_of, self.counties)

    def access(self, detour_factor: float | None = None) -> gpd.GeoDataFrame:
        return _access.access(self.engine, self.counties, self.settings, detour_factor)

    def detour_sensitivity(self, factors=(1.2, 1.3, 1.4)) -> pd.DataFrame:
        return _access.detour_sensitivity(self.engine, factors, self.counties, self.settings)

    def gaps(self, as_of: dt.date | None = None, basis: str = "paper",
             period=None) -> gpd.GeoDataFrame:
        return _gaps.gaps(self.engine, as_of, self.counties, self.settings, basis=basis,
                          period=period)

    def recommend_assignments(self, as_of: dt.date | None = None, k: int | None = 20,
                              scenario: list[dict] | str | None = None, basis: str = "paper",
                              period=None) -> gpd.GeoDataFrame:
        """Optimal new assignments, for today's data or after a scenario (changes or a name);
        ``basis="visits"``: unvisited compounds need members, and only serving members give."""
        if isinstance(scenario, str):
            scenario, saved_as_of = _scenario.load_scenario(self.engine, scenario)
            as_of = as_of or saved_as_of
        return _recommend.recommend_assignments(self.engine, as_of, self.counties, k,
                                                self.settings, scenario_changes=scenario,
                                                basis=basis, period=period)

    def recommend_sites(self, n_sites: int = 3) -> gpd.GeoDataFrame:
        return _recommend.recommend_sites(self.engine, n_sites, self.counties,
                                          settings=self.settings)

    def scenario(self, changes: list[dict] | str, as_of: dt.date | None = None
                 ) -> _scenario.ScenarioResult:
        """Evaluate changes (or a saved scenario, by name) without touching live data."""
        if isinstance(changes, str):
            changes, saved_as_of = _scenario.load_scenario(self.engine, changes)
            as_of = as_of or saved_as_of
        return _scenario.scenario(self.engine, changes, as_of, self.counties, self.settings)

    def save_scenario(self, name: str, changes: list[dict], description: str | None = None,
                      as_of: dt.date | None = None) -> None:
        _scenario.save_scenario(self.engine, name, changes, description, as_of)

    def scenarios(self) -> pd.DataFrame:
        return _scenario.list_scenarios(self.engine)

    def cases(self, since: dt.date | None = None, personal: bool = False) -> gpd.GeoDataFrame:
        """Cases as points, with ``open`` and ``overdue`` flags; reporters' contacts only with
        ``personal=True`` (for whoever holds the database password)."""
        from gridgov.cases.store import cases_frame

        return cases_frame(self.engine, counties=self.counties, since=since, personal=personal)

    def case_kpis(self, level: str = "unit", period: str = "month",
                  start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        """按期结案率, 结案率, 返工率, 及时/准确派遣率 and times to close, per unit or place."""
        from gridgov.cases.kpis import case_kpis

        return case_kpis(self.engine, level=level, period=period, start=start, end=end,
                         counties=self.counties)


def connect(url: str | None = None, counties: list[str] | None = None,
            settings: AnalysisSettings | None = None) -> Gridgov:
    """Connect to the store (``GRIDGOV_DATABASE_URL`` by default)."""
    from gridgov.db import connect_engine

    return Gridgov(connect_engine(url), counties, settings or current(AnalysisSettings))
