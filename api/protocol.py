"""The HTTP protocol the service runs on: uvicorn's own, with Nagle's algorithm off on every
connection.

``gridgov serve --workers N`` (N > 1) makes uvicorn bind the listening socket itself, with
``proto`` left at 0; the connections it accepts inherit that, and asyncio turns TCP_NODELAY on
only for sockets that say IPPROTO_TCP (Kludex/uvicorn#3149). Nagle then holds back a response's
body until the client acknowledges its headers, which the client delays by up to 40 ms: one
request in six at 50 clients paid it (GET /healthz p95 47 ms with two workers, 6 ms with one).
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.auto import AutoHTTPProtocol


class NoDelayHTTP(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
