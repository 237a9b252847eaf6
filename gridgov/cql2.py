"""CQL2 text filters (OGC API - Features Part 3) to SQLAlchemy or pandas, safely.

Parsing is pygeofilter's; evaluation is ours, so that only the properties a collection declares
can be named (anything else is a 400, never a column or function reached by accident), and every
literal becomes a bound parameter.

Supported: comparisons, AND/OR/NOT, LIKE, IN, BETWEEN, IS NULL (basic CQL2) and
S_INTERSECTS / S_WITHIN / S_CONTAINS / S_DISJOINT with a geometry literal or BBOX(...)
(basic spatial functions).

Example:
    >>> from gridgov.db.tables import table
    >>> t = table("compounds")
    >>> columns = {"households": t.c.households, "name": t.c.name}   # what may be named
    >>> print(to_sql("households > 300 AND name LIKE '%花园'", columns))
    compounds.households > :param_1 AND compounds.name LIKE :name_1
    >>> to_sql("phone = '13800000000'", columns)
    Traceback (most recent call last):
    ...
    gridgov.errors.InvalidFilter: filter: unknown property 'phone'; queryable: households, name
"""

from __future__ import annotations

import json
from typing import Any

import shapely
from pygeofilter import ast
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text
from sqlalchemy import and_, func, literal, not_, or_
from sqlalchemy.sql import ColumnElement

from gridgov.errors import InvalidFilter

GEOMETRY = "geometry"


def parse(text: str) -> ast.Node:
    try:
        return parse_cql2_text(text)
    except Exception as exc:  # lark raises several types; all mean the text is not CQL2
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidFilter(f"not valid CQL2 text: {first[:200]}") from None


def _geometry_literal(node) -> shapely.Geometry:
    if isinstance(node, ast.Function) and node.name.lower() == "bbox":
        args = [float(a) for a in node.arguments]
        if len(args) != 4:
            raise InvalidFilter("BBOX needs 4 numbers: minx, miny, maxx, maxy")
        return shapely.box(*args)
    if isinstance(node, ast.BBox):
        return shapely.box(node.minx, node.miny, node.maxx, node.maxy)
    geometry = getattr(node, "geometry", None)
    if isinstance(geometry, dict):
        return shapely.from_geojson(json.dumps(geometry))
    raise InvalidFilter("a spatial function needs a geometry literal (WKT) or BBOX(...)")


class _SQL:
    """AST → SQLAlchemy boolean expression over the given columns."""

    def __init__(self, columns: dict[str, Any], geometry: ColumnElement | None):
        self.columns = columns
        self.geometry = geometry

    def attr(self, node):
        if isinstance(node, ast.Attribute):
            if node.name == GEOMETRY and self.geometry is not None:
                return self.geometry
            if node.name not in self.columns:
                raise InvalidFilter(f"unknown property {node.name!r}; queryable: "
                           f"{', '.join(sorted(self.columns))}")
            return self.columns[node.name]
        if isinstance(node, (ast.Node,)) and not isinstance(node, (str, int, float, bool)):
            raise InvalidFilter(f"unsupported expression {type(node).__name__}")
        return literal(node)

    def __call__(self, node) -> ColumnElement:
        c = self
        if isinstance(node, ast.And):
            return and_(c(node.lhs), c(node.rhs))
        if isinstance(node, ast.Or):
            return or_(c(node.lhs), c(node.rhs))
        if isinstance(node, ast.Not):
            return not_(c(node.sub_node))
        comparisons = {ast.Equal: "__eq__", ast.NotEqual: "__ne__", ast.LessThan: "__lt__",
                       ast.LessEqual: "__le__", ast.GreaterThan: "__gt__",
                       ast.GreaterEqual: "__ge__"}
        for kind, op in comparisons.items():
            if type(node) is kind:
                return getattr(c.attr(node.lhs), op)(c.attr(node.rhs))
        if isinstance(node, ast.Like):
            col = c.attr(node.lhs)
            expr = col.ilike(node.pattern) if node.nocase else col.like(node.pattern)
            return not_(expr) if node.not_ else expr
        if isinstance(node, ast.In):
            expr = c.attr(node.lhs).in_([literal(v) for v in node.sub_nodes])
            return not_(expr) if node.not_ else expr
        if isinstance(node, ast.Between):
            expr = c.attr(node.lhs).between(c.attr(node.low), c.attr(node.high))
            return not_(expr) if node.not_ else expr
        if isinstance(node, ast.IsNull):
            col = c.attr(node.lhs)
            return col.isnot(None) if node.not_ else col.is_(None)
        spatial = {ast.GeometryIntersects: "ST_Intersects", ast.GeometryWithin: "ST_Within",
                   ast.GeometryContains: "ST_Contains", ast.GeometryDisjoint: "ST_Disjoint"}
        for kind, fn in spatial.items():
            if type(node) is kind:
                if self.geometry is None:
                    raise InvalidFilter("this collection has no geometry to filter on")
                if not (isinstance(node.lhs, ast.Attribute) and node.lhs.name == GEOMETRY):
                    raise InvalidFilter(f"the first argument of {fn} must be the property 'geometry'")
                geom = _geometry_literal(node.rhs)
                return getattr(func, fn)(self.geometry,
                                         func.ST_GeomFromText(literal(geom.wkt), 4326))
        raise InvalidFilter(f"unsupported CQL2 operation {type(node).__name__}")


def to_sql(text: str, columns: dict[str, Any], geometry: ColumnElement | None = None
           ) -> ColumnElement:
    """A CQL2 text filter as a SQLAlchemy condition; unknown names are refused (InputError)."""
    return _SQL(columns, geometry)(parse(text))


def to_mask(text: str, frame, geometry: str = "geometry"):
    """A CQL2 text filter as a boolean mask over a (Geo)DataFrame's columns."""
    import numpy as np
    import pandas as pd

    node = parse(text)

    def value(n):
        if isinstance(n, ast.Attribute):
            if n.name == GEOMETRY:
                return frame[geometry]
            if n.name not in frame.columns:
                raise InvalidFilter(f"unknown property {n.name!r}; queryable: "
                           f"{', '.join(sorted(c for c in frame.columns if c != geometry))}")
            return frame[n.name]
        return n

    def ev(n) -> pd.Series:
        if isinstance(n, ast.And):
            return ev(n.lhs) & ev(n.rhs)
        if isinstance(n, ast.Or):
            return ev(n.lhs) | ev(n.rhs)
        if isinstance(n, ast.Not):
            return ~ev(n.sub_node)
        ops = {ast.Equal: "__eq__", ast.NotEqual: "__ne__", ast.LessThan: "__lt__",
               ast.LessEqual: "__le__", ast.GreaterThan: "__gt__", ast.GreaterEqual: "__ge__"}
        for kind, op in ops.items():
            if type(n) is kind:
                try:
                    return pd.Series(getattr(value(n.lhs), op)(value(n.rhs)), index=frame.index
                                     ).fillna(False).astype(bool)
                except TypeError:
                    raise InvalidFilter(f"cannot compare {n.lhs} with {n.rhs!r}") from None
        if isinstance(n, ast.Like):
            import re

            pattern = "^" + re.escape(n.pattern).replace("%", ".*").replace("_", ".") + "$"
            s = value(n.lhs).astype(str).str.match(pattern, case=not n.nocase)
            return ~s if n.not_ else s
        if isinstance(n, ast.In):
            s = value(n.lhs).isin(list(n.sub_nodes))
            return ~s if n.not_ else s
        if isinstance(n, ast.Between):
            s = value(n.lhs).between(n.low, n.high)
            return ~s if n.not_ else s
        if isinstance(n, ast.IsNull):
            s = value(n.lhs).isna()
            return ~s if n.not_ else s
        spatial = {ast.GeometryIntersects: shapely.intersects, ast.GeometryWithin: shapely.within,
                   ast.GeometryContains: shapely.contains, ast.GeometryDisjoint: shapely.disjoint}
        for kind, fn in spatial.items():
            if type(n) is kind:
                geom = _geometry_literal(n.rhs)
                return pd.Series(fn(np.asarray(frame[geometry].values), geom), index=frame.index)
        raise InvalidFilter(f"unsupported CQL2 operation {type(n).__name__}")

    return ev(node)
