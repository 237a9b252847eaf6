"""One table from exceptions to HTTP statuses (as tipg's errors.py); every body says what is
wrong in the same shape: ``{"code": ..., "description": ...}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridgov.auth import AuthError, Forbidden
from gridgov.errors import (Conflict, GridgovError, InputError, NotFound, PreconditionRequired,
                            QueryError, StateConflict, StoreUnavailable)

from .ratelimit import TooManyRequests

log = logging.getLogger("gridgov.api")

# exception class -> (status, code); an exception takes the entry of its nearest class
DEFAULT_STATUS_CODES: dict[type[Exception], tuple[int, str]] = {
    GridgovError: (400, "BadRequest"),
    QueryError: (400, "InvalidParameterValue"),
    InputError: (422, "InvalidInput"),
    AuthError: (401, "Unauthorized"),
    Forbidden: (403, "Forbidden"),
    NotFound: (404, "NotFound"),
    StateConflict: (409, "Conflict"),
    Conflict: (412, "PreconditionFailed"),
    PreconditionRequired: (428, "PreconditionRequired"),
    TooManyRequests: (429, "TooManyRequests"),
    StoreUnavailable: (503, "StoreUnavailable"),
    # the database restarted or is unreachable, or no pooled connection came in time: say so
    # quickly; the pool recovers by itself
    sa_exc.OperationalError: (503, "StoreUnavailable"),
    sa_exc.InterfaceError: (503, "StoreUnavailable"),
    sa_exc.TimeoutError: (503, "StoreUnavailable"),
}
# the framework's own errors (unparseable body, unknown route, wrong method) in our shape
HTTP_CODES = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}


def status_of(exc: Exception) -> tuple[int, str]:
    for kind in type(exc).__mro__:
        if kind in DEFAULT_STATUS_CODES:
            return DEFAULT_STATUS_CODES[kind]
    return 500, "InternalServerError"


def _body(code: str, description: str, status: int, headers: dict | None = None,
          **extra) -> JSONResponse:
    return JSONResponse({"code": code, "description": description, **extra},
                        status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    async def domain(request: Request, exc: GridgovError):
        status, code = status_of(exc)
        if isinstance(exc, Conflict):
            # the current state, so the client can redo its change on top of it
            return _body(code, str(exc), status, {"ETag": f'"v{exc.current["version"]}"'},
                         current=exc.current)
        if isinstance(exc, AuthError):
            return _body(code, str(exc), status, {"WWW-Authenticate": "Bearer"})
        if isinstance(exc, TooManyRequests):
            return _body(code, str(exc), status, {"Retry-After": str(exc.retry_after)})
        return _body(code, str(exc), status)

    async def store_down(request: Request, exc: sa_exc.DBAPIError | sa_exc.TimeoutError):
        orig = getattr(exc, "orig", None)
        log.warning("store unavailable: %s", next(iter(str(orig or exc).splitlines()), ""))
        status, code = status_of(exc)
        return _body(code, "the PostGIS store is not answering; try again shortly", status)

    async def invalid(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "path", "body"))
            parts.append(f"{where}: {e.get('msg')}")
        return _body("InvalidParameterValue", "; ".join(parts) or "invalid request", 400)

    async def http_error(request: Request, exc: StarletteHTTPException):
        return _body(HTTP_CODES.get(exc.status_code, "HTTPError"), str(exc.detail),
                     exc.status_code, dict(exc.headers or {}))

    async def value_error(request: Request, exc: ValueError):
        # PostgreSQL text cannot hold NUL; the driver says so with a ValueError when binding
        if "NUL" in str(exc):
            return _body("BadRequest", "NUL characters are not allowed in values", 400)
        raise exc

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(ValueError, value_error)
    app.add_exception_handler(GridgovError, domain)
    for kind in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
        app.add_exception_handler(kind, store_down)
    app.add_exception_handler(RequestValidationError, invalid)
