"""Alembic environment: online migrations against the URL the caller configured."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from gridgov.db.tables import metadata
from gridgov.settings import DatabaseSettings

config = context.config
url = config.get_main_option("sqlalchemy.url") or DatabaseSettings().database_url


def include_object(obj, name, type_, reflected, compare_to):
    # PostGIS and its extensions own tables (spatial_ref_sys, topology, ...) we do not model.
    if type_ == "table" and reflected and compare_to is None:
        return False
    return True


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            include_object=include_object,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("gridgov migrations run online only: set GRIDGOV_DATABASE_URL")
run_migrations_online()
