"""Service settings (``GRIDGOV_SERVICE_*``), validated at start-up with a clear message."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDGOV_SERVICE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    title: str = "gridgov · 中阳县网格包联"
    # Basemap of the map pages: none works offline and is the default.
    basemap: Literal["none", "osm", "tianditu", "amap"] = "none"
    tianditu_key: str | None = None
    refresh_seconds: int = Field(default=60, ge=5)
    # Read-only access without signing in (maps and aggregates only); False requires a token.
    anonymous: bool = True
    # Signs the OAuth2 tokens. Unset: a random key per process (tokens end with the process);
    # set it when running several workers or to keep sign-ins across restarts.
    secret_key: str | None = Field(default=None, min_length=32)
    token_minutes: int = Field(default=480, ge=1)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    # Longer than clients' idle pools keep connections: a server closing a kept-alive connection
    # just as a client reuses it is the classic source of spurious "connection reset" errors.
    keep_alive_s: int = Field(default=75, ge=1)
    # Photos come with reports: upload routes may carry this much (the media store checks each).
    max_upload_bytes: int = Field(default=25_000_000, ge=1024)
    # Public intake is open to residents: reports per minute per client address and per key
    # (429 with Retry-After beyond), and sign-in attempts per account and per address.
    intake_per_minute_address: float = Field(default=20, gt=0)
    intake_per_minute_key: float = Field(default=600, gt=0)
    signin_per_minute_account: float = Field(default=5, gt=0)
    signin_per_minute_address: float = Field(default=30, gt=0)
