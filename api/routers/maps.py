"""Map pages for the command center and planners (stable addresses for the screens)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from gridgov.maps import pages

from ..responses import HTML

router = APIRouter(prefix="/maps", tags=["Maps"])


def _options(request: Request) -> pages.MapOptions:
    s = request.app.state.settings
    return pages.MapOptions(basemap=s.basemap, tianditu_key=s.tianditu_key,
                            refresh_seconds=s.refresh_seconds)


async def _page(request: Request, build, *args, **kwargs) -> HTMLResponse:
    m = await run_in_threadpool(build, request.app.state.engine, *args,
                                opts=_options(request), **kwargs)
    return HTMLResponse(m.get_root().render(), headers={"Cache-Control": "no-cache"})


def _kpis(request: Request) -> dict:
    """Today's KPIs from the per-version coverage cache the API already keeps."""
    from gridgov.analysis.coverage import kpis

    svc = request.app.state.features
    return kpis(svc.frame(svc.collection("coverage")))


@router.get("/overview", summary="Command-center overview map", responses=HTML)
async def overview(request: Request):
    return await _page(request, pages.overview_map,
                       kpis=await run_in_threadpool(_kpis, request))


@router.get("/gaps", summary="Gaps map for planners", responses=HTML)
async def gaps(request: Request):
    return await _page(request, pages.gaps_map)


@router.get("/access", summary="Practice-site access map", responses=HTML)
async def access(request: Request):
    return await _page(request, pages.access_map)


@router.get("/org/{org_code}", summary="One organization's territory", responses=HTML)
async def org(org_code: str, request: Request):
    return await _page(request, pages.org_map, org_code)
