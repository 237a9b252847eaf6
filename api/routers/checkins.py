"""Check-ins (党员进社区报到): a member checks in and out from a phone, planners decide on flagged
check-ins and add hours by hand, and everybody sees the counts; and ``/checkin``, the member's
page.

Positions and times are a member's personal data (gridgov.activity.views): a member sees its
own, admins everything, planners the flagged queue with the day instead of times and no
position, and per-compound counts and per-member totals; viewers counts per compound and
coverage by visits only. The library does the work (gridgov.activity); the routes check who
asks and shape what goes back.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from gridgov import media
from gridgov.activity import checkins, ledger, views
from gridgov.analysis import coverage
from gridgov.auth import Forbidden, Principal
from gridgov.calendar import SHANGHAI
from gridgov.errors import StateConflict
from gridgov.features import json_value
from gridgov.maps.templating import render
from gridgov.settings import ActivitySettings, current

from ..deps import engine
from ..responses import ERRORS, HTML
from ..routing import RetryReads
from ..security import principal, require

router = APIRouter(tags=["Check-ins"], route_class=RetryReads)

PERIOD = Query(None, pattern=r"^(19|20)\d{2}-(0[1-9]|1[0-2])$",
               description="YYYY-MM (Beijing time); default the last full month")
# the page's own script and style only (as the case pages); geolocation for this page only
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "style-src 'self'; script-src 'self'; connect-src 'self'; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "Permissions-Policy": "geolocation=(self), camera=(self)",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _member(who: Principal) -> str:
    if who.role != "member" or not who.member_code:
        raise Forbidden(f"check-ins are made by members, as themselves; {who.username} is a "
                        f"{who.role}")
    return who.member_code


def _as(who: Principal, row: dict) -> dict:
    return {k: json_value(v) for k, v in views.shape(row, who).items()}


def _actor(conn, who: Principal) -> None:
    conn.exec_driver_sql("SELECT set_config('gridgov.actor', %(a)s, true)", {"a": who.username})


class CheckinIn(BaseModel):
    """A check-in from a phone (JSON, or a form with an optional ``photo``)."""

    compound_code: str = Field(..., min_length=1, max_length=64, description="小区编码")
    lon: float = Field(..., ge=-180, le=180)
    lat: float = Field(..., ge=-90, le=90)
    accuracy_m: float | None = Field(None, ge=0, le=1_000_000,
                                     description="the phone's accuracy radius, metres")
    crs: Literal["wgs84", "gcj02", "bd09"] = Field(
        "wgs84", description="the browser's WGS84, or GCJ-02 / BD-09 from WeChat or Baidu")
    mocked: bool = Field(False, description="the client says the position is simulated")
    kind: Literal["report", "service"] = Field("service", description="报到 or 服务")
    member_code: str | None = Field(None, max_length=64,
                                    description="optional: your own (anyone else's is refused)")
    model_config = {"extra": "forbid"}


_FORM_SCHEMA = {**CheckinIn.model_json_schema(),
                "properties": {**CheckinIn.model_json_schema()["properties"],
                               "photo": {"type": "string", "format": "binary"}}}


async def _checkin_body(request: Request) -> tuple[CheckinIn, bytes | None, str]:
    kind = request.headers.get("content-type", "")
    photo, name = None, "photo"
    try:
        if kind.startswith("application/json"):
            try:
                data = await request.json()
            except json.JSONDecodeError:
                raise RequestValidationError([{"loc": ("body",), "msg": "invalid JSON",
                                               "type": "json_invalid"}]) from None
            return CheckinIn.model_validate(data), None, name
        form = await request.form()
        fields = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key == "photo" and value.filename:
                    photo, name = await value.read(), value.filename
                continue
            if key != "photo" and value != "":
                fields[key] = value
        return CheckinIn.model_validate(fields), photo, name
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


@router.post("/checkins", summary="Check in at a compound (members, as themselves)",
             status_code=201, responses={**ERRORS, 201: {"description": "The check-in, with "
                                                         "its flags in Chinese"}},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": CheckinIn.model_json_schema()},
                 "multipart/form-data": {"schema": _FORM_SCHEMA},
                 "application/x-www-form-urlencoded": {"schema": CheckinIn.model_json_schema()},
             }}})
async def check_in(request: Request, who: Principal = Depends(principal),
                   eng: Engine = Depends(engine)):
    member = _member(who)
    body, photo, name = await _checkin_body(request)
    if body.member_code and body.member_code != member:
        raise Forbidden(f"{who.username} checks in as member {member}, not {body.member_code}")

    def run():
        sha = media.store(photo, name=name).sha256 if photo else None
        with eng.begin() as conn:
            made = checkins.check_in(
                conn, member, body.compound_code, lon=body.lon, lat=body.lat,
                accuracy_m=body.accuracy_m, crs=body.crs, mocked=body.mocked, kind=body.kind,
                photo_sha256=sha)
            return views.load(conn, made["id"], where=(made["county_code"],
                                                       made["checked_in_at"]))

    return JSONResponse(_as(who, await run_in_threadpool(run)), status_code=201)


@router.post("/checkins/{checkin_id}/checkout", summary="Check out (your own check-in)",
             responses={**ERRORS, 409: {"description": "Already checked out"}})
async def check_out(checkin_id: int = Path(..., ge=1), who: Principal = Depends(principal),
                    eng: Engine = Depends(engine)):
    member = _member(who)

    def run():
        with eng.begin() as conn:
            if views.owner(conn, checkin_id) != member:
                raise Forbidden(f"check-in {checkin_id} is not {who.username}'s")
            checkins.check_out(conn, checkin_id)
            return views.load(conn, checkin_id)

    return _as(who, await run_in_threadpool(run))


@router.get("/checkins/mine", summary="Your own check-ins: today's, recent ones, this month's "
                                      "hours (members)", responses=ERRORS)
async def my_checkins(days: int = Query(30, ge=1, le=366), who: Principal = Depends(principal),
                      eng: Engine = Depends(engine)):
    member = _member(who)
    now = dt.datetime.now(dt.timezone.utc)
    today = now.astimezone(SHANGHAI).date()
    first = today.replace(day=1)

    def run():
        with eng.connect() as conn:
            rows = views.mine(conn, member, days, now)
            month = ledger.ledger(conn, (first, today + dt.timedelta(days=1)), "member",
                                  member_code=member)
        return rows, month

    rows, month = await run_in_threadpool(run)
    shaped = [_as(who, r) for r in rows]
    open_ = next((r for r in shaped if r["checked_out_at"] is None
                  and r["day"] == today.isoformat()), None)
    totals = {"verified_hours": float(month["verified_hours"].sum()) if len(month) else 0.0,
              "added_hours": float(month["added_hours"].sum()) if len(month) else 0.0,
              "checkins": int(month["checkins"].sum()) if len(month) else 0,
              "month": first.strftime("%Y-%m")}
    return {"member_code": member, "open": open_,
            "today": [r for r in shaped if r["day"] == today.isoformat()],
            "recent": [r for r in shaped if r["day"] != today.isoformat()], "month": totals}


@router.get("/checkins/compounds", summary="The compounds your organization is assigned to, "
                                           "nearest first (members)", responses=ERRORS)
async def my_compounds(lon: float | None = Query(None, ge=-180, le=180),
                       lat: float | None = Query(None, ge=-90, le=90),
                       crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84",
                       who: Principal = Depends(principal), eng: Engine = Depends(engine)):
    member = _member(who)

    def run():
        with eng.connect() as conn:
            return views.compounds_for(conn, member, lon, lat, crs)

    return [{k: json_value(v) for k, v in r.items()} for r in await run_in_threadpool(run)]


@router.get("/checkins/flagged", summary="Check-ins waiting for a decision (planners: no "
                                         "positions, days not times; admins: all)",
            responses=ERRORS)
async def flagged(status: Literal["flagged", "approved", "rejected"] = "flagged",
                  period: str | None = PERIOD, limit: int = Query(200, ge=1, le=5000),
                  who: Principal = Depends(require("planner")), eng: Engine = Depends(engine)):
    start, end = coverage.visit_period(period) if period else (None, None)

    def run():
        with eng.connect() as conn:
            return views.queue(conn, status, start, end, limit)

    return [_as(who, r) for r in await run_in_threadpool(run)]


class Decision(BaseModel):
    decision: Literal["approve", "reject"]
    hours: float | None = Field(None, allow_inf_nan=False,
                                description="the hours to count (an auto check-out has none); "
                                            "at most the daily cap")
    note: str | None = Field(None, max_length=2000)
    model_config = {"extra": "forbid"}


@router.post("/checkins/{checkin_id}/decision", summary="Approve (with hours) or reject a "
                                                        "flagged check-in (planners)",
             responses={**ERRORS, 409: {"description": "Not waiting for a decision, or still "
                                                       "open"}})
async def decide(checkin_id: int = Path(..., ge=1), body: Decision = Body(...),
                 who: Principal = Depends(require("planner")), eng: Engine = Depends(engine)):
    def run():
        with eng.begin() as conn:
            _actor(conn, who)
            if views.load(conn, checkin_id)["checked_out_at"] is None:
                # its check-out would set the hours again and put it back in the queue
                raise StateConflict(f"check-in {checkin_id} is still open: decide after its "
                                    "check-out (or the 23:59 automatic one)")
            checkins.decide(conn, checkin_id, body.decision == "approve", who.username,
                            hours=body.hours, note=body.note)
            return views.load(conn, checkin_id)

    return _as(who, await run_in_threadpool(run))


class HoursIn(BaseModel):
    member_code: str = Field(..., min_length=1, max_length=64)
    day: dt.date
    hours: float = Field(..., allow_inf_nan=False,
                         description="more than 0; with what was added that day, at most the "
                                     "daily cap (GRIDGOV_ACTIVITY_MANUAL_HOURS_CAP)")
    reason: str = Field(..., max_length=2000)
    compound_code: str | None = Field(None, max_length=64)
    model_config = {"extra": "forbid"}


@router.post("/hours", summary="Add hours by hand (planners; capped, kept apart from verified "
                               "hours)", status_code=201, responses=ERRORS)
async def add_hours(body: HoursIn, who: Principal = Depends(require("planner")),
                    eng: Engine = Depends(engine)):
    def run():
        with eng.begin() as conn:
            _actor(conn, who)
            return checkins.add_hours(conn, body.member_code, body.day, body.hours, body.reason,
                                      who.username, body.compound_code)

    row = await run_in_threadpool(run)
    return JSONResponse({k: json_value(v) for k, v in row.items()}, status_code=201)


@router.get("/checkins/summary", summary="The hours ledger: counts per compound (everyone), "
                                         "totals per member and organization (planners)",
            responses={**ERRORS, 200: {"content": {"application/json": {},
                                                   "text/csv": {}}}})
async def summary(period: str | None = PERIOD,
                  level: Literal["compound", "member", "org"] = "compound",
                  format: Literal["json", "csv"] = "json",
                  who: Principal = Depends(require("viewer")), eng: Engine = Depends(engine)):
    if level != "compound" and not who.at_least("planner"):
        raise Forbidden("totals per member and organization are for planners; everyone sees "
                        "the counts per compound")
    frame = await run_in_threadpool(ledger.ledger, eng, period, level)
    if format == "csv":
        return Response(("\ufeff" + frame.rename(columns=ledger.LABELS_ZH).to_csv(index=False))
                        .encode("utf-8"), media_type="text/csv; charset=utf-8")
    start, end = frame.attrs["period"]
    return {"period": {"start": start, "end": end}, "level": level,
            "rows": [{k: json_value(v) for k, v in r.items()}
                     for r in frame.to_dict("records")]}


# coverage by visits, as far as anyone may see it: no time of a visit, only its day
VISIT_COLUMNS = ("code", "name", "community_code", "community_name", "township_name", "status",
                 "status_zh", "paper_status", "orgs", "members", "visits", "visit_days",
                 "visiting_members", "verified_hours")


@router.get("/coverage/visits", summary="Coverage by verified visits per compound (no "
                                        "personal data)", responses=ERRORS)
async def coverage_visits(period: str | None = PERIOD,
                          who: Principal = Depends(require("viewer")),
                          eng: Engine = Depends(engine)):
    def run():
        cov = coverage.coverage(eng, basis="visits", period=period)
        return cov, coverage.kpis(cov)

    cov, k = await run_in_threadpool(run)
    start, end = cov.attrs["period"]
    rows = []
    for r in cov.drop(columns=cov.geometry.name).to_dict("records"):
        row = {c: json_value(r[c]) for c in VISIT_COLUMNS}
        last = r["last_visit"]
        row["last_visit_day"] = None if last is None or last != last else \
            last.astimezone(SHANGHAI).date().isoformat()
        row["days_since_visit"] = None if row["last_visit_day"] is None else \
            (dt.date.fromisoformat(end) - dt.date.fromisoformat(row["last_visit_day"])).days
        rows.append(row)
    return {"period": {"start": start, "end": end},
            "kpis": {key: json_value(v) for key, v in k.items()}, "compounds": rows}


@router.get("/checkin", summary="党员进社区报到: the member's check-in page (a phone page)",
            responses=HTML, response_class=HTMLResponse)
async def checkin_page():
    s = current(ActivitySettings)
    labels = {"flags": checkins.FLAGS_ZH, "status": views.STATUS_ZH, "kind": views.KIND_ZH,
              "fence_m": s.fence_m, "max_accuracy_m": s.max_accuracy_m,
              "min_minutes": s.min_minutes}
    return HTMLResponse(render("checkin.html.j2", data=labels), headers=PAGE_HEADERS)
