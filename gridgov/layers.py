"""The layers gridgov stores, described once for import, export and the API.

Each :class:`Layer` names its table, natural key, geometry kind and fields. Field ``aliases`` let
people bring spreadsheets with Chinese headers (名称, 户数, ...); ``shp`` is the ≤10-character
name used in Shapefiles, whose DBF format truncates longer names.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridgov.errors import NotFound


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "text"  # text | int | bool | date | codes (';'-separated list)
    required: bool = False
    aliases: tuple[str, ...] = ()
    pattern: str | None = None  # regular expression the text must match in full
    choices: tuple[str, ...] | None = None
    references: str | None = None  # name of the layer whose key this field holds
    shp: str | None = None  # Shapefile field name when the name is longer than 10 characters

    @property
    def shp_name(self) -> str:
        return self.shp or self.name


@dataclass(frozen=True)
class Layer:
    name: str
    title_zh: str
    key: tuple[str, ...]
    geometry: str | None  # 'MultiPolygon' | 'Point' | None
    geometry_required: bool
    fields: tuple[Field, ...]

    @property
    def table(self) -> str:
        return self.name

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        """Fields stored as columns of the layer's own table (lists go to link tables)."""
        return [f.name for f in self.fields if f.type != "codes"]


_PROVENANCE = (
    Field("source", aliases=("来源",)),
    Field("source_note", aliases=("来源说明",), shp="src_note"),
)
_COUNTY = Field("county_code", pattern=r"\d{6}", references="counties",
                aliases=("县编码", "区县编码"), shp="cnty_code")

LAYERS: dict[str, Layer] = {}


def _register(layer: Layer) -> Layer:
    LAYERS[layer.name] = layer
    return layer


_register(Layer(
    "counties", "县", ("code",), "MultiPolygon", True,
    (
        Field("code", required=True, pattern=r"\d{6}", aliases=("编码", "代码", "adcode")),
        Field("name", required=True, aliases=("名称",)),
        Field("name_en", aliases=("英文名",)),
        Field("parent_code", pattern=r"\d{4,6}", aliases=("上级编码",), shp="parent_cd"),
        *_PROVENANCE,
    ),
))
_register(Layer(
    "townships", "乡镇", ("code",), "MultiPolygon", False,
    (
        Field("code", required=True, pattern=r"\d{9}", aliases=("编码", "代码")),
        _COUNTY,
        Field("name", required=True, aliases=("名称",)),
        Field("kind", choices=("town", "township", "subdistrict"), aliases=("类型",)),
        *_PROVENANCE,
    ),
))
_register(Layer(
    "divisions", "村/社区", ("code",), "MultiPolygon", False,
    (
        Field("code", required=True, pattern=r"\d{12}", aliases=("编码", "代码", "区划代码")),
        Field("township_code", required=True, pattern=r"\d{9}", references="townships",
              aliases=("乡镇编码",), shp="town_code"),
        _COUNTY,
        Field("name", required=True, aliases=("名称",)),
        Field("short_name", aliases=("简称",)),
        Field("kind", required=True, choices=("village", "community"), aliases=("类型",)),
        Field("village_rules_adopted", type="bool", aliases=("村规民约",), shp="vrules"),
        *_PROVENANCE,
    ),
))
_register(Layer(
    "work_groups", "工作组", ("code",), None, False,
    (
        Field("code", required=True, aliases=("编码",)),
        _COUNTY,
        Field("name", required=True, aliases=("名称",)),
        Field("duty", aliases=("职责",)),
        *_PROVENANCE,
    ),
))
_register(Layer(
    "compounds", "小区", ("code",), "MultiPolygon", True,
    (
        Field("code", required=True, aliases=("编码", "小区编码")),
        Field("community_code", required=True, pattern=r"\d{12}", references="divisions",
              aliases=("社区编码",), shp="comm_code"),
        _COUNTY,
        Field("name", required=True, aliases=("名称", "小区名称")),
        Field("households", type="int", required=True, aliases=("户数",), shp="households"),
        Field("population", type="int", aliases=("人口",)),
        *_PROVENANCE,
    ),
))
_register(Layer(
    "grid_cells", "网格", ("code",), "MultiPolygon", True,
    (
        Field("code", required=True, pattern=r"\d{14}", aliases=("网格编码", "编码")),
        Field("community_code", required=True, pattern=r"\d{12}", references="divisions",
              aliases=("社区编码",), shp="comm_code"),
        _COUNTY,
        Field("seq", type="int", aliases=("序号",)),
        *_PROVENANCE,
    ),
))
_register(Layer(
    "party_orgs", "机关党组织", ("code",), "Point", False,
    (
        Field("code", required=True, aliases=("编码", "党组织编码")),
        _COUNTY,
        Field("name", required=True, aliases=("名称", "党组织名称")),
        Field("parent_body", aliases=("所属单位",), shp="parent_bd"),
        Field("member_count", type="int", required=True, aliases=("党员数", "在职党员数"),
              shp="n_members"),
        Field("work_group_code", references="work_groups", aliases=("工作组编码",),
              shp="wg_code"),
        *_PROVENANCE,
    ),
))
_register(Layer(
    "members", "在职党员", ("code",), None, False,
    (
        Field("code", required=True, aliases=("编码", "党员编码")),
        Field("org_code", required=True, references="party_orgs", aliases=("党组织编码",)),
        Field("compound_code", references="compounds", aliases=("小区编码",), shp="cmpd_code"),
        _COUNTY,
        Field("name", required=True, aliases=("姓名",)),
        Field("phone", pattern=r"\d{11}", aliases=("电话", "手机", "手机号")),
        *_PROVENANCE,
    ),
))
_register(Layer(
    "assignments", "包联", ("org_code", "compound_code", "kind", "valid_from"), None, False,
    (
        Field("org_code", required=True, references="party_orgs", aliases=("党组织编码",)),
        Field("compound_code", required=True, references="compounds", aliases=("小区编码",),
              shp="cmpd_code"),
        _COUNTY,
        Field("kind", choices=("unit", "leader", "members"), aliases=("类型",)),
        Field("valid_from", type="date", required=True, aliases=("开始日期",)),
        Field("valid_to", type="date", aliases=("结束日期",)),
        Field("members", type="int", aliases=("党员数",)),
        Field("note", aliases=("备注",)),
        *_PROVENANCE,
    ),
))
_register(Layer(
    "practice_sites", "新时代文明实践阵地", ("code",), "Point", True,
    (
        Field("code", required=True, aliases=("编码",)),
        _COUNTY,
        Field("tier", required=True, choices=("center", "institute", "station"), aliases=("层级",)),
        Field("township_code", pattern=r"\d{9}", references="townships", aliases=("乡镇编码",),
              shp="town_code"),
        Field("division_code", pattern=r"\d{12}", references="divisions",
              aliases=("村社区编码",), shp="div_code"),
        Field("name", required=True, aliases=("名称",)),
        Field("demonstration", type="bool", aliases=("示范点",), shp="demo"),
        Field("theme", aliases=("特色",)),
        *_PROVENANCE,
    ),
))
_register(Layer(
    "key_tasks", "创城重点任务", ("code",), None, False,
    (
        Field("code", required=True, aliases=("编码",)),
        _COUNTY,
        Field("name", required=True, aliases=("名称", "任务")),
        Field("work_group_code", references="work_groups", aliases=("工作组编码",), shp="wg_code"),
        Field("responsible_orgs", type="codes", references="party_orgs",
              aliases=("责任单位",), shp="resp_orgs"),
        *_PROVENANCE,
    ),
))

_register(Layer(
    "roads", "道路", ("code",), "MultiLineString", True,
    (
        Field("code", required=True, aliases=("编码",)),
        _COUNTY,
        Field("name", aliases=("名称", "路名")),
        Field("kind", aliases=("类型", "等级")),
        *_PROVENANCE,
    ),
))

# Dependency order: a layer only references layers before it.
LAYER_ORDER = tuple(LAYERS)


def get_layer(name: str) -> Layer:
    try:
        return LAYERS[name]
    except KeyError:
        raise NotFound(f"unknown layer {name!r}; layers are: {', '.join(LAYER_ORDER)}") from None
