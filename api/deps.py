"""Request dependencies, the one place routers get what the application holds (the engine,
the feature and tile services, the settings), and the parsing they share (paging, formats).
Routers never reach into ``app.state`` themselves.

The getters are ``async``: FastAPI runs a plain ``def`` dependency in the thread pool, and a
cached tile spent half its time hopping threads for five attribute reads."""

from __future__ import annotations

from fastapi import Query, Request
from sqlalchemy import Engine

from gridgov.errors import InvalidParameter, PreconditionRequired
from gridgov.features import DEFAULT_LIMIT, MAX_LIMIT, FeatureService
from gridgov.tiles import TileService

from .ratelimit import Limits
from .settings import ServiceSettings


async def engine(request: Request) -> Engine:
    return request.app.state.engine


async def features(request: Request) -> FeatureService:
    return request.app.state.features


async def tiles(request: Request) -> TileService:
    return request.app.state.tiles


async def settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


async def limits(request: Request) -> Limits:
    return request.app.state.limits


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def wants_html(request: Request, f: str | None) -> bool:
    if f:
        return f.lower() == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


class ItemsQuery:
    """OGC API Features items parameters, validated before they reach the core."""

    def __init__(
        self,
        request: Request,
        bbox: str | None = Query(None, description="minx,miny,maxx,maxy in CRS84"),
        limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT,
                           description=f"features per page (1-{MAX_LIMIT:,})"),
        offset: int = Query(0, ge=0, le=10_000_000),
        properties: str | None = Query(None, description="comma-separated property names"),
        sortby: str | None = Query(None, description="e.g. -households,+name"),
        filter: str | None = Query(None, description="CQL2 text filter"),
        filter_lang: str | None = Query(None, alias="filter-lang"),
        filter_crs: str | None = Query(None, alias="filter-crs"),
        f: str | None = Query(None, description="json (default) or html"),
    ):
        self.request = request
        self.bbox = bbox
        self.limit = limit
        self.offset = offset
        self.properties = properties
        self.sortby = sortby
        self.filter = filter
        self.filter_lang = filter_lang
        self.filter_crs = filter_crs
        self.f = f


def version_of(if_match: str | None, required: bool = True) -> int | None:
    """The record version an edit is based on, from ``If-Match: "v<version>"`` (428 when
    required and missing, 400 when not a version tag)."""
    if not if_match:
        if required:
            raise PreconditionRequired('send If-Match: "v<version>" from the record you read')
        return None
    tag = if_match.strip().strip('"').lstrip("W/").strip('"')
    if not tag.startswith("v") or not tag[1:].isdigit():
        raise InvalidParameter("If-Match", f"{if_match!r} is not a version tag like \"v3\"")
    return int(tag[1:])
