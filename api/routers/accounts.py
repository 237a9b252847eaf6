"""Sign-in (OAuth2 password flow), the member roster under personal-data rules, the audit log."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from gridgov import audit as audit_log
from gridgov import auth
from gridgov.auth import Principal

from ..deps import client_address, engine, limits
from ..ratelimit import Limits
from ..responses import LIMITED, media
from ..routing import RetryReads
from ..security import issue_token, principal, require

router = APIRouter(tags=["Accounts and audit"], route_class=RetryReads)


@router.post("/auth/token", summary="Sign in (OAuth2 password flow); returns a bearer token",
             responses=LIMITED)
async def token(request: Request, form: OAuth2PasswordRequestForm = Depends(),
                eng: Engine = Depends(engine), doors: Limits = Depends(limits)):
    doors.signin(client_address(request), form.username)
    who = await run_in_threadpool(auth.authenticate_password, eng, form.username, form.password)
    return {"access_token": issue_token(request.app, who), "token_type": "bearer",
            "role": who.role}


@router.get("/auth/me", summary="Who am I")
async def me(who: Principal = Depends(principal)):
    return {"username": who.username, "role": who.role}


@router.get("/members", summary="The member roster: masked for planners, in full for admins",
            responses=media("application/json", "text/csv"))
async def members(request: Request, org_code: str | None = Query(None, max_length=64),
                  compound_code: str | None = Query(None, max_length=64),
                  format: Literal["json", "csv"] = "json",
                  who: Principal = Depends(require("planner")), eng: Engine = Depends(engine)):
    data = await run_in_threadpool(auth.roster, eng, who, org_code, compound_code)
    if format == "csv":
        import pandas as pd

        return Response(("\ufeff" + pd.DataFrame(data, columns=[
            "code", "org_code", "compound_code", "county_code", "name", "phone"]).to_csv(
            index=False)).encode(), media_type="text/csv; charset=utf-8")
    return data


@router.get("/members/summary", summary="Members per organization and compound (no personal data)")
async def members_summary(who: Principal = Depends(require("viewer")),
                          eng: Engine = Depends(engine)):
    return await run_in_threadpool(auth.roster_summary, eng)


@router.get("/audit", summary="The audit log, by record or by user (admins)")
async def audit(table: str | None = Query(None, max_length=64),
                key: str | None = Query(None, max_length=128),
                actor: str | None = Query(None, max_length=128),
                limit: int = Query(100, ge=1, le=10_000),
                who: Principal = Depends(require("admin")), eng: Engine = Depends(engine)):
    return await run_in_threadpool(lambda: audit_log.entries(eng, table=table, key=key,
                                                             actor=actor, limit=limit))
