"""Load test: 100 concurrent clients for 60 s on maps, tiles, items and coverage, on loopback.

The service runs with one uvicorn worker per core over a scratch copy of the seeded county. Each
client loops over a mix of requests until the time is up (and at most 100,000 requests in all).
Prints throughput, p50/p99 latency and errors per kind and overall; the run fails (exit 1) on
any error.

    python bench/load_test.py [--clients 100] [--seconds 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import mercantile

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _common import ROOT, print_table, scratch_database  # noqa: E402
from service import LiveService  # noqa: E402

from gridgov.io.importer import import_bundle  # noqa: E402

TOWN = (111.185, 37.315, 111.225, 37.365)
MAX_REQUESTS = 100_000


def mix() -> list[tuple[str, str]]:
    tiles = [t for z in (14, 15, 16) for t in mercantile.tiles(*TOWN, zooms=[z])]
    out = []
    for i, t in enumerate(tiles):
        out.append(("tiles", f"/tiles/compounds/{t.z}/{t.x}/{t.y}.pbf"))
        out.append(("items", f"/collections/compounds/items?limit=20&offset={(i * 7) % 100}"))
        if i % 4 == 0:
            out.append(("coverage", "/analysis/coverage?level=community"))
            out.append(("kpis", "/analysis/kpis"))
        if i % 10 == 0:
            out.append(("maps", "/maps/overview"))
    return out


async def run(base: str, clients: int, seconds: float) -> dict:
    requests = mix()
    lat: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    sent = 0
    seen_errors: set[str] = set()
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        async def worker(n: int):
            nonlocal sent
            i = n * 7
            while time.perf_counter() < deadline and sent < MAX_REQUESTS:
                kind, path = requests[i % len(requests)]
                i += 1
                sent += 1
                t = time.perf_counter()
                try:
                    r = await client.get(path)
                    ok = r.status_code == 200
                    if not ok:
                        seen_errors.add(f"{r.status_code} {path}: {r.text[:120]}")
                except httpx.HTTPError as exc:
                    ok = False
                    seen_errors.add(f"{type(exc).__name__} {path}")
                lat[kind].append(time.perf_counter() - t)
                if not ok:
                    errors[kind] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(clients)))
        wall = time.perf_counter() - t0
    return {"lat": lat, "errors": errors, "wall": wall, "seen": sorted(seen_errors)[:10]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    with scratch_database("load") as engine:
        import_bundle(engine, ROOT / "geodata" / "zhongyang")
        url = engine.url.render_as_string(hide_password=False)
        with LiveService(url, workers=args.workers) as live:
            httpx.get(f"{live.url}/maps/overview", timeout=60)  # warm: assets, caches
            out = asyncio.run(run(live.url, args.clients, args.seconds))
    rows = []
    total = sum(len(v) for v in out["lat"].values())
    for kind in sorted(out["lat"]):
        q = statistics.quantiles(out["lat"][kind], n=100)
        rows.append([kind, f"{len(out['lat'][kind]):,}", f"{len(out['lat'][kind]) / out['wall']:,.0f}",
                     f"{q[49] * 1000:,.0f}", f"{q[98] * 1000:,.0f}", str(out["errors"][kind])])
    every = [x for v in out["lat"].values() for x in v]
    q = statistics.quantiles(every, n=100)
    errors = sum(out["errors"].values())
    rows.append(["all", f"{total:,}", f"{total / out['wall']:,.0f}", f"{q[49] * 1000:,.0f}",
                 f"{q[98] * 1000:,.0f}", str(errors)])
    print(f"LOAD: {args.clients} concurrent clients for {out['wall']:.0f} s, {args.workers} uvicorn "
          "workers, loopback\n")
    print_table(["kind", "requests", "req/s", "p50 ms", "p99 ms", "errors"], rows)
    for line in out["seen"]:
        print("error:", line)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
