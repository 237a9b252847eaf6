"""Folium map pages: command-center overview, planners' gaps, one organization's territory,
practice-site access; and the command center's trends page (Vega-Lite charts, no map).

The overview also flags what the command center must chase (督办): organizations late with their
monthly account (报账) or with a demand past its deadline unanswered (要账), as diamonds at their
offices with a list of the first to chase, from :func:`gridgov.activity.supervision.by_unit`.

Every page loads Leaflet and its plugins from ``asset_base`` (the service's own /static; nothing
from a CDN) and starts with no basemap, so it works on an intranet; the overview draws its own
base (roads, township and community outlines, place names) from the service's tiles, in a light
look or a dark one for the wall screen. Large layers (compounds, offices, sites) come as vector
tiles from the service; small per-page results (the gap list, one organization's compounds,
access points) are inlined. Popups and legends are in Chinese.

The pages' HTML, CSS and JavaScript are Jinja2 templates in ``templates/`` (see
:mod:`gridgov.maps.templating`); this module chooses what goes on each page and with which data.

Example:
    >>> m = overview_map(engine)                     # tiles from the service, KPIs inline
    >>> type(m)
    <class 'folium.folium.Map'>
    >>> html = m.get_root().render()
    >>> "中阳县网格包联指挥中心" in html, "2,207" in html
    (True, True)
    >>> save_standalone(engine, "overview", "overview.html")    # one file, no service needed
    PosixPath('overview.html')
"""

from __future__ import annotations

import json
from pathlib import Path
from dataclasses import dataclass, replace
from urllib.parse import urlencode

import folium
import geopandas as gpd
import shapely
from folium.plugins import VectorGridProtobuf
from sqlalchemy import Engine, text

from gridgov.activity import supervision as supervision_mod
from gridgov.analysis import access as access_mod
from gridgov.analysis import coverage as coverage_mod
from gridgov.analysis import gaps as gaps_mod
from gridgov.analysis import trends as trends_mod
from gridgov.calendar import SHANGHAI
from gridgov.cases.lifecycle import OPEN, STATUS_ZH as CASE_STATUS_ZH
from gridgov.errors import InvalidParameter, NotFound
from gridgov.io.crs import from_wgs84
from gridgov.maps import style
from gridgov.maps.templating import macro, render

SEAT = (37.34, 111.205)
CASE_POLL_MS = 4000  # the overview asks /versions this often: a new report shows within seconds
FLAG_LIST_TOP = 5  # the 督办 panel lists the units to chase first; the map shows them all
# a change in any of these redraws the 督办 layer (lateness itself comes with time: it also reloads
# every few minutes)
FLAG_TABLES = ("accounts", "demands", "party_orgs", "work_groups")
# Leaflet and its plugins, vendored (see static/vendor/README.md); the service serves this folder
# at /static, and standalone pages inline the files.
STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class MapOptions:
    base_url: str = ""  # prefix of the service's URLs ("" = same origin)
    asset_base: str = "/static/vendor"
    basemap: str = "none"  # none | osm | tianditu | amap
    tianditu_key: str | None = None
    refresh_seconds: int = 60
    # A single self-contained HTML file: assets and data inlined, no service needed.
    standalone: bool = False
    engine: Engine | None = None  # standalone pages read their layers through it
    theme: str = "light"  # the overview's look: light, or dark for the wall screen


class _Rendered(folium.Element):
    """Text rendered by our templates, put on the page as it is. (A plain ``folium.Element``
    would parse it as a Jinja2 template once more: a name holding "{{" would break the page.)"""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


def _map(opts: MapOptions, zoom: int = 14, location=SEAT) -> folium.Map:
    m = folium.Map(location=list(location), zoom_start=zoom, tiles=None, control_scale=True)
    a = opts.base_url + opts.asset_base
    if opts.standalone:
        vendor = STATIC / "vendor" / "leaflet"
        m.default_js, m.default_css = [], []
        m.get_root().header.add_child(_Rendered(render(
            "standalone_assets.html.j2", css=(vendor / "leaflet.css").read_text(encoding="utf-8"),
            js=(vendor / "leaflet.js").read_text(encoding="utf-8"))), index=0)
    else:
        # Only Leaflet itself: no jQuery, Bootstrap or icon fonts from CDNs.
        m.default_js = [("leaflet", f"{a}/leaflet/leaflet.js")]
        m.default_css = [("leaflet_css", f"{a}/leaflet/leaflet.css")]
    m.get_root().header.add_child(_Rendered(render("jquery_shim.html.j2")))
    _basemap(m, opts)
    return m


def _basemap(m: folium.Map, opts: MapOptions) -> None:
    if opts.basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap 底图").add_to(m)
    elif opts.basemap == "tianditu" and opts.tianditu_key:
        for layer, name in (("vec", "天地图 矢量"), ("cva", "天地图 注记")):
            folium.TileLayer(
                tiles=f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                      f"&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                      f"&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={opts.tianditu_key}",
                attr="天地图", name=name, subdomains="01234567", overlay=layer == "cva").add_to(m)
    elif opts.basemap == "amap":
        # Amap tiles are in GCJ-02; the service shifts overlays to match (?crs=gcj02).
        folium.TileLayer(
            tiles="https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
                  "&style=8&x={x}&y={y}&z={z}", attr="高德地图", name="高德 底图",
            subdomains="1234").add_to(m)


def _on_basemap(opts: MapOptions, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Inline overlays in the basemap's coordinates: GCJ-02 for Amap, else as stored (WGS84)."""
    if opts.basemap != "amap" or frame.empty:
        return frame
    return frame.set_geometry([from_wgs84(g, "gcj02") for g in frame.geometry], crs=4326)


def _latlon(opts: MapOptions, lat: float, lon: float) -> tuple[float, float]:
    if opts.basemap != "amap":
        return lat, lon
    p = from_wgs84(shapely.Point(lon, lat), "gcj02")
    return p.y, p.x


def _tile_url(opts: MapOptions, layer: str) -> str:
    shift = "?crs=gcj02" if opts.basemap == "amap" else ""
    return f"{opts.base_url}/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf{shift}"


def _inline_layer(m: folium.Map, opts: MapOptions, layer: str, style_js: str,
                  popup_js: str | None, interactive: bool = True) -> None:
    """Standalone pages: the tile layer's features inlined, drawn with the same style and popup
    functions as the vector tiles."""
    from gridgov.tiles import tile_layer

    frame = tile_layer(layer).frame(opts.engine)
    # through JSON text: GeoDataFrame.to_json knows numpy's numbers, the template's |tojson not
    data = json.loads(_on_basemap(opts, frame).to_json(na="null"))
    _script(m, "inline_layer.js.j2", map=m.get_name(), data=data, style_js=style_js,
            popup_js=popup_js, layer=layer, interactive=interactive)


def _vector(m: folium.Map, opts: MapOptions, layer: str, name: str, style_js: str,
            popup_js: str | None, show: bool = True, z_index: int | None = None,
            interactive: bool = True) -> VectorGridProtobuf | None:
    """A tile layer from the service (a standalone page inlines its features instead).
    ``z_index`` orders tile layers (the overview's base under the compounds); a layer that is
    not ``interactive`` takes no clicks."""
    if opts.standalone:
        _inline_layer(m, opts, layer, style_js, popup_js, interactive)
        return None
    options = render("vector_options.js.j2", layer=layer, style_js=style_js, z_index=z_index,
                     interactive=interactive)
    vg = VectorGridProtobuf(_tile_url(opts, layer), name, options, show=show)
    vg.default_js = [("vectorGrid", f"{opts.base_url}{opts.asset_base}/leaflet.vectorgrid/"
                                    "Leaflet.VectorGrid.bundled.min.js")]
    vg.add_to(m)
    if popup_js:
        _script(m, "vector_popup.js.j2", map=m.get_name(), layer=vg.get_name(),
                popup_js=popup_js)
    return vg


def _script(m: folium.Map, template: str, **context) -> None:
    """Add a page script (a template extending on_load.js.j2)."""
    m.get_root().script.add_child(_Rendered(render(template, **context)))


def _panel(m: folium.Map, template: str, **context) -> None:
    """Add a floating panel (a template calling panel.html.j2's macro)."""
    m.get_root().html.add_child(_Rendered(render(template, **context)))


def _outlines(m: folium.Map, engine: Engine, opts: MapOptions, townships: bool = True,
              county_color: str = "#424242") -> None:
    """County and township boundaries, inline (the overview draws the townships from tiles)."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT 'county' AS kind, name, ST_AsBinary(ST_Boundary(geom)) FROM counties"
            + (" UNION ALL SELECT 'township', name, ST_AsBinary(ST_Boundary(geom)) FROM townships "
               "WHERE geom IS NOT NULL" if townships else ""))).all()
    frame = _on_basemap(opts, gpd.GeoDataFrame(
        {"kind": [r[0] for r in rows], "name": [r[1] for r in rows]},
        geometry=[shapely.from_wkb(bytes(r[2])) for r in rows], crs=4326))
    fc = json.loads(frame.to_json(ensure_ascii=False))
    folium.GeoJson(fc, name="县、乡镇界 · boundaries" if townships else "县界 · county",
                   style_function=lambda f: {
        "color": county_color if f["properties"]["kind"] == "county" else "#9e9e9e",
        "weight": 3 if f["properties"]["kind"] == "county" else 1.5, "fill": False,
        "dashArray": None if f["properties"]["kind"] == "county" else "6 4"},
        tooltip=folium.GeoJsonTooltip(["name"], labels=False)).add_to(m)


def _open_cases(m: folium.Map, opts: MapOptions, control: folium.LayerControl) -> None:
    """Open cases, clustered at low zoom (Leaflet.markercluster), overdue in red. Live pages read
    them from the OGC collection and poll /versions (cases_layer.js.j2); files carry them."""
    vendor = STATIC / "vendor" / "leaflet.markercluster"
    css = [vendor / "MarkerCluster.css", vendor / "MarkerCluster.Default.css"]
    data = None
    if opts.standalone:
        from gridgov.tiles import tile_layer

        m.get_root().header.add_child(_Rendered(render(
            "standalone_assets.html.j2", css="\n".join(f.read_text(encoding="utf-8") for f in css),
            js=(vendor / "leaflet.markercluster.js").read_text(encoding="utf-8"))))
        data = json.loads(_on_basemap(opts, tile_layer("cases").frame(opts.engine)).to_json(
            na="null"))
    else:
        a = f"{opts.base_url}{opts.asset_base}/leaflet.markercluster"
        m.default_js = [*m.default_js, ("markercluster", f"{a}/leaflet.markercluster.js")]
        m.default_css = [*m.default_css, *((f.stem, f"{a}/{f.name}") for f in css)]
    m.get_root().header.add_child(_Rendered(render(
        "inline_style.html.j2", css=(STATIC / "cases" / "map.css").read_text(encoding="utf-8"))))
    with opts.engine.connect() as conn:
        names = dict(conn.execute(text("SELECT code, name FROM case_categories")).all())
    items = urlencode({"filter": f"status IN ({', '.join(repr(s) for s in OPEN)})",
                       "properties": "code,category_code,status,unit_code,reported_at,handle_due",
                       "limit": 10_000})
    _script(m, "cases_layer.js.j2", map=m.get_name(), control=control.get_name(), data=data,
            items_url=f"{opts.base_url}/collections/cases/items?{items}",
            versions_url=f"{opts.base_url}/versions?tables=cases", interval_ms=CASE_POLL_MS,
            categories=names, status_zh=CASE_STATUS_ZH, gcj02=opts.basemap == "amap",
            case_url=None if opts.standalone else f"{opts.base_url}/center/cases/")
    _panel(m, "cases_panel.html.j2", link=None if opts.standalone else
           f"{opts.base_url}/center/cases")


# The tile layers' JavaScript style and popup functions (macros of styles.js.j2 and popups.js.j2),
# with the colours and labels every map shares.
_STATUS_STYLE = macro("styles.js.j2", "status", colors=style.STATUS_COLORS)
_COMPOUND_POPUP = macro("popups.js.j2", "compound", status_zh=style.STATUS_ZH)
_SITE_STYLE = macro("styles.js.j2", "site", colors=style.TIER_COLORS)
_SITE_POPUP = macro("popups.js.j2", "site", tier_zh=style.TIER_ZH)
_OFFICE_POPUP = macro("popups.js.j2", "office")


def _local(t) -> str:
    return f"{t.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


def supervision_flags(engine: Engine, opts: MapOptions = MapOptions(),
                      as_of=None) -> dict:
    """What the overview's 督办 layer and panel show, JSON-ready (the service also serves it at
    /maps/overview/supervision): the counts of late accounts and overdue demands, and each unit
    to chase (:func:`gridgov.activity.supervision.by_unit`, ranked) with its office in the
    basemap's coordinates and times in Beijing time. Organizations and work groups only."""
    f = supervision_mod.by_unit(engine, as_of)
    units = []
    for u in f["units"]:
        lat, lon = u["lat"], u["lon"]
        if lat is not None:
            lat, lon = (round(c, 7) for c in _latlon(opts, lat, lon))
        units.append({**u, "lat": lat, "lon": lon,
                      "items": [{**i, "since": _local(i["since"])} for i in u["items"]]})
    return {"as_of": _local(f["as_of"]), "late_accounts": f["late_accounts"],
            "overdue_demands": f["overdue_demands"], "units": units}


def _flags(m: folium.Map, opts: MapOptions, control: folium.LayerControl,
           data: dict) -> None:
    """The 督办 diamonds and the command center's list (flags_layer.js.j2, flags_panel.html.j2);
    a live page reloads them from the service, a file carries them as they were."""
    live = not opts.standalone
    _panel(m, "flags_panel.html.j2", f=data,
           link=f"{opts.base_url}/supervision/flags?format=csv" if live else None)
    _script(m, "flags_layer.js.j2", map=m.get_name(), control=control.get_name(), data=data,
            top=FLAG_LIST_TOP,
            url=f"{opts.base_url}/maps/overview/supervision" if live else None,
            versions_url=f"{opts.base_url}/versions?tables={','.join(FLAG_TABLES)}"
            if live else None,
            interval_ms=opts.refresh_seconds * 1000)


COLORINGS = ("paper", "verified")  # the overview's 纸面/实际 toggle
# place-name labels over the overview's base: kind -> [min zoom, max zoom]
LABEL_ZOOMS = {"township": [0, 13], "village": [12, 30], "community": [14, 30]}


def _theme(opts: MapOptions) -> dict:
    if opts.theme not in style.THEMES:
        raise InvalidParameter("theme", f"theme must be one of {', '.join(style.THEMES)}")
    return style.THEMES[opts.theme]


def _overview_base(m: folium.Map, engine: Engine, opts: MapOptions, t: dict) -> None:
    """An offline base for the wall screen, from the service's own tiles (inlined in a file):
    roads, then community and township outlines, beneath the compounds; the county's outline
    inline above them."""
    _vector(m, opts, "roads", "道路 · roads", macro("styles.js.j2", "road", kinds=t["road"],
                                                   casing=t["road_casing"]),
            None, z_index=1, interactive=False)
    _vector(m, opts, "divisions", "村/社区界 · communities",
            macro("styles.js.j2", "outline", color=t["division"], weight=1, dash="3 3"),
            None, z_index=2, interactive=False)
    _vector(m, opts, "townships", "乡镇界 · townships",
            macro("styles.js.j2", "outline", color=t["township"], weight=2.5, dash="10 5"),
            None, z_index=3, interactive=False)
    _outlines(m, engine, opts, townships=False, county_color=t["county"])


def _labels(m: folium.Map, engine: Engine, opts: MapOptions,
            control: folium.LayerControl) -> None:
    """Township, village and community names at a point inside each (labels.js.j2)."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT 'township' AS kind, name, ST_Y(p) AS lat, ST_X(p) AS lon FROM (SELECT "
            "name, ST_PointOnSurface(geom) AS p FROM townships WHERE geom IS NOT NULL) t "
            "UNION ALL SELECT kind, name, ST_Y(p), ST_X(p) FROM (SELECT "
            "CASE WHEN kind = 'community' THEN 'community' ELSE 'village' END AS kind, "
            "coalesce(short_name, name) AS name, ST_PointOnSurface(geom) AS p FROM divisions "
            "WHERE geom IS NOT NULL) d")).all()
    places = []
    for kind, name, lat, lon in rows:
        lat, lon = _latlon(opts, lat, lon)
        places.append({"kind": kind, "name": name, "lat": round(lat, 6), "lon": round(lon, 6)})
    _script(m, "labels.js.j2", map=m.get_name(), places=places, zooms=LABEL_ZOOMS,
            control=control.get_name())


def overview_map(engine: Engine, opts: MapOptions = MapOptions(),
                 kpis: dict | None = None, visits: dict | None = None,
                 coloring: str = "paper", month: str | None = None,
                 flags: dict | None = None) -> folium.Map:
    """Command center: compounds by coverage status on paper or, month by month, by verified
    visits (the 纸面/实际 toggle and the month slider, over the last 12 full months), offices,
    sites by tier, on an offline base of roads, outlines and place names; the KPIs, paper and
    verified side by side; the organizations late with accounts or demands (督办), on the map
    and listed. ``opts.theme="dark"`` is the wall screen's look.

    ``kpis``: today's figures (computed when not given); ``visits``: the month's coverage by
    visits as :func:`gridgov.analysis.trends.month_status` gives it (the service passes both
    from its caches); ``coloring``: paper or verified at first; ``month``: "YYYY-MM" (default
    the last full month); ``flags``: :func:`supervision_flags` (computed now when not given)."""
    opts = replace(opts, engine=engine)
    t = _theme(opts)
    if coloring not in COLORINGS:
        raise InvalidParameter("coloring", "coloring must be paper or verified")
    months = trends_mod.months_back(12)
    month = month or months[-1]
    if month not in months:
        raise InvalidParameter("month", f"a month from {months[0]} to {months[-1]} "
                                        "(the last 12 full months)")
    m = _map(opts)
    m.get_root().header.add_child(_Rendered(render("overview_style.html.j2", t=t,
                                                   dark=opts.theme == "dark")))
    _overview_base(m, engine, opts, t)
    paper_style = macro("styles.js.j2", "status", colors=t["status"],
                        outline=t["compound_outline"], opacity=t["fill_opacity"])
    status_zh = {**style.STATUS_ZH, "inactive": style.INACTIVE_ZH}
    compounds = _vector(m, opts, "compounds", "小区包联状态 · compounds", paper_style,
                        macro("popups.js.j2", "compound_with_visits", status_zh=style.STATUS_ZH),
                        z_index=5)
    _vector(m, opts, "offices", "机关党组织驻地 · offices",
            macro("styles.js.j2", "office", color=t["office"]), _OFFICE_POPUP, z_index=6)
    _vector(m, opts, "practice_sites", "新时代文明实践阵地 · practice sites",
            macro("styles.js.j2", "site", colors=t["tiers"]), _SITE_POPUP, z_index=7)
    k = kpis if kpis is not None else coverage_mod.kpis(coverage_mod.coverage(engine))
    if opts.standalone:  # a file carries every month: it has no service to ask
        payloads = {mo: (visits if visits is not None and visits["period"] == mo
                         else trends_mod.month_status(engine, mo)) for mo in months}
    else:
        payloads = {month: visits if visits is not None and visits["period"] == month
                    else trends_mod.month_status(engine, month)}
    from gridgov.settings import ActivitySettings, current

    days = current(ActivitySettings).min_visit_days
    trends_url = None if opts.standalone else (
        f"{opts.base_url}/maps/trends" + ("?theme=dark" if opts.theme == "dark" else ""))
    _panel(m, "kpi_panel.html.j2", k=k, v=payloads[month], months=months, month=month,
           coloring=coloring, trends=trends_url,
           note=f"实际走访：当月至少{days}天有包联单位党员核验打卡，否则为有名无实")
    legend = {**{style.STATUS_ZH[s]: t["status"][s] for s in style.STATUS_COLORS},
              style.INACTIVE_ZH: t["status"]["inactive"],
              **{style.TIER_ZH[tier]: c for tier, c in t["tiers"].items()},
              "机关党组织驻地": t["office"], "未结工单": "#ef6c00", "超期工单": "#c62828",
              **{style.FLAG_ZH[kind]: c for kind, c in t["flag"].items()}}
    _panel(m, "legend.html.j2", items=legend, title="图例 · legend")
    control = folium.LayerControl(collapsed=False).add_to(m)
    _labels(m, engine, opts, control)
    _open_cases(m, opts, control)
    _flags(m, opts, control, flags if flags is not None else supervision_flags(engine, opts))
    labels = {mo: f"{int(mo[:4])}年{int(mo[5:])}月" for mo in months}
    _script(m, "coverage_toggle.js.j2", months=months, labels=labels, colors=t["status"],
            status_zh=status_zh, outline=t["compound_outline"], opacity=t["fill_opacity"],
            url=None if opts.standalone else
            f"{opts.base_url}/maps/overview/coverage?period=",
            versions_url=None if opts.standalone else
            f"{opts.base_url}/versions?tables=checkins,assignments,compounds,members",
            interval_ms=opts.refresh_seconds * 1000, payloads=payloads, coloring=coloring,
            month=month, layer=compounds.get_name() if compounds is not None else None,
            paper_style_js=paper_style)
    if not opts.standalone:  # a file has no service to poll
        # poll the KPIs; when the data version moves, redraw the tile layers and the figures
        _script(m, "refresh.js.j2", url=f"{opts.base_url}/analysis/kpis",
                interval_ms=opts.refresh_seconds * 1000)
    return m


def gaps_map(engine: Engine, opts: MapOptions = MapOptions(), top: int = 50) -> folium.Map:
    """Planners: every compound by status (tiles), the ranked gaps inline with their reasons, and
    the ranked list beside the map (click a row to fly to the compound)."""
    opts = replace(opts, engine=engine)
    m = _map(opts)
    _outlines(m, engine, opts)
    _vector(m, opts, "compounds", "小区包联状态 · compounds", _STATUS_STYLE, _COMPOUND_POPUP,
            show=True)
    g = gaps_mod.gaps(engine).head(top)
    frame = _on_basemap(opts, gpd.GeoDataFrame(
        g[["rank", "code", "name", "households", "priority", "reasons_zh", "status", "geometry"]],
        geometry="geometry", crs=4326))
    folium.GeoJson(
        frame.to_json(na="null", ensure_ascii=False), name="问题小区 · gaps",
        style_function=lambda f: {"color": "#b71c1c", "weight": 3, "fillOpacity": 0.0},
        popup=folium.GeoJsonPopup(["rank", "name", "households", "priority", "reasons_zh"],
                                  aliases=["排序", "小区", "户数", "优先级得分", "问题"]),
    ).add_to(m)
    points = frame.geometry.representative_point()
    _panel(m, "gap_list.html.j2", gaps=[
        {"lat": p.y, "lon": p.x, "name": r["name"], "households": r["households"],
         "priority": r["priority"], "reasons": r["reasons_zh"]}
        for (_, r), p in zip(frame.iterrows(), points)])
    _script(m, "gap_list.js.j2", map=m.get_name())
    _panel(m, "legend.html.j2", title="图例",
           items={style.STATUS_ZH[s]: c for s, c in style.STATUS_COLORS.items()} |
           {"问题小区（红框）": "#b71c1c"})
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def org_map(engine: Engine, org_code: str, opts: MapOptions = MapOptions()) -> folium.Map:
    """One organization's territory: its office, its compounds and the walk between them."""
    opts = replace(opts, engine=engine)
    with engine.connect() as conn:
        org = conn.execute(text("SELECT name, parent_body, member_count, ST_Y(geom), ST_X(geom) "
                                "FROM party_orgs WHERE code = :c"), {"c": org_code}).first()
    if org is None:
        raise NotFound(f"no organization with code {org_code!r}")
    cov = coverage_mod.coverage(engine)
    mine = cov[cov["org_codes"].map(lambda codes: org_code in codes)]
    location = _latlon(opts, org[3], org[4]) if org[3] is not None else SEAT
    m = _map(opts, zoom=15, location=location)
    _outlines(m, engine, opts)
    if len(mine):
        frame = _on_basemap(opts, gpd.GeoDataFrame(
            mine[["code", "name", "households", "members", "status_zh", "orgs_zh", "geometry"]],
            geometry="geometry", crs=4326))
        folium.GeoJson(frame.to_json(na="null", ensure_ascii=False), name="包联小区",
                       style_function=lambda f: {"color": "#1565c0", "fillOpacity": 0.4},
                       popup=folium.GeoJsonPopup(["name", "households", "members", "status_zh",
                                                  "orgs_zh"],
                                                 aliases=["小区", "户数", "下沉党员", "状态",
                                                          "包联单位"])).add_to(m)
        if org[3] is not None:
            for geom in frame.geometry:
                p = geom.representative_point()
                folium.PolyLine([location, (p.y, p.x)], color="#1565c0", weight=2,
                                dash_array="5 5").add_to(m)
    if org[3] is not None:
        folium.CircleMarker(location, radius=8, color="#fff", fill=True, fill_color="#37474f",
                            fill_opacity=1, popup=render("org_popup.html.j2", name=org[0],
                                                         parent_body=org[1], members=org[2])
                            ).add_to(m)
    _panel(m, "org_panel.html.j2", name=org[0], members=org[2], compounds=len(mine))
    return m


def access_map(engine: Engine, opts: MapOptions = MapOptions()) -> folium.Map:
    """Practice-site access: 5/10/15-minute circles round each site, places by life circle."""
    opts = replace(opts, engine=engine)
    from gridgov.settings import AnalysisSettings, current

    s = current(AnalysisSettings)
    m = _map(opts, zoom=13)
    _outlines(m, engine, opts)
    with engine.connect() as conn:
        sites = conn.execute(text("SELECT code, name, tier, ST_Y(geom), ST_X(geom) FROM "
                                  "practice_sites ORDER BY code")).all()
    circles = folium.FeatureGroup(name="生活圈 · life circles (步行距离 ÷ 绕行系数)")
    for _code, _name, _tier, lat, lon in sites:
        lat, lon = _latlon(opts, lat, lon)
        for minutes, walk in ((15, s.circle_15_m), (10, s.circle_10_m), (5, s.circle_5_m)):
            folium.Circle((lat, lon), radius=walk / s.detour_factor, weight=1,
                          color=style.CIRCLE_COLORS[f"{minutes}min"], fill=True,
                          fill_opacity=0.05).add_to(circles)
    circles.add_to(m)
    _vector(m, opts, "practice_sites", "新时代文明实践阵地", _SITE_STYLE, _SITE_POPUP)
    acc = access_mod.access(engine)
    pts = acc[["kind", "code", "name", "nearest_walk_m", "life_circle", "life_circle_zh",
               "station_code", "geometry"]].copy()
    pts["nearest_walk_m"] = pts["nearest_walk_m"].round(0)
    pts = _on_basemap(opts, gpd.GeoDataFrame(pts, geometry="geometry", crs=4326))
    group = folium.FeatureGroup(name="小区与村/社区 · places by life circle")
    for _, r in pts.iterrows():
        folium.CircleMarker((r.geometry.y, r.geometry.x), radius=5 if r["kind"] == "compound" else 7,
                            color="#ffffff", weight=1, fill=True, fill_opacity=0.9,
                            fill_color=style.CIRCLE_COLORS.get(r["life_circle"], "#9e9e9e"),
                            popup=render("place_popup.html.j2", name=r["name"],
                                         walk_m=r["nearest_walk_m"],
                                         life_circle=r["life_circle_zh"])
                            ).add_to(group)
    group.add_to(m)
    _panel(m, "legend.html.j2", title="生活圈 · GB 50180-2018",
           items={style.CIRCLE_ZH[c]: col for c, col in style.CIRCLE_COLORS.items()})
    folium.LayerControl(collapsed=False).add_to(m)
    return m


PAGES = {"overview": overview_map, "gaps": gaps_map, "access": access_map}


def trends_page(engine: Engine, opts: MapOptions = MapOptions(),
                frames: dict | None = None) -> str:
    """The command center's trends (/maps/trends): coverage on paper and in fact per month,
    check-ins per week, accounts on time, key-task progress, cases closed on time, each as a
    Vega-Lite chart from :mod:`gridgov.analysis.trends` (altair) drawn by the vendored
    vega-embed, with its latest figure above it. ``opts.theme="dark"`` for the wall screen.
    ``frames``: the trends' frames when the caller has them (the service caches them)."""
    _theme(opts)
    frames = frames if frames is not None else trends_mod.frames(engine)
    specs = {name: chart.to_dict() for name, chart in trends_mod.charts(
        frames, opts.theme, width="container", height="container", titles=False).items()}
    months = frames["coverage"]["month"]
    window = (f"{months.iloc[0].year}年{months.iloc[0].month}月 — "
              f"{months.iloc[-1].year}年{months.iloc[-1].month}月") if len(months) else ""
    dark = opts.theme == "dark"
    return render(
        "trends.html.j2", specs=specs, trends=trends_mod.TRENDS,
        headlines=trends_mod.headlines(frames), window=window, dark=dark,
        t=trends_mod.THEMES[opts.theme], assets=f"{opts.base_url}{opts.asset_base}",
        overview=f"{opts.base_url}/maps/overview" + ("?theme=dark" if dark else ""),
        other_theme=f"{opts.base_url}/maps/trends" + ("" if dark else "?theme=dark"),
        versions_url=f"{opts.base_url}/versions?tables=" + ",".join(TREND_TABLES))


# what the trends are computed from: a change in any of them redraws the trends page
TREND_TABLES = tuple(dict.fromkeys(t for tables in trends_mod.INPUTS.values() for t in tables))


def save_standalone(engine: Engine, page: str, path, org_code: str | None = None,
                    basemap: str = "none", theme: str = "light") -> Path:
    """Write one map as a single HTML file that opens without the service (assets and data
    inlined; no live refresh). ``theme``: the overview's look (light, or dark)."""
    opts = MapOptions(standalone=True, basemap=basemap, theme=theme)
    if page == "org":
        if not org_code:
            raise NotFound("the org map needs an organization code (--org)")
        m = org_map(engine, org_code, opts)
    elif page in PAGES:
        m = PAGES[page](engine, opts)
    else:
        raise NotFound(f"no map {page!r}; maps: {', '.join([*PAGES, 'org'])}")
    path = Path(path)
    path.write_text(m.get_root().render(), encoding="utf-8")
    return path
