"""Health: is the store answering?"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

router = APIRouter(tags=["Operations"])


@router.get("/healthz", summary="Service and database health")
async def healthz(request: Request):
    def check():
        with request.app.state.engine.connect() as conn:
            return conn.execute(text("SELECT postgis_lib_version()")).scalar()

    try:
        version = await run_in_threadpool(check)
    except Exception as exc:  # any failure to reach the store is "unavailable", said plainly
        return JSONResponse({"status": "unavailable", "database": "down",
                             "detail": str(exc).splitlines()[0][:200]}, status_code=503)
    return {"status": "ok", "database": "up", "postgis": version}
