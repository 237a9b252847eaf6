"""Health: is the store answering?"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from gridgov.db.engine import health

from ..deps import engine

from ..routing import RetryReads, retry_stale

router = APIRouter(tags=["Operations"], route_class=RetryReads)


@router.get("/healthz", summary="Service and database health")
async def healthz(eng: Engine = Depends(engine)):
    try:
        version = await run_in_threadpool(retry_stale, lambda: health(eng))
    except Exception as exc:  # any failure to reach the store is "unavailable", said plainly
        return JSONResponse({"status": "unavailable", "database": "down",
                             "detail": str(exc).splitlines()[0][:200]}, status_code=503)
    return {"status": "ok", "database": "up", "postgis": version}
