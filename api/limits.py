"""Refuse oversized request bodies before reading them (413), declared or streamed, and NUL
characters in the address (400)."""

from __future__ import annotations

import json


class BodyLimit:
    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # NUL cannot be stored in PostgreSQL text; refuse it here rather than deep in a query
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", ""):
            return await self._refuse(send, 400, "BadRequest",
                                      "NUL characters are not allowed in the address")
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send, 413, "PayloadTooLarge",
                                      f"request body over {self.max_bytes:,} bytes")
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(send, 413, "PayloadTooLarge",
                               f"request body over {self.max_bytes:,} bytes")

    async def _refuse(self, send, status: int, code: str, description: str):
        body = json.dumps({"code": code, "description": description}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
