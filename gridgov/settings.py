"""Settings, one small class per concern, read from the environment (prefix ``GRIDGOV_``).

Nothing is built at import time: construct the class where the value is needed, so tests and
notebooks can point at another database by setting the variable.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gridgov.errors import ConfigError

DEFAULT_DATABASE_URL = "postgresql+psycopg2://gridgov:gridgov@localhost:5432/gridgov"


def normalize_database_url(url: str, setting: str = "GRIDGOV_DATABASE_URL") -> str:
    """``url`` with the project's driver, psycopg2: SQLAlchemy maps a plain ``postgresql://``
    to psycopg 3, which is not installed, and no longer knows ``postgres://`` at all.

    Raises :class:`ConfigError` naming ``setting`` for anything that is not a PostgreSQL URL.
    """
    try:
        parsed = make_url(url)
        problem = None
        if parsed.get_backend_name() not in ("postgresql", "postgres"):
            problem = "is not a PostgreSQL URL"
        elif parsed.drivername not in ("postgresql", "postgres", "postgresql+psycopg2"):
            problem = f"names the driver {parsed.get_driver_name()}, but gridgov uses psycopg2"
        if parsed.port is not None and not 0 < parsed.port < 65536:
            problem = "has a port outside 1-65535"
    except ArgumentError:
        problem = "is not a URL"
    except ValueError:  # make_url turns the port into an int
        problem = "has a port that is not a number"
    if problem:
        # the message goes to logs and terminals: never the password
        shown = re.sub(r"(://[^:/@]*:)[^/]*@", r"\1***@", url)
        raise ConfigError(f"{setting}: {shown!r} {problem}; expected "
                          "postgresql://user:password@host:port/database")
    return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


class DatabaseSettings(BaseSettings):
    """Where the PostGIS store lives. ``GRIDGOV_DATABASE_URL`` overrides the local default."""

    model_config = SettingsConfigDict(env_prefix="GRIDGOV_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    pool_size: int = Field(default=5, ge=1)
    pool_timeout_s: float = Field(default=5.0, gt=0)
    # Off: a ping costs a round trip on every checkout. A connection the server dropped fails
    # its request once (503), and SQLAlchemy then replaces the whole pool.
    pool_pre_ping: bool = False
    statement_timeout_ms: int = Field(default=60_000, ge=0)

    # ConfigError is no ValueError, so pydantic lets it through unwrapped: one line, no password
    @field_validator("database_url")
    @classmethod
    def _normalize(cls, url: str) -> str:
        return normalize_database_url(url)


class ImportSettings(BaseSettings):
    """Limits that keep a bad or hostile file from exhausting the machine."""

    model_config = SettingsConfigDict(env_prefix="GRIDGOV_IMPORT_", extra="ignore")

    max_file_mb: float = Field(default=256, gt=0)
    max_rows: int = Field(default=2_000_000, gt=0)
    # Features may sit this far outside the county outline (metres): outlines are generalised and
    # survey points on the border are legitimate.
    county_tolerance_m: float = Field(default=500, ge=0)
    # Grid cells must tile their community; slivers below this area (m²) are rounding noise.
    tiling_tolerance_m2: float = Field(default=1.0, ge=0)




class AnalysisSettings(BaseSettings):
    """Thresholds of the coverage, access and gap rules (``GRIDGOV_ANALYSIS_*``).

    Defaults: Zhongyang's seat has ≈12 households per sunk member on average; a compound with more
    than twice that per member, or fewer than 5 members, is under-covered. An office farther than
    1.5 km (a 20-minute walk) from its compound makes regular visits unlikely. More than 3
    organizations on one compound blurs who answers for it.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDGOV_ANALYSIS_", extra="ignore")

    max_households_per_member: float = Field(default=25.0, gt=0)
    min_members: float = Field(default=5.0, ge=0)
    far_m: float = Field(default=1500.0, gt=0)
    max_orgs: int = Field(default=3, ge=1)
    # Straight-line distance × detour factor ≈ walking distance without a road layer; published
    # circuity for city walking is about 1.2 to 1.4.
    detour_factor: float = Field(default=1.3, ge=1.0)
    # A place or site farther than this from the road layer is not joined to it (detour instead).
    snap_m: float = Field(default=250.0, gt=0)
    # GB 50180-2018 life circles (walking distance, metres): 5, 10 and 15 minutes.
    circle_5_m: float = 300.0
    circle_10_m: float = 500.0
    circle_15_m: float = 1000.0
    # The circle a practice site must reach for a compound not to count as an access gap, and the
    # one new sites are placed to serve. Stations are community-level facilities, which
    # GB 50180-2018 puts in the 5- to 10-minute circles.
    access_target: Literal["5min", "10min", "15min"] = "10min"

    @property
    def access_target_m(self) -> float:
        return {"5min": self.circle_5_m, "10min": self.circle_10_m,
                "15min": self.circle_15_m}[self.access_target]

