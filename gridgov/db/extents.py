"""Bounding boxes of stored tables, for collection metadata and TileJSON.

Large tables use PostGIS's estimate from the planner statistics (one catalogue read, no scan);
small ones, or tables not analysed yet, are measured exactly. Callers cache the answer per data
version, so a page of collections costs nothing once computed.

Example:
    >>> extent(engine, ["compounds"])        # doctest: +ELLIPSIS
    [111.1..., 37.3..., 111.2..., 37.3...]
"""

from __future__ import annotations

from sqlalchemy import Engine, text

# Above this many rows (planner's estimate) the estimated extent is used.
EXACT_LIMIT = 100_000

_ROWS = text("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = to_regclass(:t)")
_ESTIMATED = text("SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) "
                  "FROM (SELECT ST_EstimatedExtent(:t, 'geom') AS b) s")


def extent(engine: Engine, tables: list[str]) -> list[float] | None:
    """[minx, miny, maxx, maxy] (lon/lat) of the geometries of ``tables``; None when empty.

    ``tables`` are names from the declarations (never from a request)."""
    boxes = []
    with engine.connect() as conn:
        for table in tables:
            box = None
            if (conn.execute(_ROWS, {"t": table}).scalar() or 0) > EXACT_LIMIT:
                box = conn.execute(_ESTIMATED, {"t": table}).first()
            if box is None or box[0] is None:
                box = conn.execute(text(
                    "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) "
                    f"FROM (SELECT ST_Extent(geom) AS b FROM {table}) s")).first()
            if box is not None and box[0] is not None:
                boxes.append([float(v) for v in box])
    if not boxes:
        return None
    return [min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes)]
