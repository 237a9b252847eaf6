"""Who is asking: API keys (X-API-Key or Bearer gg_...), OAuth2 password-flow JWTs, or anonymous
read-only access when the settings allow it; and role requirements as dependencies."""

from __future__ import annotations

import datetime as dt
import secrets

import jwt
from fastapi import Depends, Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from gridgov import auth
from gridgov.auth import ANONYMOUS, AuthError, Forbidden, Principal

from .deps import engine

ALGORITHM = "HS256"


def secret(app) -> str:
    key = getattr(app.state, "secret_key", None)
    if key is None:
        key = app.state.secret_key = app.state.settings.secret_key or secrets.token_urlsafe(48)
    return key


def issue_token(app, principal: Principal) -> str:
    now = dt.datetime.now(dt.timezone.utc)
    claims = {"sub": principal.username, "role": principal.role, "iat": now,
              "exp": now + dt.timedelta(minutes=app.state.settings.token_minutes)}
    return jwt.encode(claims, secret(app), algorithm=ALGORITHM)


async def principal(request: Request, eng: Engine = Depends(engine)) -> Principal:
    key = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization", "")
    if not key and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
        if token.startswith("gg_"):
            key = token
        else:
            try:
                claims = jwt.decode(token, secret(request.app), algorithms=[ALGORITHM])
            except jwt.PyJWTError as exc:
                raise AuthError(f"invalid token: {exc}") from None
            # the role is read again: a disabled or demoted account loses access at once
            return await run_in_threadpool(auth.lookup, eng, claims["sub"])
    if key:
        return await run_in_threadpool(auth.authenticate_key, eng, key)
    if request.app.state.settings.anonymous:
        return ANONYMOUS
    raise AuthError("sign in: POST /auth/token, or send an API key (X-API-Key)")


def require(role: str):
    async def check(who: Principal = Depends(principal)) -> Principal:
        if not who.at_least(role):
            raise Forbidden(f"this needs the {role} role; {who.username} is a {who.role}")
        return who

    return check
