"""A real service for the real-client tests: `gridgov serve` in a subprocess on a free loopback
port. A subprocess, not a thread: GDAL's OAPIF driver holds the GIL while it waits for HTTP, so a
server in the test process would never answer it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveService:
    def __init__(self, database_url: str, workers: int = 1, **env: str):
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "GRIDGOV_DATABASE_URL": database_url, **env}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "LiveService":
        # the log goes to a file: an unread pipe fills up and then blocks the server
        self.log = tempfile.NamedTemporaryFile(prefix="gridgov-service-", suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gridgov", "serve", "--host", "127.0.0.1", "--port",
             str(self.port), "--workers", str(self.workers)], env=self.env,
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited: {self.log_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("the service did not start within 30 s")

    def log_text(self) -> str:
        with open(self.log.name, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        os.unlink(self.log.name)
