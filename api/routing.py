"""Reads survive a database restart: a GET that drew a pooled connection the server had dropped
runs once more, on a fresh one.

The pool does not ping connections on checkout (a round trip per request; see
``DatabaseSettings.pool_pre_ping``), so after a restart the first request to use a stale
connection fails even though the database answers again. SQLAlchemy then invalidates the whole
pool, so the second attempt gets a new connection. Only reads retry: running a write twice could
apply it twice, and its caller has to see the failure.
"""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("gridgov.api")
T = TypeVar("T")

READS = {"GET", "HEAD"}


def stale(exc: BaseException) -> bool:
    # SQLAlchemy sets the flag exactly when the driver error means the connection is gone
    # (psycopg2: "server closed the connection", "terminating connection", ...); a refused
    # connect during the outage is not stale, and retrying it would only double the wait.
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _first_line(exc: DBAPIError) -> str:
    return next(iter(str(exc.orig).splitlines()), "")


def retry_stale(fn: Callable[[], T]) -> T:
    """``fn()``, once more if it failed on a stale connection (for handlers that catch errors)."""
    try:
        return fn()
    except DBAPIError as exc:
        if not stale(exc):
            raise
        log.warning("retrying on a fresh connection: %s", _first_line(exc))
        return fn()


class RetryReads(APIRoute):
    """Route class for every router: GET and HEAD run once more after a stale connection."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def retrying(request: Request) -> Response:
            try:
                return await handler(request)
            except DBAPIError as exc:
                if request.method not in READS or not stale(exc):
                    raise
                log.warning("retrying %s %s on a fresh connection: %s", request.method,
                            request.url.path, _first_line(exc))
            return await handler(request)

        return retrying
