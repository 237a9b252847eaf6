"""Sign-in (OAuth2 password flow), the member roster under personal-data rules, the audit log."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from gridgov import auth
from gridgov.auth import Principal

from ..responses import media
from ..security import issue_token, principal, require

router = APIRouter(tags=["Accounts and audit"])


@router.post("/auth/token", summary="Sign in (OAuth2 password flow); returns a bearer token")
async def token(request: Request, form: OAuth2PasswordRequestForm = Depends()):
    who = await run_in_threadpool(auth.authenticate_password, request.app.state.engine,
                                  form.username, form.password)
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
                  who: Principal = Depends(require("planner"))):
    def rows():
        with request.app.state.engine.connect() as conn:
            result = conn.execute(text(
                "SELECT code, org_code, compound_code, county_code, name, phone FROM members "
                "WHERE (:o IS NULL OR org_code = :o) AND (:c IS NULL OR compound_code = :c) "
                "ORDER BY code"), {"o": org_code, "c": compound_code}).mappings().all()
        return auth.protect_members([dict(r) for r in result], who)

    data = await run_in_threadpool(rows)
    if format == "csv":
        import pandas as pd

        return Response(("\ufeff" + pd.DataFrame(data, columns=[
            "code", "org_code", "compound_code", "county_code", "name", "phone"]).to_csv(
            index=False)).encode(), media_type="text/csv; charset=utf-8")
    return data


@router.get("/members/summary", summary="Members per organization and compound (no personal data)")
async def members_summary(request: Request, who: Principal = Depends(require("viewer"))):
    def rows():
        with request.app.state.engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(
                "SELECT org_code, compound_code, count(*) AS members FROM members "
                "GROUP BY org_code, compound_code ORDER BY org_code, compound_code")).mappings()]

    return await run_in_threadpool(rows)


@router.get("/audit", summary="The audit log, by record or by user (admins)")
async def audit(request: Request, table: str | None = Query(None, max_length=64),
                key: str | None = Query(None, max_length=128),
                actor: str | None = Query(None, max_length=128),
                limit: int = Query(100, ge=1, le=10_000),
                who: Principal = Depends(require("admin"))):
    def rows():
        with request.app.state.engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(
                "SELECT id, at, actor, action, table_name, record_key, before, after FROM audit_log"
                " WHERE (:t IS NULL OR table_name = :t) AND (:k IS NULL OR record_key = :k) AND "
                "(:a IS NULL OR actor = :a) ORDER BY id DESC LIMIT :l"),
                {"t": table, "k": key, "a": actor, "l": limit}).mappings()]

    out = await run_in_threadpool(rows)
    for r in out:
        r["at"] = r["at"].isoformat()
    return out
