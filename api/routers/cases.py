"""Cases: intake (a resident's 随手拍 report with photos, a grid worker's, a whistle), the
dispatcher's list, one case with its history, moving it, photos, and the KPIs.

Reports are open to anyone the settings let in (anonymous viewers by default), limited per
client address and per key. Reporters' names, phones and accounts are shown only as
gridgov.auth.protect allows: admins in full, the center and units masked, nobody else at all.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Literal

from fastapi import APIRouter, Body, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from gridgov import auth, media
from gridgov.auth import Principal
from gridgov.cases import store as case_store
from gridgov.cases import intake, kpis, lifecycle
from gridgov.errors import InvalidParameter
from gridgov.features import json_value
from gridgov.layers import get_layer

from ..deps import client_address, engine, limits, version_of
from ..ratelimit import Limits
from ..responses import EDIT_ERRORS, LIMITED, TABLES, media as media_types
from ..routing import RetryReads
from ..security import principal

router = APIRouter(prefix="/cases", tags=["Cases"], route_class=RetryReads)
CASES = get_layer("cases")


def _json(case: dict, who: Principal) -> dict:
    (row,) = auth.protect(CASES, [case], who, hide=True)
    return {k: json_value(v) for k, v in row.items()}


def _respond(case: dict, who: Principal, status: int = 200) -> JSONResponse:
    return JSONResponse(_json(case, who), status_code=status,
                        headers={"ETag": f'"v{case["version"]}"'})


@router.post("", summary="File a report (随手拍): form fields and photos", status_code=201,
             responses={**media_types("application/json", status=201,
                                      description="The new case"), **LIMITED})
async def file_report(request: Request,
                      category_code: str = Form(..., max_length=16, description="类别编码"),
                      lon: float = Form(..., ge=-180, le=180),
                      lat: float = Form(..., ge=-90, le=90),
                      description: str = Form(..., min_length=1, max_length=4000),
                      crs: Literal["wgs84", "gcj02", "bd09"] = Form("wgs84"),
                      channel: Literal["resident", "grid_worker", "member", "whistle",
                                       "hotline"] = Form("resident"),
                      address: str | None = Form(None, max_length=500),
                      reporter_name: str | None = Form(None, max_length=100),
                      reporter_phone: str | None = Form(None, max_length=20),
                      anonymous: bool = Form(False),
                      photos: list[UploadFile] = File(default=[]),
                      who: Principal = Depends(principal), eng: Engine = Depends(engine),
                      doors: Limits = Depends(limits)):
    doors.intake(client_address(request),
                 None if who.username == auth.ANONYMOUS.username else who.username)
    if channel == "whistle" and not who.at_least("dispatcher"):
        # a community's whistle calls a county department: the center (or the community's
        # command post through it) blows it, not a resident
        raise auth.Forbidden("a whistle (吹哨) is blown by the command center")
    data = [await p.read() for p in photos[:6]]

    def run():
        with eng.begin() as conn:
            return intake.file_report(
                conn, who, category_code=category_code, lon=lon, lat=lat, crs=crs,
                description=description, channel=channel, address=address,
                reporter_name=reporter_name, reporter_phone=reporter_phone,
                reporter_account=None if who.role == "viewer" else who.username,
                anonymous=anonymous, photos=data)

    case = await run_in_threadpool(run)
    body = _json(case, who)
    body["duplicates_offered"] = [{k: json_value(v) for k, v in d.items()}
                                  for d in case["duplicates_offered"]]
    return JSONResponse(body, status_code=201, headers={"ETag": f'"v{case["version"]}"',
                                                        "Location": f"/cases/{case['code']}"})


@router.get("", summary="Cases, filtered (the dispatcher's list)")
async def list_cases(status: str | None = Query(None, max_length=200,
                                                description="comma-separated statuses"),
                     category_code: str | None = Query(None, max_length=16),
                     unit_code: str | None = Query(None, max_length=64),
                     county_code: str | None = Query(None, pattern=r"^\d{6}$"),
                     since: dt.date | None = None, until: dt.date | None = None,
                     overdue: bool | None = None, mine: bool = False,
                     limit: int = Query(100, ge=1, le=5000), offset: int = Query(0, ge=0),
                     who: Principal = Depends(principal), eng: Engine = Depends(engine)):
    if mine and who.role != "handler":
        raise InvalidParameter("mine", "only a handler has cases of its own")
    rows = await run_in_threadpool(
        case_store.find, eng, statuses=status.split(",") if status else None,
        category_code=category_code, unit_code=who.org_code if mine else unit_code,
        county_code=county_code, since=since, until=until, overdue=overdue, limit=limit,
        offset=offset)
    return [_json(r, who) for r in rows]


@router.get("/kpis", summary="按期结案率, 结案率, 返工率, 派遣 per unit or place, week or month",
            responses=TABLES)
async def case_kpis(level: Literal["unit", "compound", "community", "township", "county"] = "unit",
                    period: Literal["week", "month"] = "month",
                    start: dt.date | None = None, end: dt.date | None = None,
                    county_code: str | None = Query(None, pattern=r"^\d{6}$"),
                    format: Literal["json", "csv", "xlsx"] = "json",
                    eng: Engine = Depends(engine)):
    frame = await run_in_threadpool(lambda: kpis.case_kpis(
        eng, level=level, period=period, start=start, end=end,
        counties=[county_code] if county_code else None))
    if format == "csv":
        return Response(("\ufeff" + frame.to_csv(index=False)).encode("utf-8"),
                        media_type="text/csv; charset=utf-8")
    if format == "xlsx":
        buf = io.BytesIO()
        frame.rename(columns=kpis.LABELS_ZH).to_excel(buf, index=False, sheet_name="考核")
        return Response(buf.getvalue(), media_type="application/vnd.openxmlformats-"
                        "officedocument.spreadsheetml.sheet")
    return Response(json.dumps([{k: json_value(v) for k, v in r.items()}
                                for r in frame.to_dict("records")], ensure_ascii=False),
                    media_type="application/json")


@router.get("/{code}", summary="A case, its history and photos")
async def get_case(code: str, who: Principal = Depends(principal),
                   eng: Engine = Depends(engine)):
    def run():
        with eng.connect() as conn:
            case = lifecycle.load(conn, code)
            return case, lifecycle.events(conn, code, case["county_code"]), \
                case_store.photos(conn, code, case["county_code"])

    case, history, photos = await run_in_threadpool(run)
    body = _json(case, who)
    body["events"] = [{k: json_value(v) for k, v in e.items()} for e in history]
    body["photos"] = [{**{k: json_value(v) for k, v in p.items()},
                       "url": f"/cases/{code}/photos/{p['sha256']}"} for p in photos]
    body["actions"] = [a for a in lifecycle.allowed_actions(case["status"])
                       if lifecycle.may(who, case, lifecycle.TRANSITIONS[a])]
    return JSONResponse(body, headers={"ETag": f'"v{case["version"]}"'})


class Move(BaseModel):
    note: str | None = Field(None, max_length=2000)
    unit_kind: Literal["org", "division", "township"] | None = None
    unit_code: str | None = Field(None, max_length=64)
    into: str | None = Field(None, max_length=64, description="merge: the surviving case")
    satisfaction: int | None = Field(None, ge=1, le=5)
    model_config = {"extra": "forbid"}


@router.post("/{code}/actions/{action}", summary="Move a case (立案, 派遣, 签收, 反馈, 结案, ...)",
             responses={**EDIT_ERRORS, 409: {"description": "Not possible in the case's state"}})
async def move(code: str, action: Literal[tuple(lifecycle.TRANSITIONS)],
               body: Move = Body(default_factory=Move), if_match: str | None = Header(None),
               who: Principal = Depends(principal), eng: Engine = Depends(engine)):
    # optional: without it a move applies to the case as it is (the state check still holds)
    version = version_of(if_match, required=False)
    if (body.unit_kind is None) != (body.unit_code is None):
        raise InvalidParameter("unit_code", "give unit_kind and unit_code together")

    def run():
        with eng.begin() as conn:
            conn.exec_driver_sql("SELECT set_config('gridgov.actor', %(a)s, true)",
                                 {"a": who.username})
            return lifecycle.move(conn, code, action, who, note=body.note,
                                  unit=(body.unit_kind, body.unit_code) if body.unit_kind
                                  else None, into=body.into, satisfaction=body.satisfaction,
                                  expected_version=version)

    return _respond(await run_in_threadpool(run), who)


@router.post("/{code}/photos", summary="Add a photo (before / after / check)", status_code=201)
async def add_photo(code: str, request: Request,
                    stage: Literal["report", "before", "after", "check"] = Form(...),
                    photo: UploadFile = File(...), who: Principal = Depends(principal),
                    eng: Engine = Depends(engine)):
    data = await photo.read()

    def run():
        with eng.begin() as conn:
            case = lifecycle.load(conn, code)
            unit_move = lifecycle.TRANSITIONS["handle"]
            if stage in ("before", "after") and not lifecycle.may(who, case, unit_move):
                raise auth.Forbidden("before/after photos come from the responsible unit")
            if stage == "check" and not who.at_least("dispatcher"):
                raise auth.Forbidden("check photos come from the command center")
            if stage == "report" and who.role == "viewer":
                raise auth.Forbidden("add a report's photos when filing it")
            return intake.add_photo(conn, case, data, stage, who.username)

    out = await run_in_threadpool(run)
    return JSONResponse({**{k: json_value(v) for k, v in out.items()},
                         "url": f"/cases/{code}/photos/{out['sha256']}"}, status_code=201)


@router.get("/{code}/photos/{sha256}", summary="A photo (EXIF removed)",
            response_class=FileResponse, responses=media_types("image/jpeg"))
async def get_photo(code: str, sha256: str, eng: Engine = Depends(engine)):
    def run():
        with eng.connect() as conn:
            case = lifecycle.load(conn, code)
            if not any(p["sha256"] == sha256 for p in
                       case_store.photos(conn, code, case["county_code"])):
                raise InvalidParameter("sha256", f"case {code} has no photo {sha256[:12]}…")
            return media.open_served(sha256)

    path = await run_in_threadpool(run)
    return FileResponse(path, media_type="image/jpeg",
                        headers={"Cache-Control": "public, max-age=86400, immutable"})
