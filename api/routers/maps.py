"""Map pages for the command center and planners (stable addresses for the screens)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from gridgov.analysis import coverage, trends
from gridgov.cache import Memo
from gridgov.errors import InvalidParameter
from gridgov.features import FeatureService
from gridgov.maps import pages

from ..deps import engine, features, settings
from ..responses import HTML
from ..routing import RetryReads
from ..settings import ServiceSettings

router = APIRouter(prefix="/maps", tags=["Maps"], route_class=RetryReads)
# a month's coverage by visits, the trends' frames and pages, kept per data version (and day)
_memo = Memo(128)
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


def _options(s: ServiceSettings = Depends(settings)) -> pages.MapOptions:
    return pages.MapOptions(basemap=s.basemap, tianditu_key=s.tianditu_key,
                            refresh_seconds=s.refresh_seconds)


def _themed(opts: pages.MapOptions = Depends(_options),
            theme: Literal["light", "dark"] = Query(
                "light", description="dark: the command center's wall screen (dark ground, "
                                     "light text, larger figures)")) -> pages.MapOptions:
    return replace(opts, theme=theme)


def _month_status(svc: FeatureService, period: str) -> dict:
    first = dt.date.fromisoformat(period + "-01") if "2000" <= period[:4] <= "2100" else None
    if first is None or first > dt.date.today():
        raise InvalidParameter("period", "a month from 2000-01 to this month")
    tables = (*svc.collection("coverage").tables, "checkins")
    return _memo.get(("month", svc.version_tag(tables), period),
                     lambda: trends.month_status(svc.engine, period))


async def _page(build, eng: Engine, opts: pages.MapOptions, *args, **kwargs) -> HTMLResponse:
    m = await run_in_threadpool(build, eng, *args, opts=opts, **kwargs)
    return HTMLResponse(m.get_root().render(), headers={"Cache-Control": "no-cache"})


@router.get("/overview", summary="Command-center overview map", responses=HTML)
async def overview(eng: Engine = Depends(engine), opts: pages.MapOptions = Depends(_themed),
                   svc: FeatureService = Depends(features),
                   coloring: Literal["paper", "verified"] = Query(
                       "paper", description="compounds by their status on paper, or by "
                                            "verified visits in the month"),
                   month: str | None = Query(None, pattern=MONTH,
                                             description="the month slider's month (one of the "
                                                         "last 12 full months; default the "
                                                         "last)")):
    months = trends.months_back(12)
    if month is not None and month not in months:
        raise InvalidParameter("month", f"a month from {months[0]} to {months[-1]} (the last "
                                        "12 full months)")
    # today's KPIs from the per-version coverage cache the API already keeps
    kpis = await run_in_threadpool(lambda: coverage.kpis(svc.frame(svc.collection("coverage"))))
    visits = await run_in_threadpool(_month_status, svc, month or months[-1])
    return await _page(pages.overview_map, eng, opts, kpis=kpis, visits=visits,
                       coloring=coloring, month=month)


@router.get("/overview/coverage", summary="One month's coverage by visits, per compound")
async def overview_coverage(period: str = Query(..., pattern=MONTH, description="YYYY-MM"),
                            svc: FeatureService = Depends(features)):
    """What the overview's month slider shows: each compound's status on the visits basis
    ({code: [status, visit_days]}; inactive = 有名无实) and the month's paper and verified
    coverage rates, from a cache kept per data version and month."""
    return JSONResponse(await run_in_threadpool(_month_status, svc, period),
                        headers={"Cache-Control": "no-cache"})


@router.get("/overview/supervision",
            summary="What the overview flags for the command center (督办), per organization")
async def overview_supervision(eng: Engine = Depends(engine),
                               opts: pages.MapOptions = Depends(_options),
                               as_of: dt.date | None = Query(
                                   None, description="a day (its end); default now")):
    """The overview's 督办 layer and list: organizations whose monthly account (报账) is late or
    missing past its due time, and those with a demand (要账) past its deadline unanswered (a
    demand to a work group: the group, with no point), each with its office point in the
    basemap's coordinates, its overdue items and the days each is late, ranked; and the counts.
    The page reloads it when accounts or demands change. Organizations only: no person."""
    if as_of is not None and not 2000 <= as_of.year <= 2099:
        raise InvalidParameter("as_of", "a day from 2000 to 2099")
    body = await run_in_threadpool(pages.supervision_flags, eng, opts, as_of)
    return JSONResponse(body, headers={"Cache-Control": "no-cache"})


@router.get("/trends", summary="Trends for the command center (charts)", responses=HTML)
async def trends_page(opts: pages.MapOptions = Depends(_themed),
                      svc: FeatureService = Depends(features)):
    def run():
        # each trend kept per version of its own tables: a new case does not recompute coverage
        frames = {name: _memo.get(("trend", name, svc.version_tag(tables)),
                                  lambda name=name: trends.frame(svc.engine, name))
                  for name, tables in trends.INPUTS.items()}
        return _memo.get(("trends", svc.version_tag(pages.TREND_TABLES), opts.theme),
                         lambda: pages.trends_page(svc.engine, opts, frames=frames))

    return HTMLResponse(await run_in_threadpool(run), headers={"Cache-Control": "no-cache"})


@router.get("/gaps", summary="Gaps map for planners", responses=HTML)
async def gaps(eng: Engine = Depends(engine), opts: pages.MapOptions = Depends(_options)):
    return await _page(pages.gaps_map, eng, opts)


@router.get("/access", summary="Practice-site access map", responses=HTML)
async def access(eng: Engine = Depends(engine), opts: pages.MapOptions = Depends(_options)):
    return await _page(pages.access_map, eng, opts)


@router.get("/org/{org_code}", summary="One organization's territory", responses=HTML)
async def org(org_code: str, eng: Engine = Depends(engine),
              opts: pages.MapOptions = Depends(_options)):
    return await _page(pages.org_map, eng, opts, org_code)
