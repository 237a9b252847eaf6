"""Feature collections for OGC API - Features, independent of any web framework.

Two kinds of collection:
- layers: the stored tables, queried in SQL (bbox, CQL2 filter, sort, paging) with the GeoJSON
  built by PostGIS, so a page is one round trip and no Python objects per feature;
- analysis results (coverage, gaps, access, org load): the analysis functions' GeoDataFrames,
  cached per data version (see migration 0004), then filtered and paged in pandas.
Members (personal data) are not published here.

The web layer (gridgov_api) only parses requests and renders what this returns.

Example:
    >>> svc = FeatureService(engine)
    >>> page = svc.items("compounds", limit=3, filter="households > 500", sortby="-households")
    >>> page.matched, page.returned
    (6, 3)
    >>> [f["properties"]["name"] for f in page.features]
    ['南川河畔小区', '华府名苑', '锦绣华庭']
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import (BigInteger, Engine, and_, bindparam, case, func, literal, literal_column,
                        select, text)
from sqlalchemy import exc as sa_exc

from gridgov import cql2
from gridgov.cache import Memo
from gridgov.db import extents, tables
from gridgov.errors import InvalidParameter, NotFound
from gridgov.layers import LAYERS, Layer
from gridgov.layers.geography import COVERAGE_INPUTS

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100
# Above this many rows (planner's estimate), an unfiltered page reports an estimated count
# instead of counting every row on every request.
EXACT_COUNT_LIMIT = 100_000


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    key: str
    properties: dict[str, str]  # name -> JSON Schema type
    tables: tuple[str, ...]  # tables whose versions decide freshness
    geometry: str | None
    layer: Layer | None = None
    frame: Callable[[Engine], gpd.GeoDataFrame] | None = None
    # tables whose geometries bound the features (an analysis's features are compounds, ...)
    extent_tables: tuple[str, ...] = ()


def _layer_collection(layer: Layer) -> Collection:
    # personal fields never reach a collection, whatever the layer's other settings
    props = {f.name: f.json_type for f in layer.public_fields}
    return Collection(layer.name, f"{layer.title_zh} · {layer.name}",
                      layer.description or f"Stored layer {layer.name}"
                      + ("" if layer.geometry else " (no geometry)"),
                      layer.record_id, props, (layer.table,), layer.geometry, layer=layer,
                      extent_tables=(layer.table,) if layer.geometry else ())


def _analysis_collections() -> list[Collection]:
    from gridgov.analysis import access, coverage, gaps, load

    def cov(engine):
        c = coverage.coverage(engine)
        return c.drop(columns=["org_codes"]).assign(org_codes=c["org_codes"].map(";".join))

    def gap(engine):
        g = gaps.gaps(engine)
        return g.drop(columns=["org_codes", "rules"]).assign(
            org_codes=g["org_codes"].map(";".join), rules=g["rules"].map(";".join))

    def acc(engine):
        return access.access(engine)

    def org_load(engine):
        ld = load.org_load(engine)
        return ld.assign(compound_codes=ld["compound_codes"].map(";".join))

    live = COVERAGE_INPUTS
    return [
        Collection("coverage", "包联覆盖 · coverage",
                   "Coverage of every compound today: organizations, members, households per "
                   "member, office distance, status and flags", "code", {}, live, "MultiPolygon",
                   frame=cov, extent_tables=("compounds",)),
        Collection("gaps", "问题小区 · gaps",
                   "Compounds needing action, ranked, with reasons (reasons_zh) and score parts",
                   "code", {}, live + ("practice_sites", "roads", "cases"), "MultiPolygon",
                   frame=gap,
                   extent_tables=("compounds",)),
        Collection("access", "阵地可达性 · access",
                   "Walking distance from compounds and villages/communities to the nearest "
                   "practice site of each tier, with GB 50180 life circle", "code", {},
                   ("compounds", "divisions", "practice_sites", "roads"), "Point", frame=acc,
                   extent_tables=("compounds", "divisions")),
        Collection("org_load", "党组织负荷 · org load",
                   "Load of every Party organization (geometry: its office)", "code", {}, live,
                   "Point", frame=org_load, extent_tables=("party_orgs",)),
    ]


def build_collections() -> dict[str, Collection]:
    out = {layer.name: _layer_collection(layer) for layer in LAYERS.values() if layer.published}
    out.update({c.id: c for c in _analysis_collections()})
    return out


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value in (None, ""):
        return None
    try:
        parts = [float(v) for v in value.split(",")]
    except ValueError:
        raise InvalidParameter("bbox", f"{value!r} is not four numbers: minx,miny,maxx,maxy") from None
    if len(parts) == 6:  # 3D bbox: drop the heights
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        raise InvalidParameter("bbox", f"{value!r} is not four numbers: minx,miny,maxx,maxy")
    minx, miny, maxx, maxy = parts
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidParameter("bbox", f"{value!r} is not in longitude/latitude (CRS84)")
    return minx, miny, maxx, maxy


def parse_sortby(value: str | None, allowed: set[str]) -> list[tuple[str, bool]]:
    """'+name,-households' -> [('name', True), ('households', False)]."""
    out = []
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        ascending = not part.startswith("-")
        name = part.lstrip("+-").strip()
        if name not in allowed:
            raise InvalidParameter("sortby", f"cannot sort by {name!r}; use one of {', '.join(sorted(allowed))}")
        out.append((name, ascending))
    return out


def parse_properties(value: str | None, allowed: set[str]) -> list[str] | None:
    if value in (None, ""):
        return None
    names = [p.strip() for p in value.split(",") if p.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise InvalidParameter("properties", f"unknown properties {', '.join(unknown)}; available: "
                                 f"{', '.join(sorted(allowed))}")
    return names


def json_value(v):
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, (list, tuple, np.ndarray)):
        return [json_value(x) for x in v]
    if v is pd.NaT:
        return None
    return v


@dataclass
class FeatureService:
    """Collections, items and versions over one engine; caches analysis results per version."""

    engine: Engine
    collections: dict[str, Collection] = field(default_factory=build_collections)
    cache_size: int = 2048
    version_ttl: float = 1.0

    def __post_init__(self):
        self._memo = Memo(self.cache_size)  # pages, analysis frames, extents
        self._statements = Memo(self.cache_size)  # compiled items statements, per shape
        self._versions = Memo(1, ttl=self.version_ttl)

    def collection(self, collection_id: str) -> Collection:
        try:
            return self.collections[collection_id]
        except KeyError:
            raise NotFound(f"no collection {collection_id!r}; collections: "
                           f"{', '.join(self.collections)}") from None

    # --- versions ---------------------------------------------------------------------------
    def versions(self, table_names: tuple[str, ...] | None = None) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT table_name, version FROM data_versions")).all()
        v = dict(rows)
        return {t: int(v.get(t, 0)) for t in (table_names or sorted(v))}

    def version_tag(self, table_names: tuple[str, ...] | None = None) -> str:
        """A short token that changes whenever any of the tables changes (and daily, because
        'active today' moves with the date).

        The versions are read at most every ``version_ttl`` seconds: a write shows up in pages
        and tiles within that time, and a burst of requests costs one lookup, not one each."""
        all_versions = self._versions.get("all", self.versions)
        v = {t: all_versions.get(t, 0) for t in (table_names or sorted(all_versions))}
        raw = json.dumps([dt.date.today().isoformat(), v], sort_keys=True)
        return hashlib.sha1(raw.encode()).hexdigest()[:16]

    # --- analysis frames ----------------------------------------------------------------------
    def frame(self, coll: Collection) -> gpd.GeoDataFrame:
        return self._memo.get((coll.id, self.version_tag(coll.tables)),
                              lambda: coll.frame(self.engine))

    def extent(self, coll: Collection) -> list[float] | None:
        """[minx, miny, maxx, maxy] of the collection's features, from the data."""
        if not coll.extent_tables:
            return None
        return self._memo.get(("extent", coll.id, self.version_tag(coll.extent_tables)),
                              lambda: extents.extent(self.engine, list(coll.extent_tables)))

    def properties_of(self, coll: Collection) -> dict[str, str]:
        if coll.layer is not None:
            return coll.properties
        frame = self.frame(coll)
        types = {}
        for name, dtype in frame.drop(columns=frame.geometry.name).dtypes.items():
            types[name] = ("integer" if pd.api.types.is_integer_dtype(dtype) else
                           "number" if pd.api.types.is_float_dtype(dtype) else
                           "boolean" if pd.api.types.is_bool_dtype(dtype) else "string")
        return types

    # --- items ---------------------------------------------------------------------------------
    def items(self, collection_id: str, *, bbox=None, limit: int = DEFAULT_LIMIT,
              offset: int = 0, properties: str | None = None, sortby: str | None = None,
              filter: str | None = None, filter_lang: str | None = None) -> "Page":
        """One page of a collection (see :class:`Page`: ``as_dict()`` or ``to_json()``)."""
        coll = self.collection(collection_id)
        if filter_lang not in (None, "", "cql2-text"):
            raise InvalidParameter("filter-lang", f"{filter_lang!r} is not supported; use cql2-text")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidParameter("limit", f"limit must be between 1 and {MAX_LIMIT}")
        if offset < 0:
            raise InvalidParameter("offset", "offset must not be negative")
        box = parse_bbox(bbox) if isinstance(bbox, str) or bbox is None else bbox
        # Pages are cached per data version: a repeated request costs one version lookup.
        key = ("items", collection_id, box, limit, offset, properties, sortby, filter,
               self.version_tag(coll.tables))
        if coll.layer is not None:
            return self._memo.get(key, lambda: self._table_items(
                coll, box, limit, offset, properties, sortby, filter))
        return self._memo.get(key, lambda: self._frame_items(
            coll, box, limit, offset, properties, sortby, filter))

    def item(self, collection_id: str, feature_id: str) -> dict:
        coll = self.collection(collection_id)
        if coll.layer is not None:
            t = tables.table(coll.layer.table)
            key_col = t.c[coll.key]
            if isinstance(key_col.type, (BigInteger,)) or key_col.type.python_type is int:
                if not feature_id.isdigit():
                    raise NotFound(f"no feature {feature_id!r} in collection {collection_id!r}")
                feature_id = int(feature_id)
            page = self._table_items(coll, None, 1, 0, None, None, None,
                                     extra=key_col == feature_id)
        else:
            frame = self.frame(coll)
            page = self._frame_page(coll, frame[frame[coll.key] == feature_id], 1, 0, None,
                                    len(frame))
        features = page.features
        if not features:
            raise NotFound(f"no feature {feature_id!r} in collection {collection_id!r}")
        return features[0]

    def _table_items(self, coll, box, limit, offset, properties, sortby, filter_text, extra=None):
        # The statement depends on everything but the page window; it is built and compiled once
        # per shape and reused with new limit/offset (SQLAlchemy's own cache would still walk
        # the expression tree on every request).
        shape = (coll.id, box, properties, sortby, filter_text,
                 None if extra is None else str(extra.right.value))
        sql_text, params = self._statements.get(shape, lambda: self._compile_items(
            coll, box, properties, sortby, filter_text, extra))
        try:
            with self.engine.connect() as conn:
                features_json, returned, matched = conn.exec_driver_sql(
                    sql_text, {**params, "page_limit": limit, "page_offset": offset}).one()
        except sa_exc.DataError as exc:  # e.g. households > 'abc': the value, not the server
            detail = str(exc.orig).strip().splitlines()[0]
            raise InvalidParameter("filter", f"a value does not fit its property: {detail}") from None
        return Page(features_json, int(matched), int(returned))

    def _compile_items(self, coll, box, properties, sortby, filter_text, extra):
        t = tables.table(coll.layer.table)
        allowed = set(coll.properties)
        columns = {name: t.c[name] for name in allowed}
        conds = []
        if extra is not None:
            conds.append(extra)
        geom = t.c.geom if "geom" in t.c else None
        if box is not None:
            if geom is None:
                raise InvalidParameter("bbox", f"collection {coll.id!r} has no geometry")
            env = func.ST_MakeEnvelope(*box, 4326)
            conds.append(and_(geom.op("&&")(env), func.ST_Intersects(geom, env)))
        if filter_text:
            conds.append(cql2.to_sql(filter_text, columns, geom))
        chosen = parse_properties(properties, allowed) or [f.name for f in coll.layer.fields
                                                            if f.name in allowed]
        order = [(t.c[n].asc() if asc else t.c[n].desc()) for n, asc in
                 parse_sortby(sortby, allowed)] + [t.c[coll.key].asc()]
        props = func.json_build_object(*[x for n in chosen for x in (literal_column(f"'{n}'"),
                                                                     t.c[n])])
        # PostGIS writes each feature's JSON; one round trip brings the page and the count, and
        # Python never holds a feature object.
        feature = func.json_build_object(
            literal_column("'type'"), literal_column("'Feature'"), literal_column("'id'"),
            t.c[coll.key], literal_column("'geometry'"),
            func.ST_AsGeoJSON(geom, 9).op("::")(literal_column("json")) if geom is not None
            else literal_column("NULL::json"),
            literal_column("'properties'"), props).label("f")
        where = and_(*conds) if conds else None
        page = select(feature).order_by(*order).limit(bindparam("page_limit")).offset(
            bindparam("page_offset"))
        count = select(func.count()).select_from(t)
        if where is not None:
            page = page.where(where)
            count = count.where(where)
        else:
            # unfiltered: count exactly while cheap, else take the planner's estimate
            estimate = select(func.greatest(literal_column("reltuples"), 0).cast(BigInteger)
                              ).select_from(text("pg_class")).where(
                literal_column("oid") == func.to_regclass(literal(t.name))).scalar_subquery()
            count = select(case((estimate > EXACT_COUNT_LIMIT, estimate),
                                else_=count.scalar_subquery()))
        inner = page.subquery()
        stmt = select(func.coalesce(func.json_agg(inner.c.f).op("::")(literal_column("text")),
                                    "[]"), func.count(inner.c.f), count.scalar_subquery())
        compiled = stmt.compile(self.engine)
        return str(compiled), dict(compiled.params)

    def _frame_items(self, coll, box, limit, offset, properties, sortby, filter_text):
        frame = self.frame(coll)
        allowed = set(frame.columns) - {frame.geometry.name}
        mask = pd.Series(True, index=frame.index)
        if box is not None:
            import shapely

            mask &= shapely.intersects(np.asarray(frame.geometry.values), shapely.box(*box))
        if filter_text:
            mask &= cql2.to_mask(filter_text, frame)
        sel = frame[mask.values]
        order = parse_sortby(sortby, allowed)
        if order:
            sel = sel.sort_values([n for n, _ in order], ascending=[a for _, a in order],
                                  kind="stable")
        chosen = parse_properties(properties, allowed)
        return self._frame_page(coll, sel, limit, offset, chosen, len(sel))

    def _frame_page(self, coll, sel, limit, offset, chosen, matched):
        import shapely

        part = sel.iloc[offset:offset + limit]
        names = chosen or [c for c in part.columns if c != part.geometry.name]
        geoms = shapely.to_geojson(np.asarray(part.geometry.values)) if len(part) else []
        features = []
        for i, (_, row) in enumerate(part.iterrows()):
            features.append({"type": "Feature", "id": json_value(row[coll.key]),
                             "geometry": json.loads(geoms[i]) if geoms[i] else None,
                             "properties": {n: json_value(row[n]) for n in names}})
        return Page(json.dumps(features, ensure_ascii=False), int(matched), len(features))


@dataclass
class Page:
    """One page of features: the features as JSON text (as PostGIS wrote them) and the counts."""

    features_json: str
    matched: int
    returned: int
    timestamp: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(
        timespec="seconds"))

    @property
    def features(self) -> list[dict]:
        return json.loads(self.features_json)

    def as_dict(self, links: list[dict] | None = None) -> dict:
        out = {"type": "FeatureCollection", "features": self.features,
               "numberMatched": self.matched, "numberReturned": self.returned,
               "timeStamp": self.timestamp}
        if links is not None:
            out["links"] = links
        return out

    def to_json(self, links: list[dict] | None = None) -> str:
        """The FeatureCollection as text, without parsing the features again."""
        head = json.dumps({"type": "FeatureCollection", "numberMatched": self.matched,
                           "numberReturned": self.returned, "timeStamp": self.timestamp,
                           "links": links or []}, ensure_ascii=False)
        return head[:-1] + ', "features": ' + self.features_json + "}"
