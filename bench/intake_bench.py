"""POST latency at 50 concurrent clients on loopback: residents filing Open311 requests
(`POST /open311/v2/requests.json`) and members checking in (`POST /checkins`).

Each client pauses between its requests (--think, 1 s on average, exponentially distributed: a
resident or a member filling a form on a phone pauses far longer), which is the load the target
is for; then the same clients run back to back, which measures the saturation of the two
cores (its latency is then the queue: 50 clients over the throughput) and is printed beside it.

The service runs with one uvicorn worker per core over a scratch copy of the seeded county, its
intake limits raised (every request comes from 127.0.0.1, which the per-address limit would
otherwise throttle: that limit is tested in the suite, not here). Each client loops until the
time is up (and at most 20,000 requests per kind). Prints requests/s, p50, p99 and errors per
kind and the targets (p99 under 100 ms, 0 errors); exits 1 on any error.

    python bench/intake_bench.py [--clients 50] [--seconds 20] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from pathlib import Path

import aiohttp
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _common import ROOT, print_table, scratch_database  # noqa: E402
from service import LiveService  # noqa: E402

from gridgov import auth  # noqa: E402
from gridgov.io.importer import import_bundle  # noqa: E402

MAX_REQUESTS = 20_000
LABELS = {"healthz": "GET /healthz", "open311": "POST open311", "checkin": "POST checkin"}


def accounts(engine, clients: int) -> tuple[str, list[tuple[str, str, float, float]]]:
    """An API key for Open311, and one member key per client with a compound point to check in
    at (members of organizations assigned to it)."""
    key = auth.add_user(engine, "bench_open311", "viewer")
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT DISTINCT ON (m.code) m.code, a.compound_code, ST_X(ST_PointOnSurface(k.geom)),"
            " ST_Y(ST_PointOnSurface(k.geom)) FROM members m JOIN assignments a ON a.org_code = "
            "m.org_code AND a.valid_to IS NULL JOIN compounds k ON k.code = a.compound_code "
            "ORDER BY m.code, a.compound_code LIMIT :n"), {"n": clients}).all()
    members = [(auth.add_user(engine, f"bench_m{i}", "member", member_code=code), compound, x, y)
               for i, (code, compound, x, y) in enumerate(rows)]
    return key, members


async def run(base: str, kind: str, clients: int, seconds: float, key: str, members,
              think: float = 0.0) -> dict:
    """``clients`` concurrent clients, each on its own kept-alive connection, for ``seconds``.
    kind: open311 (a resident's report), checkin (a member at a compound) or healthz (the
    floor: what the client, the loopback and uvicorn cost without any work)."""
    lat: list[float] = []
    errors = 0
    seen: set[str] = set()
    sent = 0
    deadline = time.perf_counter() + seconds
    pace = random.Random(7)
    # aiohttp, not httpx: httpx.AsyncClient adds ~40 ms to every request once a few dozen
    # connections are open (encode/httpx#3215; measured here: /healthz at 20 clients, p50
    # 46.7 ms with httpx, 3.9 ms with aiohttp, 3.2 ms with blocking sockets), which is the
    # client's time, not the service's
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:
        async def worker(n: int):
            nonlocal sent, errors
            i = 0
            if think:  # people do not all press at the same instant: each client starts
                # part-way through a pause (the pauses are memoryless, so the time left of one
                # is a pause like any other); without this the first second is a burst of 50
                await asyncio.sleep(pace.expovariate(1 / think))
            while time.perf_counter() < deadline and sent < MAX_REQUESTS:
                sent += 1
                i += 1
                if kind == "open311":  # in the compounds, as residents report (not one spot)
                    _, _, x, y = members[(n * 7 + i) % len(members)]
                    req = client.post("/open311/v2/requests.json", data={
                        "api_key": key, "service_code": "0101", "lat": str(y + pace.uniform(
                            -2e-4, 2e-4)), "long": str(x + pace.uniform(-2e-4, 2e-4)),
                        "description": f"楼下垃圾堆放（压测 {n}-{i}）"})
                elif kind == "checkin":
                    mkey, compound, x, y = members[n % len(members)]
                    req = client.post("/checkins", headers={"X-API-Key": mkey}, json={
                        "compound_code": compound, "lon": x, "lat": y, "accuracy_m": 12})
                else:
                    req = client.get("/healthz")
                t = time.perf_counter()
                try:
                    async with req as r:
                        body = await r.read()
                        ok = r.status in (200, 201)
                        if not ok:
                            seen.add(f"{r.status}: {body[:160].decode(errors='replace')}")
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    ok = False
                    seen.add(type(exc).__name__)
                lat.append(time.perf_counter() - t)
                errors += not ok
                if think:  # a person between two requests: pauses of ``think`` s on average
                    await asyncio.sleep(pace.expovariate(1 / think))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(clients)))
        wall = time.perf_counter() - t0
    return {"lat": lat, "errors": errors, "wall": wall, "seen": sorted(seen)[:5]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--think", type=float, default=1.0,
                    help="mean pause of a client between two requests, in seconds")
    args = ap.parse_args()
    rows, failed = [], False
    with scratch_database("intake") as engine:
        import_bundle(engine, ROOT / "geodata" / "zhongyang")
        key, members = accounts(engine, args.clients)
        url = engine.url.render_as_string(hide_password=False)
        env = {"GRIDGOV_SERVICE_INTAKE_PER_MINUTE_ADDRESS": "1000000",
               "GRIDGOV_SERVICE_INTAKE_PER_MINUTE_KEY": "1000000",
               "GRIDGOV_MEDIA_DIR": str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-media")}
        with LiveService(url, workers=args.workers, **env) as live:
            for kind in ("healthz", "open311", "checkin"):
                asyncio.run(run(live.url, kind, 4, 2, key, members))  # warm the pools
                for think in (args.think, 0.0):
                    out = asyncio.run(run(live.url, kind, args.clients, args.seconds, key,
                                          members, think))
                    q = statistics.quantiles(out["lat"], n=100)
                    p99 = q[98] * 1000
                    # the target is for people (who pause); back to back is the saturation
                    # the same two cores reach, printed for what it is
                    target = think > 0 and kind != "healthz"
                    failed |= out["errors"] > 0 or (target and p99 >= 100)
                    rows.append([LABELS[kind], f"{think:g} s" if think else "none (back to back)",
                                 f"{len(out['lat']):,}",
                                 f"{len(out['lat']) / out['wall']:,.0f}", f"{q[49] * 1000:,.1f}",
                                 f"{p99:,.1f}", str(out["errors"]),
                                 ("met" if p99 < 100 and not out["errors"] else "MISSED")
                                 if target else ("floor, no target" if kind == "healthz"
                                                 else "no errors" if not out["errors"]
                                                 else "ERRORS")])
                    for line in out["seen"]:
                        print(f"error ({kind}):", line)
    print(f"INTAKE: {args.clients} concurrent clients, {args.seconds:.0f} s per kind, "
          f"{args.workers} uvicorn workers, loopback; target p99 < 100 ms, 0 errors\n")
    print_table(["request", "pause", "requests", "req/s", "p50 ms", "p99 ms", "errors", "target"],
                rows)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
