"""Edits by planners: validated, transactional, audited, with optimistic concurrency.

Read a record (its ETag is its version), send the change with ``If-Match: "v<version>"``; if
someone changed it meanwhile the answer is 412 with the current state, never a lost update.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Body, Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from gridgov import edits
from gridgov.auth import Principal
from gridgov.errors import InvalidParameter
from gridgov.layers import get_layer

from ..deps import engine, version_of
from ..routing import RetryReads
from ..security import require

router = APIRouter(prefix="/edits", tags=["Edits"], route_class=RetryReads)
TABLES = {"assignments": "assignments", "sites": "practice_sites", "orgs": "party_orgs",
          "categories": "case_categories"}


def _respond(row: dict, status: int = 200) -> JSONResponse:
    return JSONResponse(row, status_code=status, headers={"ETag": f'"v{row["version"]}"'})


def _write(eng: Engine, who: Principal, fn, *args):
    def run():
        with eng.begin() as conn:
            edits.set_actor(conn, who.username)
            return fn(conn, *args)

    return run_in_threadpool(run)


@router.get("/{kind}/{key}", summary="A record and its version (ETag)")
async def read(kind: Literal["assignments", "sites", "orgs", "categories"], key: str,
               eng: Engine = Depends(engine), who: Principal = Depends(require("viewer"))):
    table = TABLES[kind]
    layer = get_layer(table)
    if layer.id_column and not key.isdigit():
        raise InvalidParameter("id", f"{layer.name} ids are numbers")
    k = int(key) if layer.id_column else key

    def run():
        with eng.connect() as conn:
            return edits.current(conn, table, k)

    return _respond(await run_in_threadpool(run))


class NewAssignment(BaseModel):
    org_code: str = Field(min_length=1, max_length=64)
    compound_code: str = Field(min_length=1, max_length=64)
    kind: Literal["unit", "leader", "members"] = "unit"
    valid_from: dt.date | None = None
    members: int | None = Field(None, ge=0, le=100_000)
    note: str | None = Field(None, max_length=2000)


@router.post("/assignments", summary="Start an assignment", status_code=201)
async def create_assignment(eng: Engine = Depends(engine), body: NewAssignment = Body(...),
                            who: Principal = Depends(require("planner"))):
    def create(conn):
        new_id = edits.add_assignment(conn, body.org_code, body.compound_code,
                                      valid_from=body.valid_from or dt.date.today(),
                                      members=body.members, kind=body.kind, note=body.note,
                                      source=f"edit:{who.username}")
        return edits.current(conn, "assignments", new_id)

    return _respond(await _write(eng, who, create), 201)


class EndAssignment(BaseModel):
    valid_to: dt.date | None = None


@router.post("/assignments/{assignment_id}/end", summary="End an assignment (history is kept)")
async def end_assignment(assignment_id: int, eng: Engine = Depends(engine),
                         body: EndAssignment = Body(default_factory=EndAssignment),
                         if_match: str | None = Header(None),
                         who: Principal = Depends(require("planner"))):
    version = version_of(if_match)
    row = await _write(eng, who, edits.end_assignment_versioned, assignment_id,
                       body.valid_to or dt.date.today(), version)
    return _respond(row)


class _LocatedChange(BaseModel):
    """Fields every located record shares; unknown fields are refused, not ignored."""

    name: str | None = Field(None, min_length=1, max_length=200)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    model_config = {"extra": "forbid"}


class SiteChange(_LocatedChange):
    demonstration: bool | None = None
    theme: str | None = Field(None, max_length=200)


class OrgChange(_LocatedChange):
    parent_body: str | None = Field(None, max_length=200)
    member_count: int | None = Field(None, ge=0, le=100_000)
    work_group_code: str | None = Field(None, max_length=64)


class CategoryChange(BaseModel):
    """A case category's name, time limit, conditions, routing override, open or not."""

    name: str | None = Field(None, min_length=1, max_length=200)
    time_limit: float | None = Field(None, ge=0.01, le=10_000)
    limit_type: Literal["urgent_hours", "working_hours", "working_days",
                        "natural_days"] | None = None
    filing_condition: str | None = Field(None, max_length=2000)
    closing_condition: str | None = Field(None, max_length=2000)
    route_org_code: str | None = Field(None, max_length=64)
    active: bool | None = None
    model_config = {"extra": "forbid"}


async def _patch(eng: Engine, who: Principal, table: str, code: str,
                 body: BaseModel, if_match: str | None) -> JSONResponse:
    version = version_of(if_match)
    row = await _write(eng, who, edits.update_versioned, table, code,
                       body.model_dump(exclude_none=True), version)
    return _respond(row)


@router.patch("/sites/{code}", summary="Change or move a practice site")
async def change_site(code: str, eng: Engine = Depends(engine), body: SiteChange = Body(...),
                      if_match: str | None = Header(None),
                      who: Principal = Depends(require("planner"))):
    return await _patch(eng, who, "practice_sites", code, body, if_match)


@router.patch("/orgs/{code}", summary="Change an organization's data")
async def change_org(code: str, eng: Engine = Depends(engine), body: OrgChange = Body(...),
                     if_match: str | None = Header(None),
                     who: Principal = Depends(require("planner"))):
    return await _patch(eng, who, "party_orgs", code, body, if_match)


@router.patch("/categories/{code}", summary="Change a case category (time limit, routing, ...)")
async def change_category(code: str, eng: Engine = Depends(engine),
                          body: CategoryChange = Body(...), if_match: str | None = Header(None),
                          who: Principal = Depends(require("planner"))):
    return await _patch(eng, who, "case_categories", code, body, if_match)
