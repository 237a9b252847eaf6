"""Vector tiles (MVT) and TileJSON, with ETags that change when the data changes."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..deps import tiles
from gridgov.tiles import TILE_LAYERS, TileService

from ..responses import MVT
from ..routing import RetryReads

router = APIRouter(tags=["Vector tiles"], route_class=RetryReads)
MVT_TYPE = "application/vnd.mapbox-vector-tile"


@router.get("/tiles", summary="Tile layers")
def tile_layers(request: Request):
    b = str(request.base_url).rstrip("/")
    return {"layers": [{"id": name, "title": layer.title,
                        "tilejson": f"{b}/tiles/{name}/tilejson.json"}
                       for name, layer in TILE_LAYERS.items()]}


@router.get("/tiles/{layer}/tilejson.json", summary="TileJSON of a layer")
def tilejson(layer: str, request: Request, svc: TileService = Depends(tiles)):
    return JSONResponse(svc.tilejson(layer, str(request.base_url).rstrip("/")))


@router.get("/tiles/{layer}/{z}/{x}/{y}.pbf", summary="One vector tile (Web Mercator)",
            response_class=Response, responses=MVT)
async def tile(request: Request, layer: str, z: int = Path(ge=0, le=24),
               x: int = Path(ge=0), y: int = Path(ge=0),
               crs: Literal["wgs84", "gcj02"] = Query("wgs84", description=(
                   "gcj02: features shifted onto GCJ-02 basemaps such as Amap")),
               svc: TileService = Depends(tiles)):
    known = request.headers.get("if-none-match")

    def answer() -> tuple[bytes | None, str]:
        # one trip to the thread pool for the ETag and the tile (the hand-over cost more
        # than a cached tile): None when the client's copy is current
        etag = svc.etag(layer)
        if known == etag:
            return None, etag
        return svc.tile(layer, z, x, y, etag, crs)

    data, etag = await run_in_threadpool(answer)
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60, must-revalidate"}
    if data is None:
        return Response(status_code=304, headers=headers)
    return Response(content=data, media_type=MVT_TYPE, headers=headers)
