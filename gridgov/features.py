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
    >>> page = svc.items("compounds", limit=10, filter="households > 500")
    >>> page.matched, len(page.features)
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import (BigInteger, Engine, and_, bindparam, case, func, literal, literal_column,
                        select, text)
from sqlalchemy import exc as sa_exc

from gridgov import cql2
from gridgov.db import tables
from gridgov.errors import BadRequest, NotFound, Problem
from gridgov.layers import LAYERS, Layer

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100
# Every layer but the member roster (personal data: see /members and gridgov.auth).
PUBLISHED_LAYERS = ("counties", "townships", "divisions", "compounds", "grid_cells",
                    "party_orgs", "practice_sites", "roads", "work_groups", "key_tasks",
                    "assignments")
# Above this many rows (planner's estimate), an unfiltered page reports an estimated count
# instead of counting every row on every request.
EXACT_COUNT_LIMIT = 100_000
_JSON_TYPES = {"text": "string", "int": "integer", "bool": "boolean", "date": "string",
               "codes": "string"}


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


def _layer_collection(layer: Layer) -> Collection:
    props = {f.name: _JSON_TYPES[f.type] for f in layer.fields if f.type != "codes"}
    key = "code" if "code" in props else "id"  # assignments are keyed by their id
    return Collection(layer.name, f"{layer.title_zh} · {layer.name}",
                      f"Stored layer {layer.name}" + ("" if layer.geometry else " (no geometry)"),
                      key, props, (layer.table,), layer.geometry, layer=layer)


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

    live = ("compounds", "assignments", "party_orgs", "divisions", "townships", "grid_cells")
    return [
        Collection("coverage", "包联覆盖 · coverage",
                   "Coverage of every compound today: organizations, members, households per "
                   "member, office distance, status and flags", "code", {}, live, "MultiPolygon",
                   frame=cov),
        Collection("gaps", "问题小区 · gaps",
                   "Compounds needing action, ranked, with reasons (reasons_zh) and score parts",
                   "code", {}, live + ("practice_sites", "roads"), "MultiPolygon", frame=gap),
        Collection("access", "阵地可达性 · access",
                   "Walking distance from compounds and villages/communities to the nearest "
                   "practice site of each tier, with GB 50180 life circle", "code", {},
                   ("compounds", "divisions", "practice_sites", "roads"), "Point", frame=acc),
        Collection("org_load", "党组织负荷 · org load",
                   "Load of every Party organization (geometry: its office)", "code", {}, live,
                   "Point", frame=org_load),
    ]


def build_collections() -> dict[str, Collection]:
    out = {name: _layer_collection(LAYERS[name]) for name in PUBLISHED_LAYERS}
    out.update({c.id: c for c in _analysis_collections()})
    return out


def _bad(field_name: str, message: str) -> BadRequest:
    return BadRequest([Problem("request", None, field_name, message)])


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value in (None, ""):
        return None
    try:
        parts = [float(v) for v in value.split(",")]
    except ValueError:
        raise _bad("bbox", f"{value!r} is not four numbers: minx,miny,maxx,maxy") from None
    if len(parts) == 6:  # 3D bbox: drop the heights
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        raise _bad("bbox", f"{value!r} is not four numbers: minx,miny,maxx,maxy")
    minx, miny, maxx, maxy = parts
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise _bad("bbox", f"{value!r} is not in longitude/latitude (CRS84)")
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
            raise _bad("sortby", f"cannot sort by {name!r}; use one of {', '.join(sorted(allowed))}")
        out.append((name, ascending))
    return out


def parse_properties(value: str | None, allowed: set[str]) -> list[str] | None:
    if value in (None, ""):
        return None
    names = [p.strip() for p in value.split(",") if p.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise _bad("properties", f"unknown properties {', '.join(unknown)}; available: "
                                 f"{', '.join(sorted(allowed))}")
    return names


def _json_value(v):
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
        return [_json_value(x) for x in v]
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
    _versions: tuple | None = field(default=None, repr=False)
    _statements: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

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
        import hashlib
        import time

        now = time.monotonic()
        if self._versions is None or now - self._versions[0] > self.version_ttl:
            self._versions = (now, self.versions())
        all_versions = self._versions[1]
        v = {t: all_versions.get(t, 0) for t in (table_names or sorted(all_versions))}
        raw = json.dumps([dt.date.today().isoformat(), v], sort_keys=True)
        return hashlib.sha1(raw.encode()).hexdigest()[:16]

    # --- analysis frames ----------------------------------------------------------------------
    def frame(self, coll: Collection) -> gpd.GeoDataFrame:
        tag = self.version_tag(coll.tables)
        key = (coll.id, tag)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        result = coll.frame(self.engine)
        self._remember(key, result)
        return result

    def _remember(self, key, value) -> None:
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

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
            raise _bad("filter-lang", f"{filter_lang!r} is not supported; use cql2-text")
        if not 1 <= limit <= MAX_LIMIT:
            raise _bad("limit", f"limit must be between 1 and {MAX_LIMIT}")
        if offset < 0:
            raise _bad("offset", "offset must not be negative")
        box = parse_bbox(bbox) if isinstance(bbox, str) or bbox is None else bbox
        # Pages are cached per data version: a repeated request costs one version lookup.
        key = ("items", collection_id, box, limit, offset, properties, sortby, filter,
               self.version_tag(coll.tables))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        if coll.layer is not None:
            page = self._table_items(coll, box, limit, offset, properties, sortby, filter)
        else:
            page = self._frame_items(coll, box, limit, offset, properties, sortby, filter)
        self._remember(key, page)
        return page

    def item(self, collection_id: str, feature_id: str) -> dict:
        coll = self.collection(collection_id)
        if coll.layer is not None:
            t = tables.metadata.tables[coll.layer.table]
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
        with self._lock:
            compiled = self._statements.get(shape)
        if compiled is None:
            compiled = self._compile_items(coll, box, properties, sortby, filter_text, extra)
            with self._lock:
                self._statements[shape] = compiled
                while len(self._statements) > self.cache_size:
                    self._statements.popitem(last=False)
        sql_text, params = compiled
        try:
            with self.engine.connect() as conn:
                features_json, returned, matched = conn.exec_driver_sql(
                    sql_text, {**params, "page_limit": limit, "page_offset": offset}).one()
        except sa_exc.DataError as exc:  # e.g. households > 'abc': the value, not the server
            detail = str(exc.orig).strip().splitlines()[0]
            raise _bad("filter", f"a value does not fit its property: {detail}") from None
        return Page(features_json, int(matched), int(returned))

    def _compile_items(self, coll, box, properties, sortby, filter_text, extra):
        t = tables.metadata.tables[coll.layer.table]
        allowed = set(coll.properties)
        columns = {name: t.c[name] for name in allowed}
        conds = []
        if extra is not None:
            conds.append(extra)
        geom = t.c.geom if "geom" in t.c else None
        if box is not None:
            if geom is None:
                raise _bad("bbox", f"collection {coll.id!r} has no geometry")
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
            features.append({"type": "Feature", "id": _json_value(row[coll.key]),
                             "geometry": json.loads(geoms[i]) if geoms[i] else None,
                             "properties": {n: _json_value(row[n]) for n in names}})
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
