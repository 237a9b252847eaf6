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


def _render(m) -> HTMLResponse:
    return HTMLResponse(m.get_root().render(), headers={"Cache-Control": "no-cache"})


@router.get("/overview", summary="Command-center overview map",
            responses=HTML)
async def overview(request: Request):
    m = await run_in_threadpool(pages.overview_map, request.app.state.engine, _options(request))
    return _render(m)


@router.get("/gaps", summary="Gaps map for planners",
            responses=HTML)
async def gaps(request: Request):
    m = await run_in_threadpool(pages.gaps_map, request.app.state.engine, _options(request))
    return _render(m)


@router.get("/access", summary="Practice-site access map",
            responses=HTML)
async def access(request: Request):
    m = await run_in_threadpool(pages.access_map, request.app.state.engine, _options(request))
    return _render(m)


@router.get("/org/{org_code}", summary="One organization's territory",
            responses=HTML)
async def org(org_code: str, request: Request):
    m = await run_in_threadpool(pages.org_map, request.app.state.engine, org_code,
                                _options(request))
    return _render(m)
