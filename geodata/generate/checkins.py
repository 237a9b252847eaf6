"""Check-ins (党员进社区报到 / 服务): a labelled synthetic year of members' visits to the compounds
their organisation is assigned to, 2025-12-01 to 2026-11-27, about 40,000 check-ins.

Nothing in a check-in is real: every visit, position and time is invented. Real are only the
shape of such data (a phone's position, its accuracy and whether it reports a mocked location;
check-in and check-out; the flags gridgov.activity.checkins raises) and China's official 2026
working calendar (holidays and 调休 days), on which the days are drawn.

How they are drawn (one stream, rng_for("checkins")):
* where the effort goes: each compound has a level of care. 3 compounds are never visited (the
  only check-ins there are a spoofer's, all flagged), 19 are neglected (an event now and then,
  hardly anyone alone: fewer than 2 visit days in most months), 15 get less than half the usual
  effort (fewer than 2 visit days in a bad month), the rest the usual. The neglected ones are
  drawn among the compounds whose nearest assigned office is far, more often when one
  organisation covers them alone; the 6 compounds a county leader covers are always cared for;
* who: members of the organisations assigned to the compound (a unit's members at the compound
  they are listed at; a county leader's pairing by the organisation's first two members). Each
  member is of a kind: absent (10 %: nearly never comes), occasional (30 %), regular (45 %) or keen
  (15 %), which sets how often they join an event and come alone;
* when: events of the organisation at the compound (主题党日 and the like: about two a month,
  on a working-day afternoon, a weekend morning or a working-day evening, the members arriving
  within a quarter of an hour and leaving together after 1 to 2 hours) and members coming alone
  (after work, 17:45 to 20:45, or on a day off), fewer in winter, far fewer over the Spring
  Festival (Feb 15-23), more during an invented provincial assessment (2026-05-18 to 05-29,
  when nearly half the neglected compounds get two events); a member's visits never overlap
  (30 minutes at least between them);
* how long: 20 to 120 minutes, a few short ones (< 5 min), a few forgotten check-outs (closed by
  the 23:59 job: auto_checkout, 23:59, 0 hours);
* where exactly: inside the compound (more than 3 m in) except about 5 % just outside (5 to 60 m:
  the gate, the street), GPS accuracy 3 to 65 m, WGS84 (client_crs wgs84);
* spoofing: a few spoofers (mocked positions, all on one point of the compound, accuracy 5 m),
  a few poor fixes (accuracy 200 to 480 m, up to 160 m off), a few check-ins from 1.8 to 2.6 km
  away, and a few speed jumps (a check-in 2 km away closed within seconds, then one at the
  compound 25 to 45 s later: over 140 km/h). No distance lies within 2 m of the fence and no speed
  near the limit, so that PostGIS (geography) computes the same flags.

The status, flags, distance to the outline, speed from the member's previous check-in and hours
are written as gridgov.activity.checkins computes them: flags in its order (accuracy > 100 m,
mocked, speed > 120 km/h, fence = more than 100 m from the outline, short < 5 min,
auto_checkout), status flagged if any, else valid; hours = minutes / 60 rounded to 2 decimals (0
for an automatic check-out). Distances are measured in EPSG:4546 from the written position to
the written outline, speeds on the WGS84 ellipsoid, both from the 7-decimal coordinates written.
"""
from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import shapely
from pyproj import Geod

from .cases import FIRST_DAY, LAST_DAY, SPRING_FESTIVAL, TZ, WorkClock, sample_many
from .common import rng_for, to_ll, to_m

NOTE_CHECKIN = "invented check-in"
N_NEVER, N_NEGLECTED, N_HALF = 3, 19, 15
# effort by care: events per month of an organisation at the compound, members' own visits ×
CARE = {"normal": (2.0, 1.0), "half": (0.8, 0.35), "neglected": (0.12, 0.05), "never": (0.0, 0.0)}
# member kinds: share, chance to join an event, own visits per month
KINDS = {"absent": (0.10, 0.03, 0.0), "occasional": (0.30, 0.35, 0.35),
         "regular": (0.45, 0.65, 1.05), "keen": (0.15, 0.85, 2.3)}
MONTH = {12: 0.9, 1: 0.85, 2: 0.45, 3: 1.0, 4: 1.05, 5: 1.1, 6: 1.05, 7: 0.9, 8: 0.9, 9: 1.05,
         10: 0.85, 11: 1.0}
ASSESSMENT = (dt.date(2026, 5, 18), dt.date(2026, 5, 29))   # invented provincial assessment
# event kinds: share, working day (True) or day off, start window in minutes of the day
EVENTS = [(0.45, True, (14 * 60 + 30, 15 * 60 + 30)), (0.35, False, (8 * 60 + 30, 10 * 60)),
          (0.20, True, (18 * 60 + 30, 19 * 60 + 30))]
GAP = 30 * 60                    # seconds between one visit's end and a member's next visit
SHARE_SHORT, SHARE_AUTO, SHARE_POOR, SHARE_FAR = 0.012, 0.009, 0.006, 0.002
N_SPOOFERS, N_JUMPS = 8, 35
OUTSIDE = 0.05                   # of the positions: just outside the outline (5 to 60 m)
# the library's thresholds (gridgov.settings.ActivitySettings)
FENCE_M, MIN_MINUTES, MAX_ACCURACY_M, MAX_SPEED_KMH = 100.0, 5.0, 100.0, 120.0
GEOD = Geod(ellps="WGS84")


def build_checkins(compounds: list[dict], orgs: list[dict], assignments: list[dict],
                   members: list[dict]) -> list[dict]:
    """The check-ins as dicts, sorted by member and time (checkin_rows writes them)."""
    rng = rng_for("checkins")
    n_days = (LAST_DAY - FIRST_DAY).days + 1
    days = [FIRST_DAY + dt.timedelta(days=i) for i in range(n_days)]
    workday = WorkClock().workday[:n_days]
    weight = np.array([MONTH[d.month] for d in days]) * np.array(
        [0.08 if SPRING_FESTIVAL[0] <= d <= SPRING_FESTIVAL[1] else 1.0 for d in days])
    months = sorted({(d.year, d.month) for d in days})
    in_month = {ym: np.array([(d.year, d.month) == ym for d in days]) for ym in months}
    assessment = np.array([ASSESSMENT[0] <= d <= ASSESSMENT[1] for d in days])
    cdfs = {}

    def pick_day(ym, working: bool, extra: bool = False) -> int | None:
        """A day of the month, a working day or a day off, by the day weights."""
        key = (ym, working, extra)
        if key not in cdfs:
            ok = in_month[ym] & (workday == working) & (assessment if extra else True)
            cdfs[key] = np.cumsum(np.where(ok, weight, 0.0))
        cdf = cdfs[key]
        if cdf[-1] == 0:
            return None
        return int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))

    comp = {c["code"]: c for c in compounds}
    inner = {c["code"]: c["xy"].buffer(-3) for c in compounds}   # positions: > 3 m inside
    active = [a for a in assignments if not a["valid_to"]]
    care = compound_care(compounds, orgs, active, rng)
    kind_names = list(KINDS)
    kind = rng.choice(len(KINDS), size=len(members), p=[v[0] for v in KINDS.values()])
    mkind = {m["code"]: kind_names[int(k)] for m, k in zip(members, kind)}
    at = {}                                        # (org, compound) -> member codes
    for m in members:
        at.setdefault((m["org_code"], m["compound_code"]), []).append(m["code"])
    by_org = {}
    for m in members:
        by_org.setdefault(m["org_code"], []).append(m["code"])
    org_of = {m["code"]: m["org_code"] for m in members}

    visits = []                                    # dicts: member, org, compound, t_in, minutes
    # --- events of an organisation at a compound ---------------------------------------------
    for a in sorted(active, key=lambda a: (a["org_code"], a["compound_code"], a["kind"])):
        key = (a["org_code"], a["compound_code"])
        c = comp[a["compound_code"]]
        if a["kind"] == "leader":
            who, per_month, join = sorted(by_org[a["org_code"]])[:2], 0.8, None
        else:
            who, per_month, join = at.get(key, []), CARE[care[c["code"]]][0], True
        if not who:
            continue
        for ym in months:
            frac = in_month[ym].sum() / 30.0
            n = rng.poisson(per_month * MONTH[ym[1]] * frac)
            extra = 0                                      # the assessment: two events
            if ym == (2026, 5) and care[c["code"]] == "neglected" and rng.random() < 0.45:
                extra = 2
            for e in range(n + extra):
                ev = EVENTS[int(rng.choice(len(EVENTS), p=[x[0] for x in EVENTS]))]
                day = pick_day(ym, ev[1], e >= n)          # e >= n: the assessment's event
                if day is None:
                    continue
                start = day * 86400 + int(rng.integers(*ev[2])) * 60
                length = int(rng.integers(60, 121)) * 60
                spot = None
                for mc in who:
                    p = KINDS[mkind[mc]][1] if join else 0.9
                    if rng.random() >= p:
                        continue
                    t_in = start + int(rng.integers(-15 * 60, 10 * 60))
                    t_out = start + length + int(rng.integers(-5 * 60, 10 * 60))
                    minutes = float(np.clip((t_out - t_in) / 60, 20, 120))
                    if spot is None:
                        spot = sample_many(inner[c["code"]], 1, rng)[0]
                    visits.append({"member": mc, "org": a["org_code"], "compound": c["code"],
                                   "t_in": t_in, "minutes": minutes, "spot": spot})

    # --- members coming alone ----------------------------------------------------------------
    for m in members:
        rate = KINDS[mkind[m["code"]]][2] * CARE[care[m["compound_code"]]][1]
        for ym in months:
            frac = in_month[ym].sum() / 30.0
            n = rng.poisson(rate * MONTH[ym[1]] * frac)
            for _ in range(n):
                if rng.random() < 0.6:                     # after work
                    day = pick_day(ym, True)
                    minute = int(rng.integers(17 * 60 + 45, 20 * 60 + 45))
                else:                                      # a day off
                    day = pick_day(ym, False)
                    minute = int(rng.integers(8 * 60 + 30, 11 * 60 + 30)) if rng.random() < 0.5 \
                        else int(rng.integers(14 * 60 + 30, 18 * 60))
                if day is None:
                    continue
                minutes = float(np.clip(math.exp(rng.normal(math.log(45), 0.45)), 20, 120))
                visits.append({"member": m["code"], "org": m["org_code"],
                               "compound": m["compound_code"],
                               "t_in": day * 86400 + minute * 60 + int(rng.integers(60)),
                               "minutes": minutes, "spot": None})

    # --- spoofers: mocked positions, the same point each time --------------------------------
    never = sorted(c for c, v in care.items() if v == "never")
    neglected = sorted(c for c, v in care.items() if v == "neglected")
    spoofers = set()
    for c in never:                    # one at each compound nobody visits, the rest elsewhere
        there = sorted(m["code"] for m in members if m["compound_code"] == c)
        spoofers.add(there[int(rng.integers(len(there)))])
    pool = sorted(m["code"] for m in members if m["compound_code"] in neglected)
    for i in rng.choice(len(pool), size=N_SPOOFERS - len(spoofers), replace=False):
        spoofers.add(pool[int(i)])
    spoofers = sorted(spoofers)
    cmp_of = {m["code"]: m["compound_code"] for m in members}
    for mc in spoofers:
        c = comp[cmp_of[mc]]
        fake = shapely.get_coordinates(c["xy"].representative_point())[0]
        for _ in range(int(rng.integers(3, 11))):
            day = pick_day(months[int(rng.integers(len(months)))], True)
            visits.append({"member": mc, "org": org_of[mc], "compound": c["code"],
                           "t_in": day * 86400 + int(rng.integers(19 * 3600, 21 * 3600)),
                           "minutes": float(rng.uniform(30, 70)), "spot": fake, "mocked": True})

    visits = without_overlaps(visits)
    return finish(visits, comp, inner, rng)


def compound_care(compounds, orgs, active, rng) -> dict:
    """Level of care per compound: never, neglected, half or normal. Neglect is drawn among the
    compounds whose nearest assigned office is far (weight exp(d / 700 m)), 1.6 times as likely
    when one organisation covers the compound alone; leaders' compounds are always cared for."""
    office = {o["code"]: o["office_m"] for o in orgs}
    units, leaders = {}, set()
    for a in active:
        if a["kind"] == "leader":
            leaders.add(a["compound_code"])
        else:
            units.setdefault(a["compound_code"], []).append(a["org_code"])
    codes = [c["code"] for c in compounds]
    w = np.array([
        0.0 if c["code"] in leaders else
        math.exp(min(c["xy"].centroid.distance(office[o]) for o in units[c["code"]]) / 700)
        * (1.6 if len(units[c["code"]]) == 1 else 1.0) for c in compounds])
    picked = rng.choice(len(codes), size=N_NEVER + N_NEGLECTED, replace=False, p=w / w.sum())
    care = {c: "normal" for c in codes}
    for k, i in enumerate(picked):
        care[codes[int(i)]] = "never" if k < N_NEVER else "neglected"
    rest = [i for i, c in enumerate(codes) if care[c] == "normal" and c not in leaders]
    for i in rng.choice(rest, size=N_HALF, replace=False):
        care[codes[int(i)]] = "half"
    return care


def without_overlaps(visits: list[dict]) -> list[dict]:
    """Per member in time order, drop a visit that starts less than GAP after the previous one
    kept ended (or at the same second as one kept): a member is in one place at a time."""
    visits.sort(key=lambda v: (v["member"], v["t_in"], v["compound"]))
    kept, last = [], {}
    for v in visits:
        end = last.get(v["member"])
        if end is not None and v["t_in"] < end + GAP:
            continue
        kept.append(v)
        last[v["member"]] = v["t_in"] + int(round(v["minutes"] * 60))
    return kept


def finish(visits: list[dict], comp: dict, inner: dict, rng) -> list[dict]:
    """Positions, the anomalies, then everything the library computes, as it computes it."""
    n = len(visits)
    # anomalies, on visits drawn from the stream in file order
    r = rng.random((n, 4))
    for v, (a, b, c, d) in zip(visits, r):
        mocked = v.get("mocked", False)
        v["mocked"] = mocked
        v["short"] = not mocked and a < SHARE_SHORT
        v["auto"] = not mocked and not v["short"] and b < SHARE_AUTO
        v["poor"] = not mocked and c < SHARE_POOR
        v["far"] = not mocked and not v["poor"] and d < SHARE_FAR
    jumps = set(int(i) for i in rng.choice(
        [i for i, v in enumerate(visits) if not (v["mocked"] or v["poor"] or v["far"])],
        size=N_JUMPS, replace=False))

    # positions (metres): inside, or just outside, or around an event's spot
    xy = np.zeros((n, 2))
    by_comp = {}
    for i, v in enumerate(visits):
        by_comp.setdefault(v["compound"], []).append(i)
    for code in sorted(by_comp):
        c = comp[code]
        idx = np.array(by_comp[code])
        xy[idx] = sample_many(inner[code], len(idx), rng)
        ring = c["xy"].buffer(60).difference(c["xy"].buffer(5))
        out = idx[rng.random(len(idx)) < OUTSIDE]
        xy[out] = sample_many(ring, len(out), rng)
        outside = set(out.tolist())
        for i in idx:
            v = visits[i]
            if v["mocked"]:
                xy[i] = v["spot"]
            elif v["spot"] is not None and i not in outside:
                xy[i] = sample_many(inner[code], 1, rng, v["spot"], 12.0)[0]
    accuracy = np.clip(np.exp(rng.normal(math.log(12), 0.5, n)), 3, 65).round()
    for i, v in enumerate(visits):
        if v["mocked"]:
            accuracy[i] = 5
        if v["poor"]:       # up to 160 m off, but not within 2 m of the fence (either way)
            accuracy[i] = round(rng.uniform(200, 480))
            base = xy[i].copy()
            while True:
                r_, t_ = rng.uniform(20, 160), rng.uniform(0, 2 * math.pi)
                xy[i] = base + (r_ * math.cos(t_), r_ * math.sin(t_))
                if abs(comp[v["compound"]]["xy"].distance(shapely.Point(xy[i])) - FENCE_M) > 2:
                    break
        if v["far"]:
            xy[i] = away(comp[v["compound"]], rng)

    rows = []
    for i, v in enumerate(visits):
        t_out = None if v["auto"] else v["t_in"] + int(round(
            (rng.uniform(0.6, 4.8) if v["short"] else v["minutes"]) * 60))
        row = {"member": v["member"], "org": v["org"], "compound": v["compound"],
               "t_in": v["t_in"], "t_out": t_out, "xy": xy[i], "accuracy": float(accuracy[i]),
               "mocked": v["mocked"], "auto": v["auto"]}
        if i in jumps:   # first a check-in 2 km away closed within seconds, then this one
            t0 = v["t_in"] - int(rng.integers(25, 46))     # 1.8 km in 45 s: 144 km/h
            rows.append({**row, "t_in": t0, "t_out": t0 + int(rng.integers(12, 25)),
                         "xy": away(comp[v["compound"]], rng), "auto": False})
        rows.append(row)
    rows.sort(key=lambda x: (x["member"], x["t_in"]))
    return computed(rows, comp)


def away(c: dict, rng) -> np.ndarray:
    """A point 1.8 to 2.6 km from the compound's centroid, in a random direction."""
    centre = shapely.get_coordinates(c["xy"].centroid)[0]
    r, t = rng.uniform(1800, 2600), rng.uniform(0, 2 * math.pi)
    return centre + (r * math.cos(t), r * math.sin(t))


def computed(rows: list[dict], comp: dict) -> list[dict]:
    """Written coordinates, then distance, speed, flags, status, hours and kind from them, as
    gridgov.activity.checkins would compute them."""
    pts = to_ll(shapely.points(np.array([r["xy"] for r in rows])))
    ll = np.round(shapely.get_coordinates(pts), 7)
    back = shapely.get_coordinates(to_m(shapely.points(ll)))
    outline = {code: to_m(c["ll"]) for code, c in comp.items()}
    seen = set()
    prev = None
    for i, r in enumerate(rows):
        r["lon"], r["lat"] = float(ll[i, 0]), float(ll[i, 1])
        r["distance"] = round(float(outline[r["compound"]].distance(shapely.Point(back[i]))), 1)
        r["speed"] = None
        if prev is not None and prev["member"] == r["member"]:
            _, _, moved = GEOD.inv(prev["lon"], prev["lat"], r["lon"], r["lat"])
            hours = max((r["t_in"] - prev["t_in"]) / 3600, 1 / 3600)
            r["speed"] = round(moved / 1000 / hours, 1)
        prev = r
        flags = []
        if r["accuracy"] > MAX_ACCURACY_M:
            flags.append("accuracy")
        if r["mocked"]:
            flags.append("mocked")
        if r["speed"] is not None and r["speed"] > MAX_SPEED_KMH:
            flags.append("speed")
        if r["distance"] > FENCE_M:
            flags.append("fence")
        if r["auto"]:
            end = r["t_in"] // 86400 * 86400 + (23 * 60 + 59) * 60
            r["t_out"], r["hours"] = end, 0.0
            flags.append("auto_checkout")
        else:
            minutes = (r["t_out"] - r["t_in"]) / 60
            r["hours"] = round(minutes / 60, 2)
            if minutes < MIN_MINUTES:
                flags.append("short")
        r["flags"] = flags
        r["status"] = "flagged" if flags else "valid"
        r["kind"] = "service" if r["member"] in seen else "report"   # the first: 报到
        seen.add(r["member"])
        r["in_at"], r["out_at"] = iso(r["t_in"]), iso(r["t_out"])
    return rows


def iso(t: int) -> str:
    return (dt.datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=TZ)
            + dt.timedelta(seconds=int(t))).isoformat()


def num(x: float) -> str:
    """A number as written: no trailing .0."""
    return f"{x:g}" if float(x).is_integer() else repr(float(x))


def verified(r: dict) -> bool:
    """A check-in that counts as a visit (valid and checked out; gridgov/sql/visits.sql)."""
    return r["status"] == "valid" and r["t_out"] is not None


def checkin_rows(rows: list[dict]) -> list[dict]:
    """checkins.csv: the layer's fields (positions as lon/lat columns, WGS84). No county_code
    column: the importer takes it from the member (it keeps the file under 8 MiB)."""
    return [{
        "member_code": r["member"], "org_code": r["org"],
        "compound_code": r["compound"], "kind": r["kind"], "checked_in_at": r["in_at"],
        "checked_out_at": r["out_at"], "auto_checkout": "true" if r["auto"] else "false",
        "accuracy_m": num(r["accuracy"]), "client_crs": "wgs84",
        "mocked": "true" if r["mocked"] else "false", "distance_m": num(r["distance"]),
        "speed_kmh": "" if r["speed"] is None else num(r["speed"]),
        "flags": json.dumps(r["flags"]), "status": r["status"], "hours": num(r["hours"]),
        "lon": f"{r['lon']:.7f}", "lat": f"{r['lat']:.7f}", "source": "synthetic",
        "source_note": NOTE_CHECKIN} for r in rows]
