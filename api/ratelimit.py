"""Token buckets per client address, API key and account: public intake and sign-in are open
doors, so each door lets a steady rate through and answers 429 with Retry-After beyond it.

Buckets live in the process (cachetools, idle ones expire): with several workers each holds its
own, so the effective limit is the setting times the workers, still far below what guessing
passwords or flooding reports needs.
"""

from __future__ import annotations

import math
import threading
import time

import cachetools

from gridgov.errors import GridgovError


class TooManyRequests(GridgovError):
    """Over a rate limit: 429, with the seconds to wait."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


class RateLimiter:
    """``per_minute`` requests per key per minute, in bursts of up to ``burst``."""

    def __init__(self, per_minute: float, burst: float | None = None, what: str = "requests"):
        self.rate = per_minute / 60.0
        self.burst = burst if burst is not None else max(per_minute / 4, 3.0)
        self.what = what
        self._buckets = cachetools.TTLCache(maxsize=100_000, ttl=3600)
        self._lock = threading.Lock()

    def hit(self, key: str, cost: float = 1.0) -> None:
        """Take ``cost`` from ``key``'s bucket, or raise :class:`TooManyRequests`."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < cost:
                self._buckets[key] = (tokens, now)
                wait = (cost - tokens) / self.rate
                raise TooManyRequests(f"too many {self.what}; try again in {math.ceil(wait)} s",
                                      wait)
            self._buckets[key] = (tokens - cost, now)


class Limits:
    """The service's doors and their limits (built once per app from its settings)."""

    def __init__(self, settings):
        self.intake_address = RateLimiter(settings.intake_per_minute_address,
                                          what="reports from this address")
        self.intake_key = RateLimiter(settings.intake_per_minute_key,
                                      what="reports with this key")
        self.signin_account = RateLimiter(settings.signin_per_minute_account,
                                          what="sign-in attempts for this account")
        self.signin_address = RateLimiter(settings.signin_per_minute_address,
                                          what="sign-in attempts from this address")

    def intake(self, address: str, username: str | None) -> None:
        self.intake_address.hit(address)
        if username:
            self.intake_key.hit(username)

    def signin(self, address: str, account: str) -> None:
        # counted before the password is checked: guessing costs attempts, right or wrong
        self.signin_account.hit(account.lower())
        self.signin_address.hit(address)
