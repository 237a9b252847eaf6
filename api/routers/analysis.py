"""Analysis endpoints: the analysis core as JSON / GeoJSON, and CSV / XLSX for officials."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Literal

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gridgov.analysis import access, coverage, gaps, load, recommend, scenario
from gridgov.auth import Forbidden, Principal
from gridgov.features import FeatureService, json_value

from ..deps import engine, features
from ..responses import TABLES
from ..routing import RetryReads
from ..security import principal

router = APIRouter(prefix="/analysis", tags=["Analysis"], route_class=RetryReads)
Format = Literal["json", "geojson", "csv", "xlsx"]


def _as_of(as_of: dt.date | None = Query(None, description="date, default today")):
    return as_of


def _output(frame, fmt: str, name: str, sheet: str | None = None, xlsx=None) -> Response:
    """``xlsx``: the analysis's own workbook writer (the gaps list is formatted for officials)."""
    if fmt == "geojson" and isinstance(frame, gpd.GeoDataFrame):
        return Response(frame.to_json(na="null", drop_id=True, ensure_ascii=False),
                        media_type="application/geo+json")
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name)
                         if isinstance(frame, gpd.GeoDataFrame) else frame)
    if fmt == "csv":
        return Response(("\ufeff" + table.to_csv(index=False)).encode("utf-8"),
                        media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    if fmt == "xlsx":
        buf = io.BytesIO()
        if xlsx is not None:
            xlsx(frame, buf)
        else:
            table.to_excel(buf, index=False, sheet_name=sheet or name)
        return Response(buf.getvalue(), media_type="application/vnd.openxmlformats-officedocument"
                        ".spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    records = [{k: json_value(v) for k, v in row.items()} for row in table.to_dict("records")]
    return Response(json.dumps(records, ensure_ascii=False), media_type="application/json")


class Basis:
    """Coverage on paper (assignments), or by verified visits in a month."""

    def __init__(self, basis: Literal["paper", "visits"] = Query(
                     "paper", description="paper: assignments; visits: verified check-ins"),
                 period: str | None = Query(None, pattern=r"^(19|20)\d{2}-(0[1-9]|1[0-2])$",
                                            description="visits: the month, default the last "
                                                        "full one")):
        self.basis = basis
        self.period = period


def _coverage_today_or(svc: FeatureService, as_of: dt.date | None, basis: Basis | None = None):
    """Today's coverage comes from the per-version cache the OGC collection uses; other dates
    and the visits basis are computed."""
    if basis is not None and basis.basis == "visits":
        cov = coverage.coverage(svc.engine, as_of, basis="visits", period=basis.period)
        return cov.assign(org_codes=cov["org_codes"].map(";".join))
    if as_of is None or as_of == dt.date.today():
        return svc.frame(svc.collection("coverage"))
    cov = coverage.coverage(svc.engine, as_of)
    return cov.assign(org_codes=cov["org_codes"].map(";".join))


@router.get("/kpis", summary="County key figures (coverage, members, distances)")
async def kpis(as_of: dt.date | None = Depends(_as_of), svc: FeatureService = Depends(features),
               basis: Basis = Depends()):
    def run():
        cov = _coverage_today_or(svc, as_of, basis)
        return {**coverage.kpis(cov), "as_of": (as_of or dt.date.today()).isoformat()}

    return await run_in_threadpool(run)


@router.get("/coverage", summary="Coverage per compound or rolled up",
            responses=TABLES)
async def coverage_endpoint(as_of: dt.date | None = Depends(_as_of),
                            level: Literal["compound", "grid_cell", "community", "township",
                                           "county"] = "compound",
                            format: Format = "json", svc: FeatureService = Depends(features),
                            basis: Basis = Depends()):
    def run():
        cov = _coverage_today_or(svc, as_of, basis)
        return cov if level == "compound" else coverage.rollup(cov, level)

    return _output(await run_in_threadpool(run), format, f"coverage_{level}")


@router.get("/gaps", summary="Ranked compounds needing action, with reasons",
            responses=TABLES)
async def gaps_endpoint(as_of: dt.date | None = Depends(_as_of), format: Format = "json",
                        eng=Depends(engine), basis: Basis = Depends()):
    def run():
        g = gaps.gaps(eng, as_of, basis=basis.basis, period=basis.period)
        if format == "xlsx":
            return g
        return g.assign(org_codes=g["org_codes"].map(";".join), rules=g["rules"].map(";".join))

    return _output(await run_in_threadpool(run), format, "gaps", xlsx=gaps.to_xlsx)


@router.get("/org-load", summary="Load per organization and balance",
            responses=TABLES)
async def org_load_endpoint(as_of: dt.date | None = Depends(_as_of), format: Format = "json",
                            eng=Depends(engine)):
    def run():
        ld = load.org_load(eng, as_of)
        return ld.assign(compound_codes=ld["compound_codes"].map(";".join))

    return _output(await run_in_threadpool(run), format, "org_load")


@router.get("/org-load/balance", summary="How evenly the load is spread (CV, Gini)")
async def balance_endpoint(as_of: dt.date | None = Depends(_as_of), eng=Depends(engine)):
    return await run_in_threadpool(lambda: load.balance(load.org_load(eng, as_of)))


@router.get("/access", summary="Walking distance to the nearest practice site of each tier",
            responses=TABLES)
async def access_endpoint(detour_factor: float | None = Query(None, ge=1.0, le=3.0),
                          format: Format = "json", eng=Depends(engine)):
    return _output(await run_in_threadpool(access.access, eng, None, None, detour_factor),
                   format, "access")


@router.get("/recommendations/assignments", summary="Optimal new assignments (min-cost flow)",
            responses=TABLES)
async def recommend_assignments(as_of: dt.date | None = Depends(_as_of),
                                k: int = Query(20, ge=1, le=500), format: Format = "json",
                                eng=Depends(engine)):
    rec = await run_in_threadpool(recommend.recommend_assignments, eng, as_of, None, k)
    if format != "json":
        return _output(rec, format, "recommended_assignments")
    return {"assignments": json.loads(_output(rec, "json", "x").body),
            "kpis_before": rec.attrs.get("kpis_before"), "kpis_after": rec.attrs.get("kpis_after"),
            "unmet_members": rec.attrs["unmet_members"], "changes": rec.attrs["changes"]}


@router.get("/recommendations/sites", summary="New practice sites (maximal covering)")
async def recommend_sites(n: int = Query(3, ge=1, le=20), eng=Depends(engine)):
    sites = await run_in_threadpool(recommend.recommend_sites, eng, n)
    return {"sites": json.loads(_output(sites, "json", "x").body), **sites.attrs}


class Change(BaseModel):
    op: Literal["add_assignment", "end_assignment", "set_members", "move_site", "add_site"]
    model_config = {"extra": "allow"}


class ScenarioRequest(BaseModel):
    changes: list[Change] = Field(min_length=1, max_length=1000)
    as_of: dt.date | None = None
    save_as: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)


@router.post("/scenarios", summary="Evaluate a what-if scenario without touching live data")
async def run_scenario(req: ScenarioRequest = Body(...), eng=Depends(engine),
                       who: Principal = Depends(principal)):
    if req.save_as and not who.at_least("planner"):
        raise Forbidden("saving a scenario needs the planner role")
    changes = [c.model_dump() for c in req.changes]
    result = await run_in_threadpool(scenario.scenario, eng, changes, req.as_of)
    if req.save_as:
        await run_in_threadpool(scenario.save_scenario, eng, req.save_as, changes,
                                req.description, req.as_of)
    changed = result.compounds[result.compounds["changed"]]
    return {"kpis_before": result.kpis_before, "kpis_after": result.kpis_after,
            "access_before": result.access_before, "access_after": result.access_after,
            "changed_compounds": json.loads(_output(changed, "json", "x").body),
            "saved_as": req.save_as}


@router.get("/scenarios", summary="Saved scenarios")
async def list_saved(eng=Depends(engine)):
    frame = await run_in_threadpool(scenario.list_scenarios, eng)
    return json.loads(_output(frame, "json", "x").body)
