"""Named SQL files (gridgov/sql/*.sql) and running them on an engine or an open connection."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from functools import lru_cache
from importlib.resources import files

from sqlalchemy import Connection, Engine, TextClause, text


@lru_cache(maxsize=None)
def sql(name: str) -> TextClause:
    return text(files("gridgov").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8"))


@contextmanager
def connection(bind: Engine | Connection):
    """Use an open connection as is (e.g. inside a scenario's transaction), or open one."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


def scope(as_of: dt.date | None, counties: list[str] | None) -> dict:
    return {"as_of": as_of or dt.date.today(), "counties": list(counties or []),
            "all_counties": not counties}
