"""Map pages for the command center and planners (stable addresses for the screens)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from gridgov.analysis import coverage
from gridgov.features import FeatureService
from gridgov.maps import pages

from ..deps import engine, features, settings
from ..responses import HTML
from ..routing import RetryReads
from ..settings import ServiceSettings

router = APIRouter(prefix="/maps", tags=["Maps"], route_class=RetryReads)


def _options(s: ServiceSettings = Depends(settings)) -> pages.MapOptions:
    return pages.MapOptions(basemap=s.basemap, tianditu_key=s.tianditu_key,
                            refresh_seconds=s.refresh_seconds)


async def _page(build, eng: Engine, opts: pages.MapOptions, *args, **kwargs) -> HTMLResponse:
    m = await run_in_threadpool(build, eng, *args, opts=opts, **kwargs)
    return HTMLResponse(m.get_root().render(), headers={"Cache-Control": "no-cache"})


@router.get("/overview", summary="Command-center overview map", responses=HTML)
async def overview(eng: Engine = Depends(engine), opts: pages.MapOptions = Depends(_options),
                   svc: FeatureService = Depends(features)):
    # today's KPIs from the per-version coverage cache the API already keeps
    kpis = await run_in_threadpool(lambda: coverage.kpis(svc.frame(svc.collection("coverage"))))
    return await _page(pages.overview_map, eng, opts, kpis=kpis)


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
