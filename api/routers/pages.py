"""People's pages for cases: the residents' 随手拍 report (a phone page), the command center's
case list and map, one case with its history and actions, and a unit's "my cases"; and
``/versions``, the cheap poll that lets screens refresh within seconds of a change.

The pages are HTML shells (Jinja2, autoescaped) with their labels and look-up lists inlined as
JSON; everything else comes from the JSON API (/cases, /auth/token) through plain scripts in
/static/cases. Nothing is loaded from outside the service. The shells hold no personal data:
case data is read by the script with the signed-in user's token, under the API's rules.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from gridgov.cases import lifecycle
from gridgov.db.tables import versioned_tables
from gridgov.errors import InvalidParameter
from gridgov.features import FeatureService
from gridgov.maps.templating import render

from ..deps import engine, features
from ..responses import HTML, ERRORS
from ..routing import RetryReads
from ..security import require

router = APIRouter(tags=["Pages"], route_class=RetryReads)

# The pages' own scripts and styles only; Leaflet's inline styles need 'unsafe-inline' for
# style attributes. Photos are shown from blob: URLs (read with the user's token).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "style-src 'self' 'unsafe-inline'; script-src 'self'; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
CHANNEL_ZH = {"resident": "居民随手拍", "grid_worker": "网格员上报", "member": "党员上报",
              "whistle": "吹哨", "hotline": "12345热线", "import": "导入"}
RULE_ZH = {"override": "类别指定单位", "compound": "小区包联单位", "grid_cell": "网格所属社区",
           "division": "村/社区属地兜底", "township": "乡镇兜底", "manual": "人工指定"}
UNIT_KIND_ZH = {"org": "机关党组织", "division": "村/社区", "township": "乡镇"}
STAGE_ZH = {"report": "上报照片", "before": "处置前", "after": "处置后", "check": "核查照片"}


def _labels() -> dict:
    """What every page's script needs to speak Chinese."""
    return {"status": lifecycle.STATUS_ZH, "open": list(lifecycle.OPEN),
            "actions": {a: t.label_zh for a, t in lifecycle.TRANSITIONS.items()}
            | {"report": "上报", "import": "导入"},
            "channel": CHANNEL_ZH, "rule": RULE_ZH, "unit_kind": UNIT_KIND_ZH,
            "stage": STAGE_ZH}


def _categories(eng: Engine) -> list[dict]:
    with eng.connect() as conn:
        rows = conn.execute(text("SELECT code, class_name, name FROM case_categories "
                                 "WHERE active ORDER BY code")).mappings().all()
    return [dict(r) for r in rows]


def _units(eng: Engine) -> list[dict]:
    """Every unit a case can be routed to: organizations, villages/communities, townships."""
    with eng.connect() as conn:
        rows = conn.execute(text(
            "SELECT 'org' AS kind, code, name FROM party_orgs UNION ALL "
            "SELECT 'division', code, name FROM divisions UNION ALL "
            "SELECT 'township', code, name FROM townships ORDER BY 1, 2")).mappings().all()
    return [dict(r) for r in rows]


def _page(template: str, **context) -> HTMLResponse:
    return HTMLResponse(render(template, **context), headers=SECURITY_HEADERS)


@router.get("/report", summary="随手拍: residents report a problem from a phone",
            responses=HTML)
async def report_page(eng: Engine = Depends(engine)):
    groups: dict[str, list[dict]] = {}  # by class, in the order of the codes
    for c in await run_in_threadpool(_categories, eng):
        groups.setdefault(c["class_name"], []).append(c)
    return _page("report.html.j2", groups=groups)


async def _staff_page(template: str, eng: Engine, **context) -> HTMLResponse:
    categories, units = await run_in_threadpool(lambda: (_categories(eng), _units(eng)))
    return _page(template, data={"labels": _labels(), "categories": categories,
                                 "units": units, **context})


@router.get("/center/cases", summary="Command center: the case list and map", responses=HTML)
async def center_cases(eng: Engine = Depends(engine)):
    return await _staff_page("center_cases.html.j2", eng, mode="center")


@router.get("/center/cases/{code}", summary="Command center: one case", responses=HTML)
async def center_case(code: str = Path(max_length=64), eng: Engine = Depends(engine)):
    return await _staff_page("case.html.j2", eng, mode="center", code=code)


@router.get("/unit/cases", summary="A responsible unit's cases (签收, 退回, 处置反馈)",
            responses=HTML)
async def unit_cases(eng: Engine = Depends(engine)):
    return await _staff_page("unit_cases.html.j2", eng, mode="unit")


@router.get("/unit/cases/{code}", summary="A responsible unit: one case", responses=HTML)
async def unit_case(code: str = Path(max_length=64), eng: Engine = Depends(engine)):
    return await _staff_page("case.html.j2", eng, mode="unit", code=code)


@router.get("/versions", summary="Data versions per table (poll it to refresh a screen)",
            dependencies=[Depends(require("viewer"))], responses=ERRORS)
async def versions(tables: str | None = Query(None, max_length=2000,
                                               description="comma-separated table names"),
                   svc: FeatureService = Depends(features)):
    known = versioned_tables()
    names = tuple(t.strip() for t in (tables or "").split(",") if t.strip()) or tuple(known)
    unknown = [t for t in names if t not in known]
    if unknown:
        raise InvalidParameter("tables", f"no versioned table {', '.join(unknown)}; tables: "
                                         f"{', '.join(known)}")
    out = await run_in_threadpool(svc.versions, names)
    return JSONResponse(out, headers={"Cache-Control": "no-store"})
