"""Benchmark of the map service against tipg on the same database, in one run.

Both servers run as one uvicorn process each on loopback, over a scratch copy of the seeded
county, and get the identical request sequence at the same concurrency:
- items: /items pages (limit 10, every offset and a few bbox windows), first pass ("cold": each
  URL new to both servers) then the same URLs again ("repeated");
- tiles: the compound layer's vector tiles over the town at z13-16, cold then repeated.
Prints requests/s and p50/p99 latency per server and the ratio ours/tipg; then the overview
page's size and load time in Chromium.

tipg is installed from PyPI into its own venv (bench/.tipg-venv) the first time, or taken from
GRIDGOV_TIPG_PYTHON. Loopback only; every loop is bounded in count.

    python bench/service_bench.py [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx
import mercantile
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _common import ROOT, print_table, scratch_database  # noqa: E402
from service import LiveService, free_port  # noqa: E402

from gridgov.io.importer import import_bundle  # noqa: E402

TIPG_VENV = Path(__file__).resolve().parent / ".tipg-venv"
TOWN = (111.185, 37.315, 111.225, 37.365)


def tipg_python() -> str:
    explicit = os.environ.get("GRIDGOV_TIPG_PYTHON")
    if explicit:
        return explicit
    py = TIPG_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "tipg", "uvicorn"], check=True)
    return str(py)


class Tipg:
    def __init__(self, database_url: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        url = database_url.replace("postgresql+psycopg2://", "postgresql://")
        self.env = {**os.environ, "DATABASE_URL": url, "TIPG_DB_SCHEMAS": '["public"]'}

    def __enter__(self):
        self.proc = subprocess.Popen([tipg_python(), "-m", "uvicorn", "tipg.main:app", "--host",
                                      "127.0.0.1", "--port", str(self.port), "--no-access-log",
                                      "--log-level", "warning"], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(150):
            try:
                if httpx.get(f"{self.url}/collections", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("tipg did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def item_paths(prefix: str) -> list[str]:
    paths = [f"{prefix}/items?limit=10&offset={o}" for o in range(0, 100)]
    lon = [TOWN[0] + i * 0.008 for i in range(5)]
    lat = [TOWN[1] + j * 0.01 for j in range(5)]
    paths += [f"{prefix}/items?limit=50&bbox={x:.3f},{y:.3f},{x + 0.01:.3f},{y + 0.012:.3f}"
              for x in lon for y in lat]
    return paths


def tile_list() -> list[mercantile.Tile]:
    return [t for z in (13, 14, 15, 16) for t in mercantile.tiles(*TOWN, zooms=[z])]


async def load(base: str, paths: list[str], concurrency: int) -> dict:
    queue = list(paths)
    latencies: list[float] = []
    errors = 0
    # aiohttp: httpx.AsyncClient adds its own milliseconds per request once several connections
    # are open (encode/httpx#3215), which would shrink every ratio towards 1
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=60)) as client:
        async def worker():
            nonlocal errors
            while queue:
                path = queue.pop()
                t = time.perf_counter()
                async with client.get(path) as r:
                    await r.read()
                    ok = r.status == 200
                latencies.append(time.perf_counter() - t)
                errors += not ok

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / wall, "p50": q[49] * 1000, "p99": q[98] * 1000,
            "errors": errors, "n": len(latencies)}


def run(base, paths, concurrency):
    return asyncio.run(load(base, paths, concurrency))


def overview_page(url: str) -> tuple[int, float, int]:
    """(bytes transferred, seconds to drawn polygons, requests) for the overview in Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        sizes = []
        page.on("response", lambda r: sizes.append(len(r.body()) if r.ok else 0))
        t = time.perf_counter()
        page.goto(f"{url}/maps/overview", wait_until="networkidle")
        page.wait_for_function(
            "document.querySelectorAll('path.leaflet-interactive').length > 100")
        elapsed = time.perf_counter() - t
        html_size = len(page.content().encode())
        browser.close()
    return sum(sizes), elapsed, html_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    with scratch_database("service") as engine:
        import_bundle(engine, ROOT / "geodata" / "zhongyang")
        # the fresh import vacuumed and analyzed now, not by autovacuum on one of the two
        # cores while the first pass is measured (the bundle's year of cases and check-ins)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SET statement_timeout = 0"))
            conn.execute(text("VACUUM (ANALYZE)"))
        url = engine.url.render_as_string(hide_password=False)
        with LiveService(url) as ours, Tipg(url) as tipg:
            servers = {"gridgov": (ours.url, "/collections/compounds",
                                   "/tiles/compounds/{z}/{x}/{y}.pbf"),
                       "tipg": (tipg.url, "/collections/public.compounds",
                                "/collections/public.compounds/tiles/WebMercatorQuad/{z}/{x}/{y}")}
            for base, prefix, _ in servers.values():  # catalogues loaded, pools open
                httpx.get(f"{base}{prefix}", timeout=30)
            tiles = tile_list()
            results: dict = {}
            for workload in ("items", "tiles"):
                for phase in ("cold", "repeated"):
                    for name, (base, prefix, tile_fmt) in servers.items():
                        paths = item_paths(prefix) if workload == "items" else [
                            tile_fmt.format(z=t.z, x=t.x, y=t.y) for t in tiles]
                        results[(workload, phase, name)] = run(base, paths, args.concurrency)
            print(f"SERVICE vs tipg {'(tipg ' + tipg_version() + ')'}: concurrency "
                  f"{args.concurrency}, {len(item_paths(''))} item pages, {len(tiles)} tiles "
                  "(compounds, z13-16) per pass; one uvicorn worker each\n")
            rows = []
            for workload in ("items", "tiles"):
                for phase in ("cold", "repeated"):
                    a, b = results[(workload, phase, "gridgov")], results[(workload, phase, "tipg")]
                    rows.append([f"{workload} {phase}", f"{a['rps']:,.0f}", f"{b['rps']:,.0f}",
                                 f"{a['rps'] / b['rps']:.2f}x",
                                 f"{a['p50']:.1f} / {a['p99']:.1f}",
                                 f"{b['p50']:.1f} / {b['p99']:.1f}",
                                 f"{a['errors']}/{b['errors']}"])
            print_table(["workload", "gridgov req/s", "tipg req/s", "ratio",
                         "gridgov p50/p99 ms", "tipg p50/p99 ms", "errors"], rows)
            try:
                transferred, seconds, html_size = overview_page(ours.url)
                print(f"\noverview page (/maps/overview, 1920x1080, county): HTML {html_size / 1024:,.0f} KiB,"
                      f" {transferred / 1024:,.0f} KiB transferred with assets and tiles, "
                      f"polygons drawn after {seconds:.2f} s in Chromium")
            except Exception as exc:  # the page measurement needs Chromium; say why not
                print(f"\noverview page: not measured ({exc})")


def tipg_version() -> str:
    out = subprocess.run([tipg_python(), "-c", "import tipg; print(tipg.__version__)"],
                         capture_output=True, text=True)
    return out.stdout.strip()


if __name__ == "__main__":
    main()
