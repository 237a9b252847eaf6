"""Folium map pages: command-center overview, planners' gaps, one organization's territory,
practice-site access.

Every page loads Leaflet and its plugins from ``asset_base`` (the service's own /static; nothing
from a CDN) and starts with no basemap, so it works on an intranet. Large layers (compounds,
offices, sites) come as vector tiles from the service; small per-page results (the gap list, one
organization's compounds, access points) are inlined. Popups and legends are in Chinese.

Example:
    >>> m = overview_map(engine)                 # a folium.Map
    >>> html = m.get_root().render()
"""

from __future__ import annotations

import html as _html
import json
from pathlib import Path
from dataclasses import dataclass, replace

import folium
import geopandas as gpd
import pandas as pd
import shapely
from folium.plugins import VectorGridProtobuf
from sqlalchemy import Engine, text

from gridgov.analysis import access as access_mod
from gridgov.analysis import coverage as coverage_mod
from gridgov.analysis import gaps as gaps_mod
from gridgov.errors import NotFound
from gridgov.io.crs import from_wgs84
from gridgov.maps import style

SEAT = (37.34, 111.205)
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


def _map(opts: MapOptions, zoom: int = 14, location=SEAT) -> folium.Map:
    m = folium.Map(location=list(location), zoom_start=zoom, tiles=None, control_scale=True)
    a = opts.base_url + opts.asset_base
    if opts.standalone:
        vendor = STATIC / "vendor" / "leaflet"
        m.default_js, m.default_css = [], []
        m.get_root().header.add_child(folium.Element(
            f"<style>{(vendor / 'leaflet.css').read_text(encoding='utf-8')}</style>"
            f"<script>{(vendor / 'leaflet.js').read_text(encoding='utf-8')}</script>"), index=0)
    else:
        # Only Leaflet itself: no jQuery, Bootstrap or icon fonts from CDNs.
        m.default_js = [("leaflet", f"{a}/leaflet/leaflet.js")]
        m.default_css = [("leaflet_css", f"{a}/leaflet/leaflet.css")]
    # folium's popups only ask jQuery for `$(html)[0]`: a three-line stand-in instead of 90 KB
    m.get_root().header.add_child(folium.Element(
        "<script>window.$ = window.$ || function(h) { var t = document.createElement('template');"
        " t.innerHTML = String(h).trim(); return [t.content.firstChild]; };</script>"))
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
                  popup_js: str | None) -> None:
    """Standalone pages: the tile layer's features inlined, drawn with the same style and popup
    functions as the vector tiles."""
    from gridgov.analysis._sql import scope, sql
    from gridgov.analysis.coverage import thresholds
    from gridgov.tiles import LAYERS

    spec = LAYERS[layer]
    source = f"({sql('coverage').text})" if layer == "compounds" else f"({spec.source})"
    with opts.engine.connect() as conn:
        result = conn.execute(text(f"SELECT {spec.columns}, ST_AsBinary(geom) AS wkb FROM "
                                   f"{source} s"), {**scope(None, None), **thresholds(None)})
        frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    geoms = [shapely.from_wkb(bytes(b)) for b in frame.pop("wkb")]
    data = _on_basemap(opts, gpd.GeoDataFrame(frame, geometry=geoms, crs=4326)).to_json(
        na="null", ensure_ascii=False)
    popup = f"onEachFeature: function(f, l) {{ l.bindPopup(({popup_js})(f.properties)); }}," \
        if popup_js else ""
    _script(m, f"""
var style_{layer} = {style_js};
L.geoJSON({data}, {{
  style: function(f) {{ return style_{layer}(f.properties, {m.get_name()}.getZoom()); }},
  pointToLayer: function(f, ll) {{ return L.circleMarker(ll, style_{layer}(f.properties)); }},
  {popup}
}}).addTo({m.get_name()});""")


def _vector(m: folium.Map, opts: MapOptions, layer: str, name: str, style_js: str,
            popup_js: str | None, show: bool = True) -> VectorGridProtobuf | None:
    if opts.standalone:
        _inline_layer(m, opts, layer, style_js, popup_js)
        return None
    options = (f'{{"interactive": true, "maxNativeZoom": 18, "getFeatureId": function(f) '
               f'{{ return f.properties.code; }}, "vectorTileLayerStyles": {{"{layer}": '
               f'{style_js}}}}}')
    vg = VectorGridProtobuf(_tile_url(opts, layer), name, options, show=show)
    vg.default_js = [("vectorGrid", f"{opts.base_url}{opts.asset_base}/leaflet.vectorgrid/"
                                    "Leaflet.VectorGrid.bundled.min.js")]
    vg.add_to(m)
    if popup_js:
        _script(m, f"""
{vg.get_name()}.on('click', function(e) {{
  var p = e.layer.properties || {{}};
  L.popup({{maxWidth: 420}}).setLatLng(e.latlng).setContent(({popup_js})(p)).openOn({m.get_name()});
}});
window.gridgovLayers = (window.gridgovLayers || []).concat([{vg.get_name()}]);""")
    return vg


def _script(m: folium.Map, js: str) -> None:
    # folium defines the map and its layers in a script rendered after ours: run on load
    m.get_root().script.add_child(folium.Element(
        f"window.addEventListener('load', function() {{{js}\n}});"))


def _panel(m: folium.Map, html: str, position: str = "topright", css: str = "") -> None:
    m.get_root().html.add_child(folium.Element(
        f"<div class='gridgov-panel' style='position:absolute;{position};z-index:1000;"
        f"background:rgba(255,255,255,.93);padding:8px 12px;border-radius:6px;"
        f"box-shadow:0 1px 4px rgba(0,0,0,.3);font-family:\"Noto Sans CJK SC\",\"Microsoft YaHei\","
        f"sans-serif;font-size:14px;{css}'>{html}</div>"))


def _legend(items: dict[str, str], title: str) -> str:
    rows = "".join(f"<div><span style='display:inline-block;width:14px;height:14px;"
                   f"background:{color};margin-right:6px;vertical-align:middle'></span>{label}</div>"
                   for label, color in items.items())
    return f"<b>{title}</b>{rows}"


def _outlines(m: folium.Map, engine: Engine, opts: MapOptions) -> None:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT 'county' AS kind, name, ST_AsBinary(ST_Boundary(geom)) FROM counties "
            "UNION ALL SELECT 'township', name, ST_AsBinary(ST_Boundary(geom)) FROM townships "
            "WHERE geom IS NOT NULL")).all()
    frame = _on_basemap(opts, gpd.GeoDataFrame(
        {"kind": [r[0] for r in rows], "name": [r[1] for r in rows]},
        geometry=[shapely.from_wkb(bytes(r[2])) for r in rows], crs=4326))
    fc = json.loads(frame.to_json(ensure_ascii=False))
    folium.GeoJson(fc, name="县、乡镇界 · boundaries", style_function=lambda f: {
        "color": "#424242" if f["properties"]["kind"] == "county" else "#9e9e9e",
        "weight": 3 if f["properties"]["kind"] == "county" else 1.5, "fill": False,
        "dashArray": None if f["properties"]["kind"] == "county" else "6 4"},
        tooltip=folium.GeoJsonTooltip(["name"], labels=False)).add_to(m)


_STATUS_STYLE = ("function(p, z) { var c = {covered: '%s', under_covered: '%s', uncovered: '%s'}; "
                 "return {fill: true, fillColor: c[p.status] || '#9e9e9e', fillOpacity: 0.65, "
                 "color: '#263238', weight: 1}; }") % (
    style.STATUS_COLORS["covered"], style.STATUS_COLORS["under_covered"],
    style.STATUS_COLORS["uncovered"])

_COMPOUND_POPUP = """function(p) {
  var zh = {covered: '已覆盖', under_covered: '力量不足', uncovered: '未包联'};
  var why = [];
  if (p.status === 'uncovered') why.push('没有机关党组织包联');
  if (p.status === 'under_covered') why.push('每名党员 ' + p.households_per_member + ' 户，力量不足');
  if (p.far_assignment === true || p.far_assignment === 'true') why.push('包联单位驻地过远（' + p.max_office_m + ' 米）');
  return '<div class="gridgov-popup"><b>' + p.name + '</b><br>' + (p.community_name || '') +
    '<br>户数：' + p.households + '　下沉党员：' + p.members +
    '<br>状态：<b>' + (zh[p.status] || p.status) + '</b>' +
    (why.length ? '<br>原因：' + why.join('；') : '') +
    '<br>包联单位：' + (p.orgs_zh || '无') + '</div>';
}"""

_SITE_STYLE = ("function(p, z) { var c = {center: '%s', institute: '%s', station: '%s'}; "
               "return {radius: p.tier === 'center' ? 9 : (p.tier === 'institute' ? 7 : 5), "
               "fill: true, fillColor: c[p.tier], fillOpacity: 0.9, color: "
               "(p.demonstration === true || p.demonstration === 'true') ? '#ffd600' : '#ffffff', "
               "weight: 2}; }") % (style.TIER_COLORS["center"], style.TIER_COLORS["institute"],
                                   style.TIER_COLORS["station"])
_SITE_POPUP = """function(p) {
  var zh = {center: '文明实践中心', institute: '文明实践所', station: '文明实践站'};
  return '<b>' + p.name + '</b><br>' + (zh[p.tier] || p.tier) +
    ((p.demonstration === true || p.demonstration === 'true') ? '（示范点）' : '') +
    (p.theme ? '<br>特色：' + p.theme : '');
}"""
_OFFICE_STYLE = ("function(p, z) { return {radius: 4, fill: true, fillColor: '%s', "
                 "fillOpacity: 0.9, color: '#ffffff', weight: 1}; }" % style.OFFICE_COLOR)
_OFFICE_POPUP = """function(p) {
  return '<b>' + p.name + '</b><br>' + (p.parent_body || '') + '<br>在职党员：' + p.member_count;
}"""


def overview_map(engine: Engine, opts: MapOptions = MapOptions(),
                 kpis: dict | None = None) -> folium.Map:
    """Command center: compounds by coverage status, offices, sites by tier, outlines, KPIs."""
    opts = replace(opts, engine=engine)
    m = _map(opts)
    _outlines(m, engine, opts)
    _vector(m, opts, "compounds", "小区包联状态 · compounds", _STATUS_STYLE, _COMPOUND_POPUP)
    _vector(m, opts, "offices", "机关党组织驻地 · offices", _OFFICE_STYLE, _OFFICE_POPUP)
    _vector(m, opts, "practice_sites", "新时代文明实践阵地 · practice sites", _SITE_STYLE,
            _SITE_POPUP)
    k = kpis if kpis is not None else coverage_mod.kpis(coverage_mod.coverage(engine))
    _panel(m, _kpi_html(k), "top:10px;left:60px")
    legend = {**{style.STATUS_ZH[s]: c for s, c in style.STATUS_COLORS.items()},
              **{style.TIER_ZH[t]: c for t, c in style.TIER_COLORS.items()},
              "机关党组织驻地": style.OFFICE_COLOR}
    _panel(m, _legend(legend, "图例 · legend"), "bottom:30px;right:10px")
    folium.LayerControl(collapsed=False).add_to(m)
    _refresh(m, opts)
    return m


def _kpi_html(k: dict) -> str:
    def fmt(v, digits=0):
        return "—" if v is None else f"{v:,.{digits}f}"

    rows = [("包联覆盖率", f"{k['coverage_rate']:.0%}", "kpi-coverage"),
            ("小区", fmt(k["compounds"]), "kpi-compounds"),
            ("已覆盖", fmt(k["covered"]), "kpi-covered"),
            ("力量不足", fmt(k["under_covered"]), "kpi-under"),
            ("未包联", fmt(k["uncovered"]), "kpi-uncovered"),
            ("下沉党员", fmt(k["members_sunk"]), "kpi-members"),
            ("户/党员", fmt(k["households_per_member"], 1), "kpi-hpm"),
            ("驻地过远", fmt(k["far_assignments"]), "kpi-far"),
            ("最远驻地(米)", fmt(k["worst_office_m"]), "kpi-worst")]
    cells = "".join(f"<div style='display:inline-block;margin:0 10px 0 0'><small>{label}</small>"
                    f"<div id='{key}' style='font-size:22px;font-weight:bold'>{value}</div></div>"
                    for label, value, key in rows)
    return f"<b style='font-size:16px'>中阳县网格包联指挥中心</b><div>{cells}</div>"


def _refresh(m: folium.Map, opts: MapOptions) -> None:
    """Poll the KPIs; when the data version moves, redraw the tile layers and the figures."""
    if opts.standalone:
        return
    _script(m, f"""
(function() {{
  var last = null;
  function tick() {{
    fetch('{opts.base_url}/analysis/kpis').then(function(r) {{ return r.json(); }}).then(function(k) {{
      var ids = {{'kpi-compounds': k.compounds, 'kpi-covered': k.covered,
                 'kpi-under': k.under_covered, 'kpi-uncovered': k.uncovered,
                 'kpi-members': Math.round(k.members_sunk), 'kpi-far': k.far_assignments}};
      for (var id in ids) {{ var el = document.getElementById(id); if (el) el.textContent = ids[id]; }}
      var cov = document.getElementById('kpi-coverage');
      if (cov) cov.textContent = Math.round(k.coverage_rate * 100) + '%';
      var now = JSON.stringify(k);
      if (last !== null && now !== last) {{
        (window.gridgovLayers || []).forEach(function(l) {{ l.redraw(); }});
      }}
      last = now;
    }}).catch(function() {{}});
  }}
  setInterval(tick, {opts.refresh_seconds * 1000});
}})();""")


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
    items = "".join(
        f"<li data-lat='{r.geometry.representative_point().y:.6f}' "
        f"data-lon='{r.geometry.representative_point().x:.6f}' style='cursor:pointer;"
        f"margin-bottom:4px'><b>{_html.escape(str(r['name']))}</b> "
        f"<small>{r['households']}户 · {r['priority']:.1f}分</small><br><small>"
        f"{_html.escape(str(r['reasons_zh']))}</small></li>" for _, r in frame.iterrows())
    _panel(m, f"<b>问题小区排序 · ranked gaps（{len(frame)}）</b><ol id='gap-list' "
              f"style='padding-left:18px;margin:6px 0'>{items}</ol>",
           "top:10px;left:60px", "max-height:85vh;overflow-y:auto;width:340px")
    _script(m, f"""
document.querySelectorAll('#gap-list li').forEach(function(li) {{
  li.addEventListener('click', function() {{
    {m.get_name()}.flyTo([parseFloat(li.dataset.lat), parseFloat(li.dataset.lon)], 17);
  }});
}});""")
    _panel(m, _legend({style.STATUS_ZH[s]: c for s, c in style.STATUS_COLORS.items()} |
                      {"问题小区（红框）": "#b71c1c"}, "图例"), "bottom:30px;right:10px")
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
                            fill_opacity=1, popup=f"<b>{_html.escape(org[0])}</b><br>"
                                                  f"{_html.escape(org[1] or '')}<br>在职党员："
                                                  f"{org[2]}").add_to(m)
    _panel(m, f"<b>{_html.escape(org[0])}</b><br>在职党员 {org[2]} 名 · 包联小区 {len(mine)} 个",
           "top:10px;left:60px")
    return m


def access_map(engine: Engine, opts: MapOptions = MapOptions()) -> folium.Map:
    """Practice-site access: 5/10/15-minute circles round each site, places by life circle."""
    opts = replace(opts, engine=engine)
    from gridgov.settings import AnalysisSettings

    s = AnalysisSettings()
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
                            popup=f"<b>{_html.escape(str(r['name']))}</b><br>至最近阵地步行约 "
                                  f"{r['nearest_walk_m']:.0f} 米<br>{r['life_circle_zh']}"
                            ).add_to(group)
    group.add_to(m)
    _panel(m, _legend({style.CIRCLE_ZH[c]: col for c, col in style.CIRCLE_COLORS.items()},
                      "生活圈 · GB 50180-2018"), "bottom:30px;right:10px")
    folium.LayerControl(collapsed=False).add_to(m)
    return m


PAGES = {"overview": overview_map, "gaps": gaps_map, "access": access_map}


def save_standalone(engine: Engine, page: str, path, org_code: str | None = None,
                    basemap: str = "none") -> Path:
    """Write one map as a single HTML file that opens without the service (assets and data
    inlined; no live refresh)."""
    opts = MapOptions(standalone=True, basemap=basemap)
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
