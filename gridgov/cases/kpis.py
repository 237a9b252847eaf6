"""Case KPIs as city grid systems publish them, per unit, compound, community, township or county,
per week or month.

A case is *due* in the period its handling deadline falls in (once that deadline has passed);
rejected and duplicate cases are never due. Then:

- 按期结案率 on_time_rate = closed on time / due (handled by the deadline, and closed);
- 结案率 close_rate = closed / due;
- 返工率 rework_rate = reworked / closed;
- 及时派遣率 timely_dispatch_rate = dispatched by the dispatch deadline / dispatched;
- median and p90 hours from report to close;
- 准确派遣率 accurate_dispatch_rate = 1 - returned / dispatched.

Units with fewer than ``min_due_to_rank`` due cases are listed but not ranked (a unit with one
late case of one is not the worst in the county). Periods are whole weeks (from Monday) or
months, in Beijing time.

A province has millions of cases, and the KPIs of a past period change only when one of its
cases does. So they are kept: ``case_kpi_periods`` holds, per county, past period and level,
the keys and their counts and close times in parallel arrays. The triggers of the cases table
mark the county and day of every case written (``changed_days``), and the next call computes
just those periods again: the cases due in them are fetched (one COPY) and counted by numpy
(``compute``), in about a third of the time PostgreSQL's grouping sets took (they sorted
each group again for its percentiles). The period still running is kept too, counted up to
the time it was computed; a county in which a case has fallen due since has it recomputed.
A process keeps the rows it has read, with the generation of each period's state row, and
fetches again only the periods computed since (``forget`` drops them). Every county query
names its counties, so its plan reads their partitions only.

Example:
    >>> k = case_kpis(engine, level="county", period="month", counties=["141129"])
    >>> list(k.columns[:4])
    ['period', 'level', 'key', 'name']
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text

from gridgov.calendar import SHANGHAI
from gridgov.settings import CaseSettings, current

LEVELS = {"unit": "c.unit_code", "compound": "c.compound_code", "community": "c.division_code",
          "township": "c.township_code", "county": None}
PERIODS = ("week", "month")
COUNTS = ("due", "closed", "closed_on_time", "reworked", "dispatched", "dispatched_on_time",
          "returned")
LABELS_ZH = {"due": "应结案数", "closed": "结案数", "closed_on_time": "按期结案数",
             "on_time_rate": "按期结案率", "close_rate": "结案率", "rework_rate": "返工率",
             "timely_dispatch_rate": "及时派遣率", "accurate_dispatch_rate": "准确派遣率",
             "median_hours": "结案时长中位数(小时)", "p90_hours": "结案时长P90(小时)"}
# one refresh at a time: marks consumed and periods stored in order (see refresh)
_LOCK = 0x6B706973  # 'kpis'
_CHUNK = 60  # (county, period) per transaction: a cold province stores its year in steps
# the columns of case_kpi_periods
_KEPT = ("county_code", "period_kind", "period", "level", "keys", *COUNTS, "median_hours",
         "p90_hours")

# What each case due counts for, by its count's name (each read as false where NULL).
FLAGS = {"closed": "c.status = 'closed'",
         "closed_on_time": "c.status = 'closed' AND c.handled_at <= c.handle_due",
         "reworked": "c.status = 'closed' AND c.rework_count > 0",
         "dispatched": "c.dispatched_at IS NOT NULL",
         "dispatched_on_time": "c.dispatched_at <= c.dispatch_due",
         "returned": "c.dispatched_at IS NOT NULL AND c.return_count > 0"}
assert tuple(FLAGS) == COUNTS[1:]

# The rows the KPIs count: one per case due in each (county, period) of ``t`` (``i``, its place
# in the list), with its key at each level, its flags (bit k set for the k-th of FLAGS: one
# number is less to write and to parse than six booleans) and its hours from report to close
# (NULL while open). They are counted on the client (see _count): PostgreSQL's grouping sets,
# which sorted them once per level and each group again for its percentiles, took nearly three
# times as long as sending them over and counting them there. (Parameters in psycopg2's
# style: the query runs in a COPY.)
_ROWS = """
SELECT t.i, c.unit_code AS unit, c.compound_code AS compound, c.division_code AS community,
       c.township_code AS township, {flags} AS flags,
       (date_part('epoch', c.closed_at) - date_part('epoch', c.reported_at)) / 3600 AS hours
FROM unnest(CAST(%(counties)s AS text[]), CAST(%(starts)s AS timestamptz[]),
            CAST(%(ends)s AS timestamptz[])) WITH ORDINALITY AS t(county_code, lo, hi, i)
-- each (county, period) by its own range of the deadline's index in its county's partition
-- (OFFSET 0 keeps the planner from flattening this into a scan of every county's year; the
-- list of counties prunes the others' partitions when the query is planned)
CROSS JOIN LATERAL (SELECT * FROM cases c WHERE c.county_code = ANY(%(only)s)
                    AND c.county_code = t.county_code
                    AND c.handle_due >= t.lo AND c.handle_due < t.hi OFFSET 0) c
WHERE c.status NOT IN ('rejected', 'duplicate')
""".format(flags=" + ".join(f"{1 << k} * coalesce({sql}, false)::int"
                           for k, sql in enumerate(FLAGS.values())))

# where the names of each level's keys are (a unit is an organization, or the community or
# township that answers for a case itself)
_NAMED = {"unit": ("party_orgs", "divisions", "townships"), "compound": ("compounds",),
          "community": ("divisions",), "township": ("townships",), "county": ("counties",)}


class Period(NamedTuple):
    start: dt.date  # the Monday or the first of the month
    lo: dt.datetime  # its first instant, Beijing time
    hi: dt.datetime  # the first instant of the next one


def query() -> str:
    """The rows the KPIs count (psycopg2 parameters ``counties``, ``starts`` and ``ends``, one
    per (county, period), and ``only``, the counties among them): a plan reads only the
    partitions of ``only``."""
    return _ROWS


def periods(kind: str, start: dt.date, end: dt.date) -> list[Period]:
    """The whole weeks or months that overlap [start, end)."""
    first = start - dt.timedelta(days=start.weekday()) if kind == "week" else start.replace(day=1)
    out = []
    while first < end:
        after = first + dt.timedelta(days=7) if kind == "week" else \
            (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        out.append(Period(first, _at(first), _at(after)))
        first = after
    return out


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), SHANGHAI)


def compute(conn: Connection, levels: list[str], todo: list[tuple[str, Period]]
            ) -> pd.DataFrame:
    """The KPI counts of ``levels`` for each (county, period) of ``todo`` (a period's ``hi``
    may be cut short: the running period counts what is due so far)."""
    if not todo:
        return _count(None, levels, todo)
    cursor = conn.connection.cursor()
    buffer = io.BytesIO()  # bytes: psycopg2 decodes nothing, and read_csv reads them faster
    cursor.copy_expert(cursor.mogrify(f"COPY ({_ROWS}) TO STDOUT WITH (FORMAT csv)", {
        "counties": [c for c, _ in todo], "starts": [p.lo for _, p in todo],
        "ends": [p.hi for _, p in todo], "only": sorted({c for c, _ in todo})}).decode(),
        buffer)
    buffer.seek(0)
    rows = pd.read_csv(buffer, names=["i", *(n for n in LEVELS if LEVELS[n]), "flags", "hours"],
                       dtype={"i": np.int64, **{n: object for n in LEVELS if LEVELS[n]},
                              "flags": np.int64, "hours": np.float64},
                       keep_default_na=False, na_values={"hours": [""]})
    return _count(rows, levels, todo)


def _count(rows: pd.DataFrame | None, levels: list[str], todo: list[tuple[str, Period]]
           ) -> pd.DataFrame:
    """Per (county, period) and key of each level, in that order: the cases due, the sums of
    their flags, and the median and 90th percentile of their close times, as percentile_cont
    interpolates them. A case with no key at a level (no compound, say) counts under ''."""
    columns = ["county_code", "period", "level", "key", *COUNTS, "median_hours", "p90_hours"]
    if rows is None or not len(rows):
        return pd.DataFrame(columns=columns)
    pair = rows["i"].to_numpy() - 1  # the place in todo
    counties = np.array([c for c, _ in todo], dtype=object)
    starts = np.array([p.start for _, p in todo], dtype=object)
    flags = rows["flags"].to_numpy()
    hours = _Ranked(rows["hours"].to_numpy())
    frames = []
    for level in levels:
        if LEVELS[level]:
            codes, keys = pd.factorize(rows[level])  # NULL: -1, the last of keys + ['']
            keys = np.append(np.asarray(keys, dtype=object), "")
            group = pair * len(keys) + np.where(codes < 0, len(keys) - 1, codes)
        else:  # the county: one group per (county, period)
            keys, group = counties, pair
        ids, group = np.unique(group, return_inverse=True)  # ids sorted: by pair, then key
        n = len(ids)
        which = ids // len(keys) if LEVELS[level] else ids
        frame = {"county_code": counties[which], "period": starts[which], "level": level,
                 "key": keys[ids % len(keys)], "due": np.bincount(group, minlength=n)}
        for k, name in enumerate(FLAGS):
            frame[name] = np.bincount(group, weights=(flags >> k) & 1, minlength=n
                                      ).astype(np.int64)
        frame["median_hours"], frame["p90_hours"] = hours.percentiles(group, n, (0.5, 0.9))
        frames.append(pd.DataFrame(frame))
    return pd.concat(frames, ignore_index=True)[columns]


class _Ranked:
    """Values (NaN for none) sorted once, for the quantiles of any grouping of them."""

    def __init__(self, values: np.ndarray):
        self.known = ~np.isnan(values)
        order = np.argsort(values[self.known], kind="stable")
        self.sorted = values[self.known][order]
        self.rank = np.empty(len(order), dtype=np.int64)
        self.rank[order] = np.arange(len(order))

    def percentiles(self, group: np.ndarray, n: int, qs: tuple[float, ...]
                    ) -> list[np.ndarray]:
        """Per group 0..n-1, the ``qs`` quantiles of its known values, interpolated as
        PostgreSQL's percentile_cont does (between the two nearest ranks); NaN for a group
        with none."""
        m = len(self.sorted)
        # one integer sort orders by group, then value (ranks are distinct)
        key = np.sort(group[self.known].astype(np.int64) * m + self.rank)
        values = self.sorted[key % m]
        size = np.bincount(key // m, minlength=n)
        first = np.cumsum(size) - size
        has = size > 0
        out = []
        for q in qs:
            at = (size[has] - 1) * q
            below = np.floor(at).astype(np.int64)
            low = values[first[has] + below]
            high = values[first[has] + np.minimum(below + 1, size[has] - 1)]
            result = np.full(n, np.nan)
            result[has] = low + (at - below) * (high - low)
            out.append(result)
        return out


def refresh(engine: Engine, kind: str, wanted: list[Period], counties: list[str],
            now: dt.datetime) -> int:
    """Bring case_kpi_periods up to date for ``counties`` over the ``wanted`` periods (those
    begun by ``now``): forget the periods writes have marked since, and the running ones in
    which a case has fallen due since they were computed; compute those missing. Returns the
    number of (county, period) computed.

    Reading the marks holds an advisory lock that storing periods shares, so that a period
    computed from rows older than a mark is forgotten when the mark is read, never stored
    after it."""
    need = {p.start: min(p.hi, now) for p in wanted}  # counted up to here
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
        marks = conn.execute(text("DELETE FROM changed_days WHERE table_name = 'cases' "
                                  "RETURNING county_code, day")).all()
        if any(county == "*" for county, _ in marks):  # truncated: forget everything
            conn.execute(text("DELETE FROM case_kpi_periods; DELETE FROM case_kpi_state"))
            marks = []
        stale = {(county, name, p.start) for county, day in marks for name in PERIODS
                 for p in periods(name, day, day + dt.timedelta(days=1))}
        # kept periods counted up to an earlier time: stale if a case fell due since
        kept = conn.execute(text(
            "SELECT county_code, period, through FROM case_kpi_state WHERE period_kind = :k "
            "AND county_code = ANY(:c) AND period = ANY(:p)"),
            {"k": kind, "c": counties, "p": list(need)}).all()
        behind = [(c, p, t, need[p]) for c, p, t in kept if t < need[p]]
        if behind:
            params = {"c": [b[0] for b in behind], "p": [b[1] for b in behind],
                      "t": [b[2] for b in behind], "n": [b[3] for b in behind], "k": kind}
            # (one range of the deadline index per partition: since the earliest of them)
            fell_due = set(conn.execute(text(
                "SELECT DISTINCT county_code FROM cases WHERE county_code = ANY(:c) "
                "AND handle_due >= :since AND handle_due < :until"),
                {"c": sorted({b[0] for b in behind}), "since": min(params["t"]),
                 "until": max(params["n"])}).scalars())
            stale |= {(c, kind, p) for c, p, _, _ in behind if c in fell_due}
            conn.execute(text(  # the others lose nothing by counting up to now
                "UPDATE case_kpi_state x SET through = s.n FROM unnest(CAST(:c AS text[]), "
                "CAST(:p AS date[]), CAST(:n AS timestamptz[])) AS s(c, p, n) "
                "WHERE x.county_code = s.c AND x.period_kind = :k AND x.period = s.p"), params)
        if stale:
            params = {"c": [s[0] for s in stale], "k": [s[1] for s in stale],
                      "p": [s[2] for s in stale]}
            for table in ("case_kpi_periods", "case_kpi_state"):
                conn.execute(text(
                    f"DELETE FROM {table} x USING unnest(CAST(:c AS text[]), CAST(:k AS text[]), "
                    "CAST(:p AS date[])) AS s(county_code, period_kind, period) WHERE "
                    "x.county_code = s.county_code AND x.period_kind = s.period_kind AND "
                    "x.period = s.period"), params)
    with engine.connect() as conn:
        kept = set(conn.execute(text(
            "SELECT county_code, period FROM case_kpi_state WHERE period_kind = :k AND "
            "county_code = ANY(:c) AND period = ANY(:p)"),
            {"k": kind, "c": counties, "p": list(need)}).all())
    todo = [(c, p._replace(hi=need[p.start])) for c in counties for p in wanted
            if (c, p.start) not in kept]
    # at most _CHUNK a step, and never fewer than two steps: both cores work on a few
    size = max(1, min(_CHUNK, -(-len(todo) // 2)))
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    # two at a time: PostgreSQL aggregates one chunk per core
    with ThreadPoolExecutor(max_workers=2) as pool:
        return sum(pool.map(lambda chunk: _store(engine, kind, chunk), chunks))


def _store(engine: Engine, kind: str, todo: list[tuple[str, Period]]) -> int:
    """Compute and keep the (county, period) of ``todo`` not claimed meanwhile by another
    process (the state row is the claim: a second claimer waits, then skips it)."""
    with engine.begin() as conn:
        # shared: chunks run side by side, but never beside the reading of marks
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": _LOCK})
        claimed = set(conn.execute(text(
            "INSERT INTO case_kpi_state (county_code, period_kind, period, through) "
            "SELECT c, :k, p, t FROM unnest(CAST(:c AS text[]), CAST(:p AS date[]), "
            "CAST(:t AS timestamptz[])) AS s(c, p, t) ON CONFLICT DO NOTHING "
            "RETURNING county_code, period"),
            {"k": kind, "c": [c for c, _ in todo], "p": [p.start for _, p in todo],
             "t": [p.hi for _, p in todo]}).all())
        todo = [(c, p) for c, p in todo if (c, p.start) in claimed]
        rows = compute(conn, list(LEVELS), todo)
        if len(rows):  # by COPY, a row of arrays per (county, period, level)
            buffer = io.StringIO()
            csv.writer(buffer).writerows(_arrays(rows, kind))
            buffer.seek(0)
            conn.connection.cursor().copy_expert(
                f"COPY case_kpi_periods ({', '.join(_KEPT)}) FROM STDIN WITH (FORMAT csv)",
                buffer)
    return len(todo)


def _arrays(rows: pd.DataFrame, kind: str) -> list[list[str]]:
    """The rows of case_kpi_periods for ``rows`` (as ``compute`` gives them: those of a
    county, period and level together), their arrays as PostgreSQL array literals: keys
    quoted, NaN as NULL, floats in full."""
    level, county, start = (rows[c].to_numpy() for c in ("level", "county_code", "period"))
    first = np.flatnonzero(np.concatenate([[True], (level[1:] != level[:-1])
                                           | (county[1:] != county[:-1])
                                           | (start[1:] != start[:-1])]))
    bounds = zip(first, [*first[1:], len(rows)])
    items = [['"' + k.replace("\\", "\\\\").replace('"', '\\"') + '"'
              for k in rows["key"].astype(str).tolist()],
             *(rows[c].astype(str).tolist() for c in COUNTS),
             *(["NULL" if v != v else repr(v) for v in rows[c].tolist()]
               for c in ("median_hours", "p90_hours"))]
    return [[county[a], kind, start[a].isoformat(), level[a],
             *("{" + ",".join(column[a:b]) + "}" for column in items)] for a, b in bounds]


# The kept arrays of the (county, period) ``s`` as one row: each column's arrays joined into one
# text (keys by the unit separator, counts by commas, hours by line ends with NULL as NaN),
# parsed at C speed (numpy the counts, pandas' CSV reader the hours, three times as fast as
# numpy's at floats) where a quarter of a million values fetched one by one took a second.
# ``i`` repeats each place in ``s`` once per key.
_UNNESTED = """
SELECT string_agg(repeat(s.i || ',', cardinality(x.keys)), '' ORDER BY s.i) AS i,
       string_agg(array_to_string(x.keys, E'\\x1f'), E'\\x1f' ORDER BY s.i) AS keys,
       {figures}
FROM case_kpi_periods x
JOIN unnest(CAST(:c AS text[]), CAST(:p AS date[])) WITH ORDINALITY AS s(county_code, period, i)
  ON x.county_code = s.county_code AND x.period = s.period
WHERE x.period_kind = :k AND x.level = :l AND cardinality(x.keys) > 0
""".format(figures=",\n       ".join(
    [f"string_agg(array_to_string({c}, ','), ',' ORDER BY s.i) AS {c}" for c in COUNTS]
    + [f"string_agg(array_to_string({c}, E'\\n', 'NaN'), E'\\n' ORDER BY s.i) AS {c}"
       for c in ("median_hours", "p90_hours")]))


def _unnested(conn: Connection, kind: str, level: str, pairs: list[tuple[str, dt.date]]
              ) -> pd.DataFrame:
    """The kept rows of ``level`` for ``pairs`` (county, period start), one per key, with
    ``i``, the place of its pair in ``pairs`` (from 1)."""
    row = conn.execute(text(_UNNESTED), {"c": [c for c, _ in pairs], "p": [p for _, p in pairs],
                                         "k": kind, "l": level}).mappings().one()
    if row["i"] is None:  # no period of these has a case due
        return pd.DataFrame({"i": np.empty(0, np.int64), "key": np.empty(0, object),
                             **{c: np.empty(0, np.int64) for c in COUNTS},
                             "median_hours": np.empty(0), "p90_hours": np.empty(0)})
    frame = {"i": np.fromstring(row["i"][:-1], sep=",", dtype=np.int64),
             "key": np.array(row["keys"].split("\x1f"), dtype=object)}
    for c in COUNTS:
        frame[c] = np.fromstring(row[c], sep=",", dtype=np.int64)
    for c in ("median_hours", "p90_hours"):
        frame[c] = pd.read_csv(io.StringIO(row[c]), header=None, names=["v"],
                               dtype={"v": np.float64})["v"].to_numpy()
    return pd.DataFrame(frame)


def _fetched(engine: Engine, conn: Connection, kind: str, level: str,
             pairs: list[tuple[str, dt.date]]) -> pd.DataFrame:
    """``_unnested`` for ``pairs``, read in ``conn``'s snapshot. Past a few hundred periods
    (a process's first read of a province) half of them are read on a second connection that
    imports the snapshot, so that two backends turn the arrays into text side by side."""
    if len(pairs) < 200:
        return _unnested(conn, kind, level, pairs)
    snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
    half = len(pairs) // 2

    def second() -> pd.DataFrame:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as other:
            other.execute(text("SET TRANSACTION SNAPSHOT :s"), {"s": snapshot})
            return _unnested(other, kind, level, pairs[half:])
    with ThreadPoolExecutor(max_workers=1) as pool:
        later = pool.submit(second)
        first = _unnested(conn, kind, level, pairs[:half])
        rest = later.result()
    rest["i"] += half
    return pd.concat([first, rest], ignore_index=True)


class _Read(NamedTuple):
    """The kept rows of one kind and level that this process has read, and the generation of
    each (county, period) they were read at (its ``pair`` number is the row's ``pair``)."""
    rows: pd.DataFrame
    generations: dict[tuple[str, dt.date], int]
    pairs: dict[tuple[str, dt.date], int]


# What this process read last, per database, kind and level: a province's units over a year
# are a quarter of a million rows, of which a day's writes change a few periods; those alone
# are fetched again. Up to a million rows in all (some 165 MB), the least recently read
# dropped first.
_READ: OrderedDict[tuple, _Read] = OrderedDict()
_READ_ROWS = 1_000_000
_READ_LOCK = threading.Lock()


def forget() -> None:
    """Drop the kept rows this process holds in memory (the next read fetches them again)."""
    with _READ_LOCK:
        _READ.clear()


def _kept(engine: Engine, kind: str, level: str, starts: list[dt.date],
          counties: list[str] | None) -> pd.DataFrame:
    """The rows of case_kpi_periods for ``level`` over the periods starting at ``starts`` in
    ``counties`` (all when None), with the (county, period) of each as ``county_code`` and
    ``pair``. Rows read before are taken from memory unless their period has been computed
    again since (its state's generation changed): state and rows are read in one snapshot."""
    columns = ["county_code", "period", "key", *COUNTS, "median_hours", "p90_hours"]
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        # (a database dropped and made again under the same name has a new oid)
        oid = conn.execute(text("SELECT oid FROM pg_database WHERE datname = current_database()")
                           ).scalar()
        state = conn.execute(text(
            "SELECT county_code, period, generation FROM case_kpi_state WHERE period_kind = :k "
            "AND period = ANY(:p)" + (" AND county_code = ANY(:c)" if counties else "")),
            {"k": kind, "p": starts, "c": counties}).all()
        key = (engine.url.render_as_string(), oid, kind, level)
        with _READ_LOCK:
            before = _READ.get(key) or _Read(pd.DataFrame(columns=[*columns, "pair"]), {}, {})
        pairs = dict(before.pairs)
        for county, start, _ in state:
            pairs.setdefault((county, start), len(pairs))
        stale = [(c, p) for c, p, g in state if before.generations.get((c, p)) != g]
        if stale:
            fetched = _fetched(engine, conn, kind, level, stale)
            which = fetched.pop("i").to_numpy() - 1  # the place in stale
            ids = np.array([pairs[p] for p in stale])
            fetched.insert(0, "county_code", np.array([c for c, _ in stale], dtype=object)[which])
            fetched.insert(1, "period", np.array([p for _, p in stale], dtype=object)[which])
            fetched["pair"] = ids[which]
            kept = before.rows[~np.isin(before.rows["pair"].to_numpy(), ids)]
            rows = pd.concat([kept, fetched], ignore_index=True) if len(kept) else fetched
        else:
            rows = before.rows
    read = _Read(rows, {**before.generations, **{(c, p): g for c, p, g in state}}, pairs)
    with _READ_LOCK:
        _READ[key] = read
        _READ.move_to_end(key)
        while len(_READ) > 1 and sum(len(r.rows) for r in _READ.values()) > _READ_ROWS:
            _READ.popitem(last=False)
    wanted = np.array([pairs[(c, p)] for c, p, _ in state])
    return rows[np.isin(rows["pair"].to_numpy(), wanted)].reset_index(drop=True)


def keep(engine: Engine, now: dt.datetime | None = None) -> int:
    """Bring the kept KPIs of every county up to date, weeks and months of the last year (what
    ``case_kpis`` computes first when asked with no dates); returns the number of (county,
    period) computed. The worker runs it every minute (gridgov.jobs.kpis), so that reads find
    the periods computed, and a province's first year (some 10 s for 3 million cases) is
    computed there and not in a request."""
    now = now or dt.datetime.now(dt.timezone.utc)
    counties = _counties(engine)
    return sum(refresh(engine, kind, _wanted(kind, None, None, now), counties, now)
               for kind in PERIODS)


def _wanted(kind: str, start: dt.date | None, end: dt.date | None, now: dt.datetime
            ) -> list[Period]:
    """The periods of ``kind`` overlapping [start, end) that have begun by ``now``; by default
    up to today (Beijing time) and over the 366 days before."""
    end = end or now.astimezone(SHANGHAI).date() + dt.timedelta(days=1)
    start = start or end - dt.timedelta(days=366)
    return [p for p in periods(kind, start, end) if p.lo <= now]  # nothing due later


def _counties(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return conn.execute(text("SELECT code FROM counties ORDER BY code")).scalars().all()


def case_kpis(engine: Engine, *, level: str = "unit", period: str = "month",
              start: dt.date | None = None, end: dt.date | None = None,
              counties: list[str] | None = None,
              settings: CaseSettings | None = None) -> pd.DataFrame:
    """One row per period and unit (or place) over the whole periods overlapping [start, end);
    rates as fractions, ranked within each period."""
    settings = settings or current(CaseSettings)
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    if period not in PERIODS:
        raise ValueError("period must be week or month")
    now = dt.datetime.now(dt.timezone.utc)
    wanted = _wanted(period, start, end, now)
    refresh(engine, period, wanted, counties or _counties(engine), now)
    frame = _kept(engine, period, level, [p.start for p in wanted], counties)
    with engine.connect() as conn:
        names = dict(conn.execute(text(" UNION ALL ".join(
            f"SELECT code, name FROM {table}" + (
                f" WHERE {'code' if table == 'counties' else 'county_code'} = ANY(:c)"
                if counties else "") for table in _NAMED[level])), {"c": counties}).all())
    frame = (frame.drop(columns=["county_code", "pair"])
             .assign(key=lambda f: f["key"].replace("", None))
             .sort_values(["period", "key"], na_position="last").reset_index(drop=True))
    frame.insert(1, "level", level)
    frame.insert(3, "name", frame["key"].map(names))
    due = frame["due"].where(frame["due"] > 0)
    frame["on_time_rate"] = frame["closed_on_time"] / due
    frame["close_rate"] = frame["closed"] / due
    frame["rework_rate"] = frame["reworked"] / frame["closed"].where(frame["closed"] > 0)
    dispatched = frame["dispatched"].where(frame["dispatched"] > 0)
    frame["timely_dispatch_rate"] = frame["dispatched_on_time"] / dispatched
    frame["accurate_dispatch_rate"] = 1 - frame["returned"] / dispatched
    frame["ranked"] = frame["due"] >= settings.min_due_to_rank
    frame["rank"] = (frame[frame["ranked"]].groupby("period")["on_time_rate"]
                     .rank(ascending=False, method="min"))
    frame["note_zh"] = frame["ranked"].map(
        {True: "", False: f"应结案少于{settings.min_due_to_rank}件，列出不排名"})
    return frame
