"""The service's HTTP protocol: Nagle's algorithm off on every connection, also when uvicorn
binds the listening socket itself (``gridgov serve --workers N``)."""

from __future__ import annotations

import asyncio
import socket
import threading

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from gridgov_api.protocol import NoDelayHTTP


async def _ok(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _nodelay_of_accepted(protocol: type) -> int:
    """Serve on a socket bound the way uvicorn's supervisor binds it (Config.bind_socket) and
    return TCP_NODELAY of the connection the server accepted."""
    seen: dict[str, int] = {}

    class Probe(protocol):  # type: ignore[misc, valid-type]
        def connection_made(self, transport):
            super().connection_made(transport)
            seen["nodelay"] = transport.get_extra_info("socket").getsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY)

    config = uvicorn.Config(_ok, host="127.0.0.1", port=0, http=Probe, lifespan="off",
                            log_level="warning")
    sock = config.bind_socket()
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        for _ in range(1000):  # listening once started
            if server.started:
                break
            threading.Event().wait(0.01)
        with socket.create_connection(sock.getsockname()[:2], timeout=10) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.recv(1024).startswith(b"HTTP/1.1 200")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    return seen["nodelay"]


def test_accepted_connections_have_nagle_off():
    assert _nodelay_of_accepted(NoDelayHTTP) == 1


def test_uvicorns_own_protocol_leaves_it_on_for_a_socket_it_bound():
    """Why NoDelayHTTP exists (Kludex/uvicorn#3149); when uvicorn fixes it, this fails and the
    class can go."""
    assert _nodelay_of_accepted(AutoHTTPProtocol) == 0
