"""Alembic environment: online migrations against the URL the caller configured."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool

from gridgov.db import schema_ops  # triggers and SQL functions for autogenerate
from gridgov.db.tables import metadata
from gridgov.settings import DatabaseSettings

config = context.config
url = config.get_main_option("sqlalchemy.url") or DatabaseSettings().database_url


def render_item(type_, obj, autogen_context):
    # geometry columns render as geoalchemy2.types.Geometry(...) with the import they need
    return alembic_helpers.render_item(type_, obj, autogen_context)


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            include_object=schema_ops.include_object,
            render_item=render_item,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("gridgov migrations run online only: set GRIDGOV_DATABASE_URL")
run_migrations_online()
