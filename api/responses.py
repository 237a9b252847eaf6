"""Documented responses, so the OpenAPI document says every status and media type we send."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorBody(BaseModel):
    code: str
    description: str
    current: dict | None = None


def _err(text: str) -> dict:
    return {"model": ErrorBody, "description": text}


ERRORS = {
    400: _err("The request cannot be answered as asked (the description says why)"),
    401: _err("Sign in, or the credentials are wrong"),
    403: _err("The role may not do this"),
    404: _err("No such collection, feature, record or page"),
    413: _err("Request body too large"),
    422: _err("Input refused by validation (nothing was written)"),
    503: _err("The database is not answering; try again shortly"),
}
LIMITED = {429: {**_err("Too many requests from this address, key or account; wait for "
                        "Retry-After seconds"),
                  "headers": {"Retry-After": {"description": "seconds to wait",
                                              "schema": {"type": "integer"}}}}}
EDIT_ERRORS = {412: _err("The record changed since it was read; the current state is included"),
               428: _err("If-Match (the version read) is required")}


def media(*types: str, status: int = 200, description: str = "OK") -> dict:
    return {status: {"description": description, "content": {t: {} for t in types}}}


JSON_OR_HTML = media("application/json", "text/html")
GEOJSON_OR_HTML = media("application/geo+json", "text/html")
TABLES = media("application/json", "application/geo+json", "text/csv",
               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
HTML = media("text/html")
MVT = {**media("application/vnd.mapbox-vector-tile"),
       304: {"description": "Not modified (ETag matched)"}}
