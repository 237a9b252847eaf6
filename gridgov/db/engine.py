"""Engines for the PostGIS store."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine, text

from gridgov.errors import StoreUnavailable
from gridgov.settings import DatabaseSettings, normalize_database_url, current


def make_engine(url: str | None = None, settings: DatabaseSettings | None = None) -> Engine:
    """A new engine for ``url`` (default: ``GRIDGOV_DATABASE_URL``)."""
    settings = settings or current(DatabaseSettings)
    url = normalize_database_url(url, "url") if url else settings.database_url
    # JIT off: the analysis queries are short, and their cost estimates (set-returning functions,
    # geography distances) look big enough to trigger ~0.5 s of LLVM compilation for ~0.3 s of work.
    options = ["-c jit=off"]
    if settings.statement_timeout_ms:
        options.append(f"-c statement_timeout={settings.statement_timeout_ms}")
    connect_args = {"connect_timeout": 5, "options": " ".join(options),
                    # a dead peer is noticed in seconds, not after the kernel's two hours
                    "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
                    "keepalives_count": 2}
    return create_engine(
        url,
        pool_size=settings.pool_size,
        # a request waits at most this long for a connection: during an outage the service
        # answers 503 at once instead of queueing callers behind dead connections
        pool_timeout=settings.pool_timeout_s,
        pool_pre_ping=settings.pool_pre_ping,
        connect_args=connect_args,
    )


@lru_cache(maxsize=8)
def _cached_engine(url: str) -> Engine:
    return make_engine(url)


def connect_engine(url: str | None = None) -> Engine:
    """A shared engine for ``url``, checked to answer (raises :class:`StoreUnavailable`)."""
    url = url or current(DatabaseSettings).database_url
    engine = _cached_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # psycopg2 raises several types; all mean "not reachable".
        raise StoreUnavailable(
            f"cannot reach the PostGIS store at {engine.url.render_as_string(hide_password=True)}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}. "
            "Start it with scripts/up, or set GRIDGOV_DATABASE_URL."
        ) from exc
    return engine


def health(engine: Engine) -> str:
    """The PostGIS version, if the store answers; raises the driver's error if not."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT postgis_lib_version()")).scalar()
