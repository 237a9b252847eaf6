"""Settings, one small class per concern, read from the environment (prefix ``GRIDGOV_``).

Nothing is built at import time: ask for the settings where the value is needed
(``current(CaseSettings)``), so tests and notebooks can point at another database by setting
the variable.

Example:
    >>> current(CaseSettings) is current(CaseSettings)
    True
"""

from __future__ import annotations

import os
import re
from typing import Literal, TypeVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gridgov.cache import Memo
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
    # Cases in the gaps ranking: a compound with open cases past their deadline, or more than
    # this many cases per 100 households over the window, needs attention.
    case_window_days: int = Field(default=90, ge=1)
    hotspot_per_100_households: float = Field(default=10.0, gt=0)

    @property
    def access_target_m(self) -> float:
        return {"5min": self.circle_5_m, "10min": self.circle_10_m,
                "15min": self.circle_15_m}[self.access_target]


def _default_media_dir() -> str:
    # The user's data folder (XDG), not ./media: the service, the CLI and a cron `gridgov backup`
    # start in different working directories but run as the same user, and must all find the
    # same photos. A system service under its own user sets GRIDGOV_MEDIA_DIR (/var/lib/...).
    import os
    from pathlib import Path

    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return str(Path(base) / "gridgov" / "media")


class MediaSettings(BaseSettings):
    """Where case photos are stored and how large they may be (``GRIDGOV_MEDIA_*``).

    ``GRIDGOV_MEDIA_DIR`` defaults to ``$XDG_DATA_HOME/gridgov/media`` (``~/.local/share/...``).
    10 MB holds any phone photo (a 50-megapixel JPEG is ≈8 MB); 40 megapixels is above every
    phone camera's default output and keeps a decoded image under ≈160 MB of memory.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDGOV_MEDIA_", extra="ignore")

    # a str (``~`` allowed), so this block needs no imports of its own; gridgov.media makes it a
    # Path
    dir: str = Field(default_factory=_default_media_dir)
    max_mb: float = Field(default=10, gt=0)
    max_megapixels: float = Field(default=40, gt=0)

    @field_validator("dir", mode="before")
    @classmethod
    def _fspath(cls, value: object) -> object:
        # tests and callers pass a pathlib.Path; pydantic's str would refuse it
        return str(value) if hasattr(value, "__fspath__") else value


class CalendarSettings(BaseSettings):
    """The working-time calendar of all deadlines (``GRIDGOV_CALENDAR_*``, gridgov.calendar).

    ``GRIDGOV_CALENDAR_OVERRIDES``: a CSV file ``date,kind,note`` (kind ``workday`` or
    ``holiday``) of local days that win over China's official calendar: a county's own day off,
    or a year the chinese-calendar package does not know yet. ``GRIDGOV_CALENDAR_WORKING_HOURS``:
    office hours in Asia/Shanghai time as a JSON list, e.g. ``["08:30-12:00","14:30-18:00"]``
    (the default, Shanxi government offices).
    """

    model_config = SettingsConfigDict(env_prefix="GRIDGOV_CALENDAR_", extra="ignore")

    # a str path, so this block needs no imports of its own; empty means none
    overrides: str | None = None
    working_hours: list[str] = Field(default_factory=lambda: ["08:30-12:00", "14:30-18:00"])

    @field_validator("overrides", mode="before")
    @classmethod
    def _path(cls, value: object) -> object:
        if hasattr(value, "__fspath__"):
            return str(value)
        return value or None  # an empty variable (GRIDGOV_CALENDAR_OVERRIDES=) names no file

    @field_validator("working_hours")
    @classmethod
    def _periods(cls, value: list[str]) -> list[str]:
        # imported here: gridgov.calendar imports this module
        from gridgov.calendar import parse_working_hours

        try:
            parse_working_hours(value)
        except ValueError as exc:  # ConfigError passes pydantic unwrapped: one line
            raise ConfigError(f"GRIDGOV_CALENDAR_WORKING_HOURS: {exc}") from None
        return value


class CaseSettings(BaseSettings):
    """Cases: stage limits, duplicates, routing (``GRIDGOV_CASES_*``).

    A category sets the handling limit; the other stages share these. Taiyuan files and
    dispatches within 30 minutes and a whistle (吹哨) pilot wanted departments on site within
    30; a unit signs within 2 working hours; the center checks the work within a working day.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDGOV_CASES_", extra="ignore")

    dispatch_hours: float = Field(default=0.5, gt=0)  # working hours from intake to dispatch
    sign_hours: float = Field(default=2.0, gt=0)  # working hours from dispatch to signing
    whistle_sign_minutes: float = Field(default=30.0, gt=0)  # urgent: a department on a whistle
    check_days: float = Field(default=1.0, gt=0)  # working days from feedback to the check
    warning_fraction: float = Field(default=0.8, gt=0, lt=1)  # of a limit: the warning
    reopen_days: float = Field(default=7.0, ge=0)  # natural days a reporter may reopen
    duplicate_m: float = Field(default=50.0, ge=0)
    duplicate_days: float = Field(default=7.0, ge=0)
    boundary_m: float = Field(default=20.0, ge=0)  # closer to a boundary: flagged
    min_due_to_rank: int = Field(default=5, ge=1)  # units with fewer due cases are not ranked


class NotifySettings(BaseSettings):
    """Notifications through the job queue (``GRIDGOV_NOTIFY_*``, gridgov.jobs).

    ``GRIDGOV_NOTIFY_WEBHOOKS``: a JSON object from who is told to where. Keys: a unit's code
    (an organization, community/village or township), ``"*"`` (every unit without its own entry),
    ``"center"`` (the command center: overdue notices), ``"reporter:ACCOUNT"`` (one reporter's
    follow channel) and ``"reporter"`` (every reporter with an account: a gateway that maps the
    account to a WeChat user or phone). Values: a webhook URL, or an object
    ``{"url": ..., "secret": ...}``, or ``{"channel": "sms" | "wechat", ...}`` for a gateway.
    Webhooks are signed with HMAC-SHA256 (their own ``secret``, else ``GRIDGOV_NOTIFY_SECRET``).
    A delivery is tried ``attempts`` times in all, ``backoff_s`` × ``backoff_factor``^n apart
    (at most ``backoff_max_s``); then it is a dead letter (``gridgov jobs dead``).
    """

    model_config = SettingsConfigDict(env_prefix="GRIDGOV_NOTIFY_", extra="ignore")

    webhooks: dict[str, str | dict] = Field(default_factory=dict)
    secret: str = ""
    timeout_s: float = Field(default=10.0, gt=0)
    attempts: int = Field(default=6, ge=1)  # deliveries tried in all, the first included
    backoff_s: float = Field(default=30.0, ge=0)
    backoff_factor: float = Field(default=2.0, ge=1)
    backoff_max_s: float = Field(default=3600.0, ge=0)
    # the sweep notices deadlines crossed this long ago at most (a worker down for longer
    # does not flood units with stale warnings when it comes back)
    lookback_hours: float = Field(default=24.0, gt=0)
    concurrency: int = Field(default=4, ge=1)  # deliveries a worker makes at once

    @field_validator("webhooks")
    @classmethod
    def _subscriptions(cls, value: dict) -> dict:
        for key, target in value.items():
            url = target if isinstance(target, str) else target.get("url")
            kind = "webhook" if isinstance(target, str) else target.get("channel", "webhook")
            if kind == "webhook" and not (isinstance(url, str)
                                          and re.match(r"https?://[^/\s]+", url)):
                raise ConfigError(f"GRIDGOV_NOTIFY_WEBHOOKS[{key!r}]: {target!r} is not an "
                                  "http(s) URL nor an object with one under \"url\"")
            if kind not in ("webhook", "sms", "wechat"):
                raise ConfigError(f"GRIDGOV_NOTIFY_WEBHOOKS[{key!r}]: channel {kind!r} is not "
                                  "webhook, sms or wechat")
        return value


class ActivitySettings(BaseSettings):
    """Check-ins, hours, verified coverage, accounts and the scorecard (``GRIDGOV_ACTIVITY_*``).

    A check-in counts inside the compound's outline plus ``fence_m`` and after ``min_minutes``;
    it is flagged for a planner (not dropped) when the phone's accuracy is worse than
    ``max_accuracy_m``, the client reports a mocked position, or the member would have moved
    faster than ``max_speed_kmh`` since the previous check-in. A compound is covered in fact
    with ``min_visit_days`` days of verified visits in the period. Positions older than
    ``retention_days`` are reduced to the compound and the day.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDGOV_ACTIVITY_", extra="ignore")

    fence_m: float = Field(default=100.0, ge=0)
    min_minutes: float = Field(default=5.0, ge=0)
    max_accuracy_m: float = Field(default=100.0, gt=0)
    max_speed_kmh: float = Field(default=120.0, gt=0)
    min_visit_days: int = Field(default=2, ge=1)
    manual_hours_cap: float = Field(default=8.0, gt=0)  # per member per day, added by hand
    retention_days: int = Field(default=365, ge=1)
    account_due_working_days: float = Field(default=5.0, gt=0)  # into the next month
    # scorecard weights (they need not add up to 1: the score is their weighted mean)
    weight_visits: float = Field(default=0.4, ge=0)
    weight_accounts: float = Field(default=0.2, ge=0)
    weight_demands: float = Field(default=0.2, ge=0)
    weight_cases: float = Field(default=0.2, ge=0)


S = TypeVar("S", bound=BaseSettings)
_CURRENT = Memo(maxsize=64)


def current(cls: type[S]) -> S:
    """``cls()`` as the environment stands now, built once per distinct value of its variables.

    Building settings reads and validates every variable (~2.5 ms for CaseSettings), which each
    request paid when every call built its own. Keyed by the variables of the class's prefix,
    a changed variable still takes effect at the next call. Treat the result as read-only: it
    is shared."""
    prefix = cls.model_config.get("env_prefix", "").upper()
    env = tuple(sorted((k.upper(), v) for k, v in os.environ.items()
                       if k.upper().startswith(prefix)))
    return _CURRENT.get((cls, env), cls)
