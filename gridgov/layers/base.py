"""What a layer is: one declaration from which the table, import, export, OGC collection, vector
tiles and the version and audit triggers all follow.

A :class:`Layer` states its table (fields with types, nullability, references and checks), its
key and geometry, the metadata people's files need (Chinese header aliases, Shapefile names,
patterns, choices), and what the platform does with it: published as an OGC collection or not,
which fields are personal data, its vector tiles, whether writes bump its data version and are
audited. Rules that only some layers have (a grid code that must extend its community code, the
overlap of assignment periods, grid cells that must tile their community) are methods that a
layer's subclass overrides, as a pygeoapi provider overrides ``query``; no code elsewhere asks
for a layer by name.

Example:
    >>> from gridgov.layers import get_layer
    >>> compounds = get_layer("compounds")
    >>> compounds.key, compounds.geometry, compounds.field("households").aliases
    (('code',), 'MultiPolygon', ('户数',))
    >>> [t.name for t in compounds.tiles]
    ['compounds']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from geoalchemy2 import Geometry
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, Date, DateTime, Float,
                        ForeignKey, ForeignKeyConstraint, Index, Integer, MetaData, SmallInteger,
                        Table, Text, UniqueConstraint, func, text)
from sqlalchemy.dialects.postgresql import JSONB

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from gridgov.errors import Problem
    from gridgov.settings import ImportSettings

SRID = 4326  # storage: lon/lat, what GeoJSON, OGC API Features and web maps expect
METRIC_SRID = 4546  # CGCS2000 / 3-degree Gauss-Krüger CM 111E, for metric work around Zhongyang

# field type -> (SQLAlchemy column type, JSON Schema type)
TYPES = {
    "text": (Text, "string"),
    "int": (Integer, "integer"),
    "smallint": (SmallInteger, "integer"),
    "bigint": (BigInteger, "integer"),
    "float": (Float(53), "number"),
    "bool": (Boolean, "boolean"),
    "date": (Date, "string"),
    "datetime": (DateTime(timezone=True), "string"),
    "json": (JSONB, "object"),
    "codes": (None, "string"),  # a list of references, stored in a link table
}


@dataclass(frozen=True)
class Link:
    """Where a ``codes`` field lives: a table of (owner key, referenced key, position)."""

    table: str
    owner_column: str
    member_column: str


@dataclass(frozen=True)
class Field:
    """One attribute of a layer: a column of its table (or, for ``codes``, rows of a link table).

    ``required``: a file must give a value (and the column is NOT NULL). ``not_null``: NOT NULL
    although a file may leave it out, because import derives it (county codes, grid sequence).
    A ``default`` is the column's server default and makes it NOT NULL too.
    ``personal``: personal data, masked below the admin role as this kind ("name", "phone").
    """

    name: str
    type: str = "text"
    required: bool = False
    not_null: bool = False
    default: str | None = None  # a literal value ("import", "false", "0")
    default_sql: str | None = None  # an SQL expression ("now()")
    aliases: tuple[str, ...] = ()
    pattern: str | None = None  # regular expression the text must match in full
    choices: tuple[str, ...] | None = None
    references: str | None = None  # the layer whose key this field holds
    shp: str | None = None  # Shapefile name when the name is longer than 10 characters
    personal: str | None = None
    link: Link | None = None
    comment: str | None = None

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"field {self.name}: unknown type {self.type!r}")
        if (self.type == "codes") != (self.link is not None):
            raise ValueError(f"field {self.name}: a codes field, and only one, needs a link")

    @property
    def shp_name(self) -> str:
        return self.shp or self.name

    @property
    def nullable(self) -> bool:
        return not (self.required or self.not_null or self.default is not None
                    or self.default_sql is not None)

    @property
    def json_type(self) -> str:
        return TYPES[self.type][1]

    @property
    def stored(self) -> bool:
        """A column of the layer's own table (lists go to link tables)."""
        return self.link is None


@dataclass(frozen=True)
class TileSpec:
    """A vector-tile layer drawn from a layer's table.

    ``columns`` is the SQL select list encoded as attributes. ``where`` filters the table. A
    tile layer that shows an analysis instead reads ``cache``, a table refreshed from the named
    analysis SQL file ``query`` whenever one of ``depends_on`` changes.
    """

    name: str
    title: str
    columns: str
    where: str | None = None
    minzoom: int = 8
    maxzoom: int = 20
    cache: str | None = None
    query: str | None = None
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Layer:
    name: str
    title_zh: str
    key: tuple[str, ...]
    geometry: str | None  # 'MultiPolygon' | 'MultiLineString' | 'Point' | None
    geometry_required: bool
    fields: tuple[Field, ...]
    # a surrogate bigserial key when the natural key has several fields (assignments' id)
    id_column: str | None = None
    checks: tuple[tuple[str, str], ...] = ()  # (name, SQL condition)
    unique: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, columns)
    published: bool = True  # an OGC API collection (personal fields are never in it)
    versioned: bool = True  # writes bump data_versions (ETags, page caches, screen refresh)
    audited: bool = False  # every written row goes to audit_log
    row_versions: bool = False  # a version column for optimistic concurrency (If-Match)
    editable: tuple[str, ...] = ()  # fields a planner may change through the edit API
    tiles: tuple[TileSpec, ...] = ()
    derived: tuple[str, ...] = ()  # fields import can derive when a file leaves them out
    description: str | None = None
    # One partition per county (LIST on county_code): a province's cases in one PostGIS, every
    # county query touching one partition. The key then includes county_code.
    partitioned: bool = False
    # ... and each county's partition by month of this timestamp column (old months detach)
    partition_months: str | None = None
    personal_geometry: bool = False  # positions of people: never published, admins only
    append_only: bool = False  # rows are never updated or deleted (an event log)
    provenance: bool = True  # source, source_note and updated_at columns
    county_key: str | None = None  # the county layer itself: its key is the county code
    # Writes record the (county, Beijing day of this column) of every row they touch, old and
    # new, in changed_days: what a summary kept per county and period must recompute
    # (gridgov.cases.kpis keeps the KPIs of past weeks and months by handle_due).
    changes_by: str | None = None

    # --- what the declaration says ------------------------------------------------------------
    @property
    def table(self) -> str:
        return self.name

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.fields)

    @property
    def column_names(self) -> list[str]:
        """Fields stored as columns of the layer's own table."""
        return [f.name for f in self.fields if f.stored]

    @property
    def primary_key(self) -> tuple[str, ...]:
        """The key the table enforces: the id or the key, with county_code when partitioned
        (PostgreSQL wants the partition column in every unique constraint)."""
        key = (self.id_column,) if self.id_column else self.key
        if self.partitioned and "county_code" not in key:
            key = (*key, "county_code")
        if self.partition_months and self.partition_months not in key:
            key = (*key, self.partition_months)
        return key

    @property
    def conflict_key(self) -> tuple[str, ...]:
        """Columns an upsert matches rows on (a unique constraint of the table)."""
        return (*self.key, "county_code") if self.partitioned and "county_code" not in self.key \
            else self.key

    @property
    def record_id(self) -> str:
        """The column that names one record in URLs (its id, else its one-column key)."""
        return self.id_column or self.key[0]

    @property
    def county_column(self) -> str | None:
        """The column holding a row's county code (a county's own code for counties; None for
        layers shared by every county, such as case categories)."""
        return self.county_key or ("county_code" if self.has("county_code") else None)

    @property
    def personal_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.personal)

    @property
    def public_fields(self) -> tuple[Field, ...]:
        """Fields any role may see: stored, and not personal data."""
        return tuple(f for f in self.fields if f.stored and not f.personal)

    @property
    def attributes(self) -> tuple[Field, ...]:
        """Public fields without the provenance ones: what a record says about itself."""
        return tuple(f for f in self.public_fields if f.name not in PROVENANCE_NAMES)

    @property
    def links(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.link is not None)

    # --- the table ------------------------------------------------------------------------------
    def define(self, metadata: MetaData) -> Table:
        """The layer's table (and its link tables) in ``metadata``; the one place columns,
        constraints and indexes are written down."""
        columns: list = []
        pk = self.primary_key
        if self.id_column:
            columns.append(Column(self.id_column, BigInteger, primary_key=True,
                                  autoincrement=True))
        provenance, references = [], []
        for f in self.fields:
            if not f.stored:
                continue
            args = []
            if f.references and _partitioned(f.references, self):
                # a partitioned table is referenced by its key and county together
                ref_key = _key_of(f.references, metadata)
                references.append(ForeignKeyConstraint(
                    [f.name, "county_code"], [f"{f.references}.{ref_key}",
                                              f"{f.references}.county_code"]))
            elif f.references:
                args = [ForeignKey(f"{f.references}.{_key_of(f.references, metadata)}")]
            default = text(f.default_sql) if f.default_sql else f.default
            # a reference is indexed (its referenced row's delete looks it up), except the
            # county of a table partitioned by county: each partition holds one value of it
            index = bool(f.references) and not (self.partitioned and f.name == "county_code")
            column = Column(f.name, TYPES[f.type][0], *args, nullable=f.nullable,
                            server_default=default, index=index, primary_key=f.name in pk)
            (provenance if f.name in PROVENANCE_NAMES else columns).append(column)
        if self.geometry:
            columns.append(Column("geom", Geometry(self.geometry.upper(), srid=SRID,
                                                   spatial_index=False),
                                  nullable=not self.geometry_required))
        columns += provenance
        if self.provenance:
            columns.append(Column("updated_at", DateTime(timezone=True), nullable=False,
                                  server_default=func.now()))
        if self.row_versions:
            columns.append(Column("version", Integer, nullable=False, server_default="1"))
        constraints: list = [CheckConstraint(sql, name=name) for name, sql in self.checks]
        # a field's choices are a check too, unless the layer states a fuller one by that name
        stated = {name for name, _ in self.checks}
        for f in self.fields:
            if f.choices and f.stored and f.name not in stated:
                values = ", ".join(repr(v) for v in f.choices)
                sql = f"{f.name} IN ({values})"
                constraints.append(CheckConstraint(
                    f"{f.name} IS NULL OR {sql}" if f.nullable else sql, name=f.name))
        constraints += references
        if self.geometry:
            constraints.append(CheckConstraint("geom IS NULL OR ST_IsValid(geom)",
                                               name="geom_valid"))
        if self.id_column:
            constraints.append(UniqueConstraint(*self.conflict_key,
                                                name=f"uq_{self.table}_natural"))
        constraints += [UniqueConstraint(*cols, name=f"uq_{self.table}_{name}")
                        for name, cols in self.unique]
        options = {"postgresql_partition_by": "LIST (county_code)"} if self.partitioned else {}
        if self.partition_months:
            # read by gridgov_county_partitions: a county's partition is itself split by month
            options["comment"] = f"gridgov:months({self.partition_months})"
        table = Table(self.table, metadata, *columns, *constraints, info=self._trigger_info(),
                      **options)
        if self.geometry:
            Index(f"ix_{self.table}_geom", table.c.geom, postgresql_using="gist")
        list(self.schema_extras(table))  # indexes attach themselves to the table
        for f in self.links:
            self._define_link(f, metadata)
        return table

    def _trigger_info(self) -> dict:
        return {"versioned": self.versioned,
                "audit_key": self.record_id if self.audited else None,
                "append_only": self.append_only, "partitioned": self.partitioned,
                "partition_months": self.partition_months, "changes_by": self.changes_by}

    def _define_link(self, f: Field, metadata: MetaData) -> Table:
        link = f.link
        return Table(
            link.table, metadata,
            Column(link.owner_column, Text, ForeignKey(f"{self.table}.{self.key[0]}",
                                                       ondelete="CASCADE"), primary_key=True),
            Column(link.member_column, Text,
                   ForeignKey(f"{f.references}.{_key_of(f.references, metadata)}"),
                   primary_key=True),
            Column("position", SmallInteger, nullable=False),
            info={"versioned": self.versioned, "audit_key": None, "link_of": self.name},
        )

    # --- hooks: override in a layer's subclass ----------------------------------------------
    def schema_extras(self, table: Table) -> Iterable:
        """Indexes beyond those every layer has (create them bound to ``table``)."""
        return ()

    def derive(self, record: dict) -> None:
        """Fill the fields listed in ``derived`` that a file left out."""

    def row_problems(self, record: dict) -> Iterable[tuple[str, str]]:
        """Rules between the fields of one row: (field, what is wrong)."""
        return ()

    def rows_problems(self, conn: "Connection", records: list[dict], rows: list[int],
                      file: str) -> list["Problem"]:
        """Rules between rows (and the rows already stored), checked before writing."""
        return []

    def written_problems(self, conn: "Connection", records: list[dict], rows: list[int],
                         file: str, settings: "ImportSettings") -> list["Problem"]:
        """Rules about the layer as a whole, checked inside the transaction after writing."""
        return []

    def before_write(self, conn: "Connection", records: list[dict]) -> None:
        """Work an import needs done before its rows are written (partitions for their months,
        ...); the default makes the month partitions the rows fall in."""
        if self.partition_months:
            from sqlalchemy import text as sql

            from zoneinfo import ZoneInfo

            china = ZoneInfo("Asia/Shanghai")  # months are Beijing-time months
            months = sorted({(r["county_code"],
                              r[self.partition_months].astimezone(china).strftime("%Y-%m-01"))
                             for r in records if r.get(self.partition_months)})
            for county, month in months:
                conn.execute(sql("SELECT gridgov_month_partitions(:t, :c, CAST(:m AS date), "
                                 "CAST(:m AS date))"), {"t": self.table, "c": county, "m": month})

    def after_write(self, conn: "Connection", records: list[dict]) -> None:
        """Work that follows an import inside its transaction (routing imported cases, ...)."""


def _partitioned(layer_name: str, referrer: Layer) -> bool:
    from gridgov.layers import LAYERS

    layer = referrer if layer_name == referrer.name else LAYERS[layer_name]
    return layer.partitioned


def _key_of(layer_name: str, metadata: MetaData) -> str:
    """The referenced column of a foreign key: the referenced layer's one-column key."""
    from gridgov.layers import LAYERS

    return LAYERS[layer_name].key[0]


# Fields most layers share.
PROVENANCE_NAMES = frozenset({"source", "source_note"})
PROVENANCE = (
    Field("source", default="import", aliases=("来源",),
          comment="nbs2023, amap, synthetic, import, ... : what is real and what is invented"),
    Field("source_note", aliases=("来源说明",), shp="src_note"),
)
COUNTY = Field("county_code", not_null=True, pattern=r"\d{6}", references="counties",
               aliases=("县编码", "区县编码"), shp="cnty_code")
