"""Two-way supervision (双向督查): monthly accounts (报账) from the units, demands (要账) from the
command center, what is late (for the overview's KPI panel), the 12 key tasks' board and the
scorecard (考核) for officials.

Reading needs the viewer role; writing is decided by the library, case by case: a unit's
handler submits its own account, answers demands to it (or to its work group) and reports its
progress on the tasks it is responsible for; the command center (dispatcher) issues and closes
demands and marks milestones done; an admin may do all of it. Nothing here carries a member's
name, phone or check-in position.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from gridgov.activity import accounts, demands, scorecard, supervision, tasks
from gridgov.auth import Forbidden, Principal
from gridgov.calendar import SHANGHAI
from gridgov.errors import InvalidParameter, NotFound
from gridgov.maps.templating import render

from ..deps import engine, wants_html
from ..responses import TABLES, media
from ..routing import RetryReads
from ..security import principal

router = APIRouter(tags=["Supervision"], route_class=RetryReads)

MONTH = r"^20\d{2}-(0[1-9]|1[0-2])$"  # the calendar knows these years
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# the task board is a page without scripts: its own inline style only
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "script-src 'none'; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _plain(value):
    """JSON-ready, nested structures included."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return value.item()
    try:
        if value != value:  # NaN, pd.NA raise or compare unequal
            return None
    except TypeError:
        return None
    return value


def _json(body, status: int = 200) -> JSONResponse:
    return JSONResponse(_plain(body), status_code=status)


def _day(as_of: dt.date | None) -> dt.date | None:
    if as_of is not None and not 2000 <= as_of.year <= 2099:
        raise InvalidParameter("as_of", "a day from 2000 to 2099")
    return as_of


def _account(a: dict, who: Principal) -> dict:
    out = {k: v for k, v in a.items() if k not in ("submitted_by", "id")}
    if who.role == "admin":
        out["submitted_by"] = a.get("submitted_by")
    out["month"] = a["month"].strftime("%Y-%m")
    return out


# --------------------------------------------------------------------------- flags

@router.get("/supervision/flags", summary="Late accounts and overdue demands (督办), in Chinese",
            responses=media("application/json", "text/csv"))
async def flags(as_of: dt.date | None = Query(None, description="a day (its end); default now"),
                county_code: str | None = Query(None, pattern=r"^\d{6}$"),
                format: Literal["json", "csv"] = "json", eng: Engine = Depends(engine)):
    rows = await run_in_threadpool(supervision.flags, eng, _day(as_of),
                                   [county_code] if county_code else None)
    if format == "csv":
        import pandas as pd

        frame = pd.DataFrame(rows, columns=list(supervision.COLUMNS_ZH))
        frame["since"] = [t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
                          for t in frame["since"]]
        frame = frame.rename(columns=supervision.COLUMNS_ZH)
        return Response(("\ufeff" + frame.to_csv(index=False)).encode("utf-8"),
                        media_type="text/csv; charset=utf-8")
    return _json(rows)


@router.get("/supervision/summary", summary="Counts for the command center's KPI panel")
async def summary(as_of: dt.date | None = None,
                  county_code: str | None = Query(None, pattern=r"^\d{6}$"),
                  eng: Engine = Depends(engine)):
    out = await run_in_threadpool(supervision.summary, eng, _day(as_of),
                                  [county_code] if county_code else None)
    return _json(out)


# --------------------------------------------------------------------------- accounts 报账

@router.get("/supervision/accounts", summary="Monthly accounts (报账), filtered")
async def list_accounts(month: str | None = Query(None, pattern=MONTH),
                        org_code: str | None = Query(None, max_length=64),
                        status: Literal["draft", "submitted"] | None = None,
                        late: bool | None = None,
                        who: Principal = Depends(principal), eng: Engine = Depends(engine)):
    rows = await run_in_threadpool(lambda: accounts.find(eng, month, org_code=org_code,
                                                         status=status, late=late))
    return _json([_account(a, who) for a in rows])


@router.get("/supervision/accounts/{org_code}/{month}", summary="One account (报账)")
async def get_account(org_code: str = Path(max_length=64), month: str = Path(pattern=MONTH),
                      who: Principal = Depends(principal), eng: Engine = Depends(engine)):
    def run():
        with eng.connect() as conn:
            return accounts.get(conn, org_code, month)

    return _json(_account(await run_in_threadpool(run), who))


@router.post("/supervision/accounts/{org_code}/{month}/prefill",
             summary="Create or refresh a draft account from the data")
async def prefill_account(org_code: str = Path(max_length=64), month: str = Path(pattern=MONTH),
                          who: Principal = Depends(principal), eng: Engine = Depends(engine)):
    if not (who.at_least("dispatcher") or accounts.may_submit(who, org_code)):
        raise Forbidden(f"the account of {org_code} is prefilled by its handler or the command "
                        f"center; {who.username} is a {who.role}")

    def run():
        with eng.begin() as conn:
            accounts.set_actor(conn, who)
            return accounts.prefill(conn, org_code, month)

    return _json(_account(await run_in_threadpool(run), who))


class Submission(BaseModel):
    narrative: str = Field(..., min_length=1, max_length=20000, description="工作情况")
    model_config = {"extra": "forbid"}


@router.post("/supervision/accounts/{org_code}/{month}/submit",
             summary="Submit an account (the unit's handler, or an admin)",
             responses={409: {"description": "Already submitted"}})
async def submit_account(body: Submission, org_code: str = Path(max_length=64),
                         month: str = Path(pattern=MONTH), who: Principal = Depends(principal),
                         eng: Engine = Depends(engine)):
    def run():
        with eng.begin() as conn:
            return accounts.submit(conn, org_code, month, body.narrative, who)

    return _json(_account(await run_in_threadpool(run), who))


# --------------------------------------------------------------------------- demands 要账

@router.get("/supervision/demands", summary="Demands (要账), newest first")
async def list_demands(status: Literal["open", "answered", "closed"] | None = None,
                       org_code: str | None = Query(None, max_length=64),
                       work_group_code: str | None = Query(None, max_length=64),
                       overdue: bool | None = None,
                       limit: int = Query(500, ge=1, le=5000),
                       eng: Engine = Depends(engine)):
    rows = await run_in_threadpool(lambda: demands.find(
        eng, status=status, org_code=org_code, work_group_code=work_group_code,
        overdue=overdue, limit=limit))
    return _json(rows)


class Demand(BaseModel):
    code: str | None = Field(None, max_length=64)
    org_code: str | None = Field(None, max_length=64)
    work_group_code: str | None = Field(None, max_length=64)
    title: str = Field(..., min_length=1, max_length=500)
    body: str | None = Field(None, max_length=20000)
    due_at: dt.datetime | None = None
    due_working_days: float | None = Field(None, ge=0, le=365, description="more than zero")
    model_config = {"extra": "forbid"}


@router.post("/supervision/demands", status_code=201,
             summary="Issue a demand (要账) to an organization or a work group",
             responses={409: {"description": "The code is taken"}})
async def issue_demand(body: Demand, who: Principal = Depends(principal),
                       eng: Engine = Depends(engine)):
    def run():
        with eng.begin() as conn:
            return demands.issue(conn, code=body.code, org_code=body.org_code,
                                 work_group_code=body.work_group_code, title=body.title,
                                 body=body.body, due_at=body.due_at,
                                 due_working_days=body.due_working_days, by=who)

    d = await run_in_threadpool(run)
    response = _json(d, 201)
    response.headers["Location"] = f"/supervision/demands/{d['code']}"
    return response


@router.get("/supervision/demands/{code}", summary="One demand")
async def get_demand(code: str = Path(max_length=64), eng: Engine = Depends(engine)):
    def run():
        with eng.connect() as conn:
            return demands.get(conn, code)

    return _json(await run_in_threadpool(run))


class Answer(BaseModel):
    answer: str = Field(..., min_length=1, max_length=20000)
    model_config = {"extra": "forbid"}


@router.post("/supervision/demands/{code}/answer", summary="Answer a demand (its addressee)",
             responses={409: {"description": "Not open"}})
async def answer_demand(body: Answer, code: str = Path(max_length=64),
                        who: Principal = Depends(principal), eng: Engine = Depends(engine)):
    def run():
        with eng.begin() as conn:
            return demands.answer(conn, code, body.answer, who)

    return _json(await run_in_threadpool(run))


@router.post("/supervision/demands/{code}/close", summary="Close a demand (the command center)",
             responses={409: {"description": "Already closed"}})
async def close_demand(code: str = Path(max_length=64), who: Principal = Depends(principal),
                       eng: Engine = Depends(engine)):
    def run():
        with eng.begin() as conn:
            return demands.close(conn, code, who)

    return _json(await run_in_threadpool(run))


# --------------------------------------------------------------------------- key tasks

@router.get("/tasks", summary="The key tasks' board (HTML page or JSON)",
            responses=media("application/json", "text/html"))
async def task_board(request: Request,
                     work_group: str | None = Query(None, max_length=64,
                                                    description="a work group's code"),
                     as_of: dt.date | None = None,
                     f: Literal["json", "html"] | None = None,
                     eng: Engine = Depends(engine)):
    _day(as_of)
    if wants_html(request, f):
        def page():
            groups = tasks.by_work_group(eng, as_of)
            return groups, [g for g in groups if work_group in (None, g["code"])]

        groups, shown = await run_in_threadpool(page)
        if work_group and not shown:
            raise NotFound(f"no work group {work_group!r}")
        day = as_of or dt.datetime.now(SHANGHAI).date()
        html = render("tasks.html.j2", groups=groups, shown=shown, work_group=work_group,
                      as_of=day, states=tasks.MILESTONE_STATE_ZH)
        return HTMLResponse(html, headers=PAGE_HEADERS)
    rows = await run_in_threadpool(lambda: tasks.board(eng, as_of, work_group=work_group))
    return _json(rows)


@router.get("/tasks/{code}", summary="One key task: milestones and each unit's progress")
async def task_detail(code: str = Path(max_length=64), as_of: dt.date | None = None,
                      eng: Engine = Depends(engine)):
    rows = await run_in_threadpool(lambda: tasks.board(eng, _day(as_of), task=code))
    if not rows:
        raise NotFound(f"no key task {code!r}")
    return _json(rows[0])


class Progress(BaseModel):
    percent: float = Field(..., ge=0, le=100, description="完成比例")
    note: str | None = Field(None, max_length=4000)
    evidence: dict[str, list[str]] | None = Field(
        None, description='{"activities": [...], "cases": [...], "accounts": ["ORG/YYYY-MM"]}')
    org_code: str | None = Field(None, max_length=64, description="an admin names the unit")
    reported_on: dt.date | None = None
    model_config = {"extra": "forbid"}


@router.post("/tasks/{code}/progress", status_code=201,
             summary="Report a responsible unit's progress (its handler, or an admin)")
async def report_progress(body: Progress, code: str = Path(max_length=64),
                          who: Principal = Depends(principal), eng: Engine = Depends(engine)):
    def run():
        with eng.begin() as conn:
            return tasks.report(conn, code, body.percent, who, org_code=body.org_code,
                                note=body.note, evidence=body.evidence, on=body.reported_on)

    return _json(await run_in_threadpool(run), 201)


class Done(BaseModel):
    done_on: dt.date | None = None
    model_config = {"extra": "forbid"}


@router.post("/tasks/{code}/milestones/{seq}/done",
             summary="Mark a milestone done (the command center)",
             responses={409: {"description": "Already done"}})
async def milestone_done(code: str = Path(max_length=64), seq: int = Path(ge=0, le=32767),
                         body: Done = Body(default_factory=Done),
                         who: Principal = Depends(principal), eng: Engine = Depends(engine)):
    def run():
        with eng.begin() as conn:
            return tasks.mark_done(conn, code, seq, who, body.done_on)

    return _json(await run_in_threadpool(run))


# --------------------------------------------------------------------------- scorecard 考核

@router.get("/scorecard", summary="考核: one row per organization, ranked, reasons in Chinese",
            responses=TABLES)
async def get_scorecard(period: str = Query(..., pattern=MONTH, description="YYYY-MM"),
                        county_code: str | None = Query(None, pattern=r"^\d{6}$"),
                        format: Literal["json", "csv", "xlsx"] = "json",
                        eng: Engine = Depends(engine)):
    card = await run_in_threadpool(lambda: scorecard.scorecard(
        eng, period, counties=[county_code] if county_code else None))
    name = f"scorecard-{period}"
    if format == "csv":
        return Response(scorecard.to_csv(card), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    if format == "xlsx":
        return Response(scorecard.to_xlsx(card), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    return Response(json.dumps(_plain(card.to_dict("records")), ensure_ascii=False),
                    media_type="application/json")
