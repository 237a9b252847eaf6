"""The PostGIS store: table definitions, engine, and Alembic migrations."""

from gridgov.db.engine import connect_engine, make_engine
from gridgov.db.tables import metadata

__all__ = ["connect_engine", "make_engine", "metadata"]
