"""Reading cases: lists for the center and units, photos, and the GeoDataFrame analysts use.

Every query names the county when it can, so its plan reads one partition.

Example:
    >>> frame = cases_frame(engine, counties=["141129"])
    >>> frame.crs.to_epsg(), "reporter_phone" in frame.columns
    (4326, False)
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from gridgov.cases.lifecycle import CASE_COLUMNS, OPEN
from gridgov.layers import get_layer

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def find(engine: Engine, *, statuses: list[str] | None = None, category_code: str | None = None,
         unit_code: str | None = None, county_code: str | None = None,
         since: dt.date | None = None, until: dt.date | None = None,
         overdue: bool | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
    """Cases newest first, filtered; ``overdue``: open and past the handling deadline."""
    conds, params = [], {"limit": limit, "offset": offset}
    if county_code:
        conds.append("county_code = :county")
        params["county"] = county_code
    if statuses:
        conds.append("status = ANY(:statuses)")
        params["statuses"] = statuses
    if category_code:
        conds.append("category_code = :category")
        params["category"] = category_code
    if unit_code:
        conds.append("unit_code = :unit")
        params["unit"] = unit_code
    if since:
        conds.append("reported_at >= :since")
        params["since"] = dt.datetime.combine(since, dt.time(), SHANGHAI)
    if until:
        conds.append("reported_at < :until")
        params["until"] = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), SHANGHAI)
    if overdue is not None:
        conds.append(("" if overdue else "NOT ") +
                     "(status = ANY(:open) AND handle_due IS NOT NULL AND handle_due < now())")
        params["open"] = list(OPEN)
    where = " AND ".join(conds) or "true"
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {CASE_COLUMNS} FROM cases WHERE {where} "
                                 "ORDER BY reported_at DESC, code LIMIT :limit OFFSET :offset"),
                            params).mappings().all()
    return [dict(r) for r in rows]


def photos(conn: Connection, code: str, county: str) -> list[dict]:
    rows = conn.execute(text(
        "SELECT sha256, stage, taken_at, uploaded_by, uploaded_at FROM case_photos "
        "WHERE county_code = :k AND case_code = :c ORDER BY uploaded_at, sha256"),
        {"k": county, "c": code}).mappings().all()
    return [dict(r) for r in rows]


def cases_frame(engine: Engine, *, counties: list[str] | None = None,
                since: dt.date | None = None, personal: bool = False) -> gpd.GeoDataFrame:
    """Cases as a GeoDataFrame (EPSG:4326), with ``overdue`` and ``open`` flags; reporters'
    contacts only with ``personal=True``."""
    layer = get_layer("cases")
    columns = [f.name for f in layer.fields if f.stored and (personal or not f.personal)]
    conds = ["county_code = ANY(:counties)"] if counties else []
    if since:
        conds.append("reported_at >= :since")
    sql = (f"SELECT {', '.join(columns)}, status = ANY(:open) AS open, "
           "(status = ANY(:open) AND handle_due < now()) AS overdue, ST_AsBinary(geom) AS wkb "
           f"FROM cases WHERE {' AND '.join(conds) or 'true'} ORDER BY reported_at, code")
    with engine.connect() as conn:
        result = conn.execute(text(sql), {"counties": counties, "open": list(OPEN),
                                          "since": dt.datetime.combine(since, dt.time(), SHANGHAI)
                                          if since else None})
        frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    geoms = shapely.from_wkb([bytes(b) for b in frame.pop("wkb")]) if len(frame) else []
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
