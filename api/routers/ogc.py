"""OGC API - Features: Part 1 core (GeoJSON, HTML, OpenAPI) and Part 3 filtering (CQL2 text)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from .. import html
from ..deps import ItemsQuery, features, settings, wants_html
from gridgov.errors import InvalidParameter
from gridgov.features import FeatureService

from ..responses import GEOJSON_OR_HTML, JSON_OR_HTML, media
from ..settings import ServiceSettings
from ..routing import RetryReads

router = APIRouter(tags=["OGC API - Features"], route_class=RetryReads)

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
]
GEOJSON = "application/geo+json"


def base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def respond(request: Request, f: str | None, body: dict, title: str, html_body: str,
            media_type: str = "application/json") -> Response:
    if wants_html(request, f):
        return HTMLResponse(html.page(title, html_body))
    return Response(json.dumps(body, ensure_ascii=False, default=str), media_type=media_type)


@router.get("/", summary="Landing page", responses=JSON_OR_HTML)
def landing(request: Request, f: str | None = None, s: ServiceSettings = Depends(settings)):
    b = base(request)
    links = [
        {"rel": "self", "type": "application/json", "title": "本页 · this document", "href": f"{b}/"},
        {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0",
         "title": "OpenAPI", "href": f"{b}/api"},
        {"rel": "service-doc", "type": "text/html", "title": "API 文档 · docs", "href": f"{b}/docs"},
        {"rel": "conformance", "type": "application/json", "title": "Conformance",
         "href": f"{b}/conformance"},
        {"rel": "data", "type": "application/json", "title": "图层 · collections",
         "href": f"{b}/collections"},
        {"rel": "alternate", "type": "text/html", "title": "指挥中心总览图 · command-center map",
         "href": f"{b}/maps/overview"},
        {"rel": "alternate", "type": "text/html", "title": "问题小区图 · gaps map for planners",
         "href": f"{b}/maps/gaps"},
        {"rel": "alternate", "type": "text/html", "title": "阵地可达性图 · practice-site access",
         "href": f"{b}/maps/access"},
    ]
    body = {"title": s.title,
            "description": "中阳县机关党组织包联城区小区与新时代文明实践阵地 · grid-responsibility "
                           "layers and analyses", "links": links}
    return respond(request, f, body, body["title"], html.links(links))


@router.get("/conformance", summary="Conformance classes", responses=JSON_OR_HTML)
def conformance(request: Request, f: str | None = None):
    body = {"conformsTo": CONFORMANCE}
    return respond(request, f, body, "Conformance",
                   "<ul>" + "".join(f"<li>{c}</li>" for c in CONFORMANCE) + "</ul>")


def _collection_doc(svc: FeatureService, cid: str, b: str) -> dict:
    c = svc.collection(cid)
    return {
        "id": c.id, "title": c.title, "description": c.description, "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "storageCrs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        "extent": {"spatial": {"bbox": [svc.extent(c) or [-180, -90, 180, 90]],
                               "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{b}/collections/{c.id}"},
            {"rel": "items", "type": GEOJSON, "href": f"{b}/collections/{c.id}/items"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
             "type": "application/schema+json", "href": f"{b}/collections/{c.id}/queryables"},
        ],
    }


@router.get("/collections", summary="The layers and analysis results", responses=JSON_OR_HTML)
def collections(request: Request, f: str | None = None,
                svc: FeatureService = Depends(features)):
    b = base(request)
    docs = [_collection_doc(svc, cid, b) for cid in svc.collections]
    body = {"collections": docs, "links": [{"rel": "self", "type": "application/json",
                                            "href": f"{b}/collections"}]}
    return respond(request, f, body, "图层 · Collections", html.links(
        [{"rel": "items", "title": d["title"], "href": f"{b}/collections/{d['id']}/items?f=html"}
         for d in docs]))


@router.get("/collections/{collection_id}", summary="One collection", responses=JSON_OR_HTML)
def collection(collection_id: str, request: Request, f: str | None = None,
               svc: FeatureService = Depends(features)):
    doc = _collection_doc(svc, collection_id, base(request))
    return respond(request, f, doc, doc["title"], html.links(doc["links"]))


@router.get("/collections/{collection_id}/queryables", summary="Properties usable in filters",
            responses=media("application/schema+json"))
async def queryables(collection_id: str, request: Request,
                     svc: FeatureService = Depends(features)):
    coll = svc.collection(collection_id)
    props = await run_in_threadpool(svc.properties_of, coll)
    schema = {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{base(request)}/collections/{collection_id}/queryables",
        "type": "object", "title": coll.title,
        "properties": {"geometry": {"$ref": "https://geojson.org/schema/Geometry.json"},
                       **{n: {"type": t} for n, t in props.items()}},
        "additionalProperties": False,
    }
    return JSONResponse(schema, media_type="application/schema+json")


def _page_links(request: Request, cid: str, q: ItemsQuery, returned: int, matched: int) -> list:
    b = base(request)
    params = dict(request.query_params)
    out = [{"rel": "self", "type": GEOJSON, "href": str(request.url)},
           {"rel": "collection", "type": "application/json", "href": f"{b}/collections/{cid}"}]

    def href(offset: int) -> str:
        from urllib.parse import urlencode

        return f"{b}/collections/{cid}/items?" + urlencode({**params, "offset": offset})

    if q.offset + returned < matched:
        out.append({"rel": "next", "type": GEOJSON, "href": href(q.offset + q.limit)})
    if q.offset > 0:
        out.append({"rel": "prev", "type": GEOJSON, "href": href(max(0, q.offset - q.limit))})
    return out


@router.get("/collections/{collection_id}/items", summary="Features, filtered and paged",
            responses=GEOJSON_OR_HTML)
async def items(collection_id: str, q: ItemsQuery = Depends(),
                svc: FeatureService = Depends(features)):
    if q.filter_crs not in (None, "", "http://www.opengis.net/def/crs/OGC/1.3/CRS84"):
        raise InvalidParameter("filter-crs", "only CRS84 is supported")
    page = await run_in_threadpool(
        svc.items, collection_id, bbox=q.bbox, limit=q.limit, offset=q.offset,
        properties=q.properties, sortby=q.sortby, filter=q.filter, filter_lang=q.filter_lang)
    links = _page_links(q.request, collection_id, q, page.returned, page.matched)
    if wants_html(q.request, q.f):
        return HTMLResponse(html.page(svc.collection(collection_id).title, html.links(links)
                                      + html.features_table(page.as_dict())))
    return Response(page.to_json(links), media_type=GEOJSON)


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature",
            responses=GEOJSON_OR_HTML)
async def item(collection_id: str, feature_id: str, request: Request, f: str | None = None,
               svc: FeatureService = Depends(features)):
    feature = await run_in_threadpool(svc.item, collection_id, feature_id)
    b = base(request)
    feature["links"] = [
        {"rel": "self", "type": GEOJSON, "href": f"{b}/collections/{collection_id}/items/{feature_id}"},
        {"rel": "collection", "type": "application/json", "href": f"{b}/collections/{collection_id}"}]
    return respond(request, f, feature, str(feature_id),
                   html.features_table({"features": [feature]}), media_type=GEOJSON)


