"""A real service for the real-client tests: `gridgov serve` in a subprocess on a free loopback
port. A subprocess, not a thread: GDAL's OAPIF driver holds the GIL while it waits for HTTP, so a
server in the test process would never answer it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveService:
    def __init__(self, database_url: str, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "GRIDGOV_DATABASE_URL": database_url, **env}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "LiveService":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gridgov", "serve", "--host", "127.0.0.1", "--port",
             str(self.port)], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("the service did not start within 30 s")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
