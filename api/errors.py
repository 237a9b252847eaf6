"""One table from domain exceptions to HTTP statuses; every error body says what is wrong."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from sqlalchemy import exc as sa_exc

from gridgov.auth import AuthError, Forbidden
from gridgov.errors import (BadRequest, Conflict, GridgovError, InputError, NotFound,
                            PreconditionRequired, StoreUnavailable)

log = logging.getLogger("gridgov.api")

STATUS = [
    (AuthError, 401, "Unauthorized"),
    (Forbidden, 403, "Forbidden"),
    (Conflict, 412, "PreconditionFailed"),
    (PreconditionRequired, 428, "PreconditionRequired"),
    (NotFound, 404, "NotFound"),
    (BadRequest, 400, "InvalidParameterValue"),
    (InputError, 422, "InvalidInput"),
    (StoreUnavailable, 503, "StoreUnavailable"),
    (GridgovError, 400, "BadRequest"),
]


def _body(code: str, description: str, status: int) -> JSONResponse:
    return JSONResponse({"code": code, "description": description}, status_code=status)


def install(app: FastAPI) -> None:
    async def domain(request: Request, exc: GridgovError):
        for kind, status, code in STATUS:
            if isinstance(exc, kind):
                response = _body(code, str(exc), status)
                if isinstance(exc, Conflict):
                    # the current state, so the client can redo its change on top of it
                    response = JSONResponse({"code": code, "description": str(exc),
                                             "current": exc.current}, status_code=status,
                                            headers={"ETag": f'"v{exc.current["version"]}"'})
                if isinstance(exc, AuthError):
                    response.headers["WWW-Authenticate"] = "Bearer"
                return response
        return _body("BadRequest", str(exc), 400)

    async def store_down(request: Request, exc: sa_exc.OperationalError):
        # the database restarted or is unreachable: say so quickly, the pool recovers by itself
        orig = getattr(exc, "orig", None)
        log.warning("store unavailable: %s", str(orig or exc).splitlines()[0])
        return _body("StoreUnavailable", "the PostGIS store is not answering; try again shortly",
                     503)

    async def invalid(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "path", "body"))
            parts.append(f"{where}: {e.get('msg')}")
        return _body("InvalidParameterValue", "; ".join(parts) or "invalid request", 400)

    async def http_error(request: Request, exc: StarletteHTTPException):
        # the framework's own errors (unparseable body, unknown route, wrong method) in our shape
        codes = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed",
                 413: "PayloadTooLarge"}
        response = _body(codes.get(exc.status_code, "HTTPError"), str(exc.detail), exc.status_code)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    async def value_error(request: Request, exc: ValueError):
        # PostgreSQL text cannot hold NUL; the driver says so with a ValueError when binding
        if "NUL" in str(exc):
            return _body("BadRequest", "NUL characters are not allowed in values", 400)
        raise exc

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(ValueError, value_error)
    app.add_exception_handler(GridgovError, domain)
    app.add_exception_handler(sa_exc.OperationalError, store_down)
    app.add_exception_handler(sa_exc.InterfaceError, store_down)
    app.add_exception_handler(sa_exc.TimeoutError, store_down)  # no pooled connection in time
    app.add_exception_handler(RequestValidationError, invalid)
