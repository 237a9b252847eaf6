"""Refuse oversized request bodies before reading them (413), declared or streamed, and NUL
characters in the address (400)."""

from __future__ import annotations

import json


class BodyLimit:
    """``max_bytes`` for every request; ``upload_bytes`` for the paths under ``upload_prefixes``
    (reports with photos)."""

    def __init__(self, app, max_bytes: int, upload_bytes: int | None = None,
                 upload_prefixes: tuple[str, ...] = ()):
        self.app = app
        self.default_bytes = max_bytes
        self.upload_bytes = upload_bytes or max_bytes
        self.upload_prefixes = upload_prefixes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = bool(self.upload_prefixes) and scope.get("path", "").startswith(
            self.upload_prefixes)
        limit = self.upload_bytes if upload else self.default_bytes
        # NUL cannot be stored in PostgreSQL text; refuse it here rather than deep in a query
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", ""):
            return await self._refuse(send, 400, "BadRequest",
                                      "NUL characters are not allowed in the address")
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._refuse(send, 413, "PayloadTooLarge",
                                      f"request body over {limit:,} bytes")
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(send, 413, "PayloadTooLarge",
                               f"request body over {limit:,} bytes")

    async def _refuse(self, send, status: int, code: str, description: str):
        body = json.dumps({"code": code, "description": description}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
