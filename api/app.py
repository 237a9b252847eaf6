"""The FastAPI application: a factory, a lifespan that owns the database pool, thin routers.

Run it with ``gridgov serve`` (or ``uvicorn gridgov_api.app:create_app --factory``).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Response
from fastapi.staticfiles import StaticFiles

from gridgov.db import make_engine
from gridgov.features import FeatureService
from gridgov.maps.pages import STATIC
from gridgov.settings import DatabaseSettings
from gridgov.tiles import TileService

from . import errors, openapi
from .limits import BodyLimit
from .ratelimit import Limits
from .responses import EDIT_ERRORS, ERRORS
from .routers import accounts, analysis, cases, edits, health, maps, ogc, pages, tiles
from .routers import open311, supervision
from .routers import checkins
from .security import require
from .settings import ServiceSettings

log = logging.getLogger("gridgov.api")


def create_app(settings: ServiceSettings | None = None,
               database: DatabaseSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()
    database = database or DatabaseSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = make_engine(database.database_url, database)
        app.state.engine = engine
        app.state.features = FeatureService(engine)
        app.state.tiles = TileService(engine, app.state.features.version_tag)
        log.info("gridgov service up: %s", engine.url.render_as_string(hide_password=True))
        yield
        engine.dispose()

    app = FastAPI(title=settings.title, version="0.1.0", lifespan=lifespan,
                  openapi_url="/api", docs_url="/docs", redoc_url=None,
                  description="中阳县网格包联: OGC API - Features, vector tiles, analyses, maps")
    app.state.settings = settings
    app.state.limits = Limits(settings)
    errors.install(app)
    openapi.install(app)
    # Reading needs the viewer role (anonymous users have it while the settings allow);
    # routers raise the bar where they write or show personal data.
    viewer = [Depends(require("viewer"))]
    for router in (ogc.router, tiles.router, analysis.router, maps.router):
        app.include_router(router, dependencies=viewer, responses=ERRORS)
    app.include_router(accounts.router, responses=ERRORS)
    app.include_router(edits.router, responses={**ERRORS, **EDIT_ERRORS})
    app.include_router(cases.router, dependencies=viewer, responses=ERRORS)
    # accounts, demands, flags, key tasks, scorecard: writes checked by role in gridgov.activity
    app.include_router(supervision.router, dependencies=viewer, responses=ERRORS)
    # the case pages are HTML shells without data (their scripts call the API as the user)
    app.include_router(pages.router, responses=ERRORS)
    app.include_router(open311.router)  # GeoReport v2: its own errors (array form)
    # check-ins: each route states who may call it (members, planners, everyone for counts)
    app.include_router(checkins.router, responses=ERRORS)
    app.include_router(health.router, responses={503: ERRORS[503]})
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                       upload_bytes=settings.max_upload_bytes,
                       upload_prefixes=("/cases", "/open311", "/checkins"))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():  # browsers ask for it; answer without a 404 in every console
        return Response(status_code=204)
    return app
