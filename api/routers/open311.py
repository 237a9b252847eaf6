"""Open311 GeoReport v2 at ``/open311/v2/``: discovery, services, a service's definition,
filing a request, reading requests and one request, and tokens, each in ``.json`` and ``.xml``;
an adapter over gridgov.cases (gridgov.cases.open311 translates).

As the standard has it: filing is ``POST requests.{json,xml}``, form-encoded (or multipart with
``media`` photos), with an ``api_key`` (a gridgov API key; also taken from the query string or
the X-API-Key header, for clients that send it there); a missing or bad key is 403. Errors are
the standard's array, ``[{"code": 404, "description": "..."}]`` or
``<errors><error><code>…`` in XML, with the HTTP status, on every path under ``/open311``
(unknown paths too). Filing is rate-limited per client address and per key like ``POST /cases``
(429 with Retry-After). Reading is open to anonymous users while the settings allow; reporters'
names, phones and accounts appear for admins only.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridgov import auth
from gridgov.auth import AuthError, Forbidden, Principal
from gridgov.cases import open311 as o311
from gridgov.errors import GridgovError, InputError, InvalidParameter, NotFound, QueryError

from .. import errors
from ..deps import client_address, engine, limits, settings
from ..ratelimit import Limits, TooManyRequests
from ..settings import ServiceSettings
from ..routing import RetryReads
from ..security import principal, secret

log = logging.getLogger("gridgov.api")
CORS = {"Access-Control-Allow-Origin": "*"}  # reads are public data, keys are not cookies


# --- responses and errors in the standard's form -----------------------------------------------

def reply(fmt: str, root: str, data: Any, status: int = 200,
          headers: dict | None = None) -> Response:
    """``data`` as JSON, or as XML under ``root`` (lists take their members' elements from
    gridgov.cases.open311.GROUPS)."""
    if fmt == "xml":
        body = o311.to_xml(root, data)
    else:
        fmt = "json"
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, media_type=o311.FORMATS[fmt],
                    headers={**CORS, **(headers or {})})


def _failure(exc: Exception) -> tuple[int, list[dict], dict]:
    """(status, the standard's error list, headers) for an exception."""
    headers: dict = {}
    if isinstance(exc, RequestValidationError):
        out = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "path"))
            out.append({"code": 400, "description": f"{where}: {e.get('msg')}"})
        return 400, out or [{"code": 400, "description": "invalid request"}], headers
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, [{"code": exc.status_code, "description": str(exc.detail)}], \
            dict(exc.headers or {})
    if isinstance(exc, ValueError):  # NUL in a value, refused by the driver
        return 400, [{"code": 400, "description": "NUL characters are not allowed in values"}], \
            headers
    if isinstance(exc, (AuthError, Forbidden)):
        status = 403  # the standard's status for a missing or bad api_key
    elif isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, (InputError, QueryError)):
        status = 400  # the standard's status for a request it cannot take
    else:
        status = errors.status_of(exc)[0]
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, InputError):
        return status, [{"code": status, "description": f"{p.field}: {p.message}" if p.field
                         else p.message} for p in exc.problems], headers
    if isinstance(exc, (sa_exc.DBAPIError, sa_exc.TimeoutError)):
        orig = getattr(exc, "orig", None)
        log.warning("store unavailable: %s", next(iter(str(orig or exc).splitlines()), ""))
        return status, [{"code": status, "description": "the PostGIS store is not answering; "
                                                        "try again shortly"}], headers
    return status, [{"code": status, "description": str(exc)}], headers


def _format_of(request: Request) -> str:
    fmt = request.path_params.get("format")
    if fmt is None and request.url.path.endswith(".xml"):
        fmt = "xml"
    return "xml" if fmt == "xml" else "json"


class Open311Route(RetryReads):
    """Errors of these paths in the standard's array form (reads still retried after a
    database restart, as everywhere)."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except (GridgovError, RequestValidationError, StarletteHTTPException,
                    sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
                    ValueError) as exc:
                if isinstance(exc, ValueError) and "NUL" not in str(exc):
                    raise
                status, items, headers = _failure(exc)
                return reply(_format_of(request), "errors", items, status, headers)

        return answer


router = APIRouter(prefix="/open311", tags=["Open311 GeoReport v2"], route_class=Open311Route)


# --- the documentation (every status and media type sent) --------------------------------------

def _array(item: dict) -> dict:
    return {"type": "array", "items": item}


def _object(properties: dict, required: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "properties": properties, "required": list(required)}


STR, NUM, BOOL, INT = {"type": "string"}, {"type": "number"}, {"type": "boolean"}, \
    {"type": "integer"}
NSTR = {"type": "string", "nullable": True}
ERROR_LIST = _array(_object({"code": INT, "description": STR}, ("code", "description")))
# a body refused before it reaches the router (over the size limit, NUL in the address) keeps
# the service's usual shape
USUAL = _object({"code": STR, "description": STR}, ("code", "description"))
SERVICE = _object({"service_code": STR, "service_name": STR, "description": STR,
                   "metadata": BOOL, "type": STR, "keywords": STR, "group": STR},
                  ("service_code", "service_name", "metadata", "type"))
DEFINITION = _object({"service_code": STR, "attributes": _array({"type": "object"})},
                     ("service_code", "attributes"))
DISCOVERY = _object({"changeset": STR, "contact": STR, "key_service": STR,
                     "max_requests": INT,
                     "endpoints": _array(_object({
                         "specification": STR, "url": STR, "changeset": STR, "type": STR,
                         "formats": _array(STR)}, ("specification", "url", "type", "formats")))},
                    ("changeset", "endpoints"))
REQUEST = _object({
    "service_request_id": STR, "status": {"type": "string", "enum": ["open", "closed"]},
    "status_notes": NSTR, "service_name": STR, "service_code": STR, "description": STR,
    "agency_responsible": NSTR, "service_notice": NSTR, "requested_datetime": STR,
    "updated_datetime": NSTR, "expected_datetime": NSTR, "address": STR, "address_id": STR,
    "zipcode": STR, "lat": {"type": "number", "nullable": True},
    "long": {"type": "number", "nullable": True}, "media_url": NSTR,
    "reporter_name": NSTR, "reporter_phone": NSTR, "reporter_account": NSTR},
    ("service_request_id", "status", "service_code", "requested_datetime"))
POSTED = _object({"service_request_id": STR, "service_notice": NSTR, "account_id": NSTR,
                  "token": STR}, ("service_request_id", "token"))
TOKEN = _object({"service_request_id": STR, "token": STR}, ("service_request_id", "token"))
WHY = {400: "The request cannot be taken or answered as asked",
       403: "api_key missing or invalid, or the role may not do this",
       404: "No such service, request, token or jurisdiction",
       413: "Request body too large", 429: "Too many requests; wait Retry-After seconds",
       503: "The database is not answering; try again shortly"}


def _docs(ok: dict, *statuses: int) -> dict:
    """200 with ``ok`` as JSON (and the same as XML), and the errors, in both formats."""
    out: dict = {200: {"description": "OK (JSON or XML, as the path's extension says)",
                       "content": {"application/json": {"schema": ok}, "text/xml": {}}}}
    for status in (*statuses, 503):
        out[status] = {"description": WHY[status], "content": {
            "application/json": {"schema": {"oneOf": [ERROR_LIST, USUAL]} if status in (400, 413)
                                 else ERROR_LIST},
            "text/xml": {}}}
    if 429 in statuses:
        out[429]["headers"] = {"Retry-After": {"description": "seconds to wait",
                                               "schema": {"type": "integer"}}}
    # every other client error is in the array form too (and no 422: it is 400 here)
    out["4XX"] = {"description": "Other client errors, in the same form",
                  "content": {"application/json": {"schema": ERROR_LIST}, "text/xml": {}}}
    return out


Format = Annotated[Literal["json", "xml"], Path(description="json or xml")]
Jurisdiction = Annotated[str | None, Query(
    max_length=200, description="the county (its code, e.g. 141129, or name); optional")]
FIELDS = {
    "api_key": {"type": "string", "description": "a gridgov API key (or send X-API-Key)"},
    "jurisdiction_id": {"type": "string", "description": "the county; optional"},
    "service_code": {"type": "string", "description": "from services.json"},
    "lat": {"type": "number", "minimum": -90, "maximum": 90, "description": "WGS84"},
    "long": {"type": "number", "minimum": -180, "maximum": 180, "description": "WGS84"},
    "address_string": {"type": "string", "maxLength": 500},
    "address_id": {"type": "string", "description": "accepted, not used"},
    "description": {"type": "string", "maxLength": 4000},
    "media_url": {"type": "string", "maxLength": 2000,
                  "description": "kept with the case, not fetched"},
    "email": {"type": "string", "maxLength": 254}, "device_id": {"type": "string"},
    "account_id": {"type": "string", "maxLength": 200},
    "first_name": {"type": "string", "maxLength": 50},
    "last_name": {"type": "string", "maxLength": 50},
    "phone": {"type": "string", "maxLength": 30},
    "attribute[channel]": {"type": "string", "enum": ["12345"],
                           "description": "12345: a 12345 hotline order"},
}
POST_BODY = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": _object(FIELDS, ("service_code", "lat",
                                                                     "long"))},
    "multipart/form-data": {"schema": _object(
        {**FIELDS, "media": {"type": "string", "format": "binary",
                             "description": "a photo (JPEG, PNG or WebP)"}},
        ("service_code", "lat", "long"))}}}}


# --- who asks -----------------------------------------------------------------------------------

async def reader(request: Request,
                 api_key: str | None = Query(None, max_length=200, description=(
                     "a gridgov API key (optional for reading; an admin's shows reporters' "
                     "contacts); X-API-Key works too")),
                 eng: Engine = Depends(engine)) -> Principal:
    if api_key:
        return await run_in_threadpool(auth.authenticate_key, eng, api_key)
    return await principal(request, eng)


async def _filer(request: Request, eng: Engine, key: str | None) -> Principal:
    if key:
        return await run_in_threadpool(auth.authenticate_key, eng, key)
    headers = request.headers
    if not headers.get("x-api-key") and not headers.get("authorization"):
        raise Forbidden("api_key was not provided: filing a request needs a gridgov API key")
    who = await principal(request, eng)
    if who is auth.ANONYMOUS:
        raise Forbidden("api_key was not provided: filing a request needs a gridgov API key")
    return who


# --- the paths ----------------------------------------------------------------------------------

@router.get("/v2/discovery.{format}", summary="Service discovery", response_class=Response,
            responses=_docs(DISCOVERY, 400))
async def discovery(request: Request, format: Format,
                    s: ServiceSettings = Depends(settings)):
    title = s.title
    base = str(request.base_url).rstrip("/")
    data = o311.discovery(
        f"{base}/open311/v2",
        contact=f"{title}：县网格化服务管理中心；政务服务便民热线 12345",
        key_service="API keys (api_key) are issued by the service's administrators "
                    "(gridgov user add NAME --role viewer); ask the county grid center")
    return reply(format, "discovery", data)


@router.get("/v2/services.{format}", summary="Services: the case categories",
            response_class=Response, responses=_docs(_array(SERVICE), 400, 403, 404))
async def list_services(format: Format,
                        jurisdiction_id: Jurisdiction = None,
                        who: Principal = Depends(reader), eng: Engine = Depends(engine)):
    def run():
        with eng.connect() as conn:
            o311.jurisdiction(conn, jurisdiction_id)
            return o311.services(conn)

    return reply(format, "services", await run_in_threadpool(run))


@router.get("/v2/services/{service_code}.{format}", summary="A service's definition",
            response_class=Response, responses=_docs(DEFINITION, 400, 403, 404))
async def service_definition(service_code: Annotated[str, Path(max_length=64)],
                             format: Format,
                             jurisdiction_id: Jurisdiction = None,
                             who: Principal = Depends(reader), eng: Engine = Depends(engine)):
    def run():
        with eng.connect() as conn:
            o311.jurisdiction(conn, jurisdiction_id)
            return o311.service_definition(conn, service_code)

    return reply(format, "service_definition", await run_in_threadpool(run))


def _list(value: str | None, name: str) -> list[str]:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    if len(items) > o311.MAX_REQUESTS:
        raise InvalidParameter(name, f"at most {o311.MAX_REQUESTS} values")
    return items


@router.get("/v2/requests.{format}", summary="Service requests (cases), newest first",
            response_class=Response, responses=_docs(_array(REQUEST), 400, 403, 404))
async def list_requests(
        request: Request, format: Format,
        jurisdiction_id: Jurisdiction = None,
        service_request_id: str | None = Query(None, max_length=40_000, description=(
            "comma-separated; overrides every other filter")),
        service_code: str | None = Query(None, max_length=10_000,
                                         description="comma-separated"),
        start_date: str | None = Query(None, max_length=64, description=(
            "W3C date-time; with end_date at most 90 days apart (default: the last 90 days)")),
        end_date: str | None = Query(None, max_length=64, description="W3C date-time"),
        status: str | None = Query(None, max_length=64, description="open, closed or both"),
        who: Principal = Depends(reader), eng: Engine = Depends(engine)):
    ids = _list(service_request_id, "service_request_id")
    codes = _list(service_code, "service_code")
    statuses = _list(status, "status")
    if any(s not in ("open", "closed") for s in statuses):
        raise InvalidParameter("status", f"{status!r}: open, closed or both (comma-separated)")
    start, end = (None, None) if ids else o311.window(start_date, end_date)
    personal = who.personal_view == "full"

    def run():
        with eng.connect() as conn:
            county = o311.jurisdiction(conn, jurisdiction_id)
            return o311.find(conn, ids=ids, service_codes=codes, start=start, end=end,
                             statuses=statuses, county=county, personal=personal)

    rows = await run_in_threadpool(run)
    base = str(request.base_url)
    return reply(format, "service_requests",
                 [o311.as_request(r, base, personal=personal) for r in rows])


@router.post("/v2/requests.{format}", summary="File a service request (a case)",
             response_class=Response, openapi_extra=POST_BODY,
             responses=_docs(_array(POSTED), 400, 403, 404, 413, 429))
async def post_request(request: Request, format: Format,
                       api_key: str | None = Query(None, max_length=200, description=(
                           "for clients that send it in the address; the form field is the "
                           "standard's place")),
                       eng: Engine = Depends(engine), doors: Limits = Depends(limits)):
    form = await request.form()
    try:
        # the form is the standard's place; older clients put api_key (declared above for the
        # documentation) and jurisdiction_id in the address: taken from there when the form
        # lacks them
        fields = {**request.query_params, **{k: v for k, v in form.items() if v != ""}}
        key = fields.get("api_key")
        who = await _filer(request, eng, key if isinstance(key, str) and key else None)
        doors.intake(client_address(request), who.username)
        photos = [await f.read() for f in form.getlist("media")
                  if isinstance(f, UploadFile)][:6]
        secret_key = secret(request.app)

        def run():
            with eng.begin() as conn:
                return o311.submit(conn, who, fields, secret=secret_key, photos=photos)

        item = await run_in_threadpool(run)
    finally:
        await form.close()
    return reply(format, "service_requests", [item])


@router.get("/v2/requests/{service_request_id}.{format}", summary="One service request",
            response_class=Response, responses=_docs(_array(REQUEST), 400, 403, 404))
async def get_request(request: Request,
                      service_request_id: Annotated[str, Path(max_length=64)],
                      format: Format,
                      jurisdiction_id: Jurisdiction = None,
                      who: Principal = Depends(reader), eng: Engine = Depends(engine)):
    personal = who.personal_view == "full"

    def run():
        with eng.connect() as conn:
            county = o311.jurisdiction(conn, jurisdiction_id)
            return o311.find(conn, ids=[service_request_id], county=county,
                             personal=personal, limit=1)

    rows = await run_in_threadpool(run)
    if not rows:
        raise NotFound(f"service_request_id {service_request_id!r} not found")
    return reply(format, "service_requests",
                 [o311.as_request(rows[0], str(request.base_url), personal=personal)])


@router.get("/v2/tokens/{token}.{format}", summary="The service request a token stands for",
            response_class=Response, responses=_docs(_array(TOKEN), 400, 403, 404))
async def get_token(request: Request, token: Annotated[str, Path(max_length=200)],
                    format: Format,
                    jurisdiction_id: Jurisdiction = None,
                    who: Principal = Depends(reader), eng: Engine = Depends(engine)):
    secret_key = secret(request.app)

    def run():
        with eng.connect() as conn:
            o311.jurisdiction(conn, jurisdiction_id)
            return o311.resolve_token(conn, token, secret_key)

    return reply(format, "service_requests", [await run_in_threadpool(run)])


METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.api_route("/{rest:path}", methods=METHODS, include_in_schema=False)
async def elsewhere(request: Request, rest: str):
    """Anything else under /open311: 405 (with Allow) or 404, in the standard's form."""
    path = request.url.path
    allowed = sorted({m for r in router.routes if isinstance(r, APIRoute)
                      and r.endpoint is not elsewhere and r.path_regex.match(path)
                      for m in r.methods})
    if allowed:
        raise StarletteHTTPException(405, f"{request.method} is not allowed here; "
                                          f"use {', '.join(allowed)}",
                                     headers={"Allow": ", ".join(allowed)})
    raise NotFound(f"no Open311 resource at {path}: see /open311/v2/discovery.json")
