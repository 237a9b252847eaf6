/* The command center's cases: filters (category, status, unit, dates, overdue), the list
   (overdue in red, each row linking to its case page) and the same cases on a clustered map.
   The list follows new reports and moves by polling /versions. */
(function () {
  'use strict';
  var el = GG.el, L10N = GG.L10N;
  var form = document.getElementById('filters');
  var tbody = document.querySelector('#cases tbody');
  var summary = document.getElementById('summary');
  var more = document.getElementById('more');
  form.elements.unit_code.setAttribute('list', GG.unitsList());
  var PAGE = 200;
  var shown = PAGE, rows = [], markers = {}, fitted = false;

  // --- the map: no basemap; townships and compounds for orientation, cases clustered ---------
  var map = L.map('map', {attributionControl: false, maxZoom: 19}).setView([37.34, 111.205], 13);
  var s = GG.session();
  L.vectorGrid.protobuf('/tiles/compounds/{z}/{x}/{y}.pbf', {
    maxNativeZoom: 18, interactive: false,
    fetchOptions: s ? {headers: {Authorization: 'Bearer ' + s.token}} : {},
    vectorTileLayerStyles: {compounds: {weight: 1, color: '#90a4ae', fill: true, fillColor: '#cfd8dc',
                                        fillOpacity: 0.4}}
  }).addTo(map);
  GG.api('/collections/townships/items?limit=100').then(function (r) {
    L.geoJSON(r.body, {style: {color: '#78909c', weight: 1.5, dashArray: '6 4', fill: false},
                       interactive: false}).addTo(map);
  }).catch(function () {});
  var cluster = L.markerClusterGroup({
    maxClusterRadius: 45, showCoverageOnHover: false,
    iconCreateFunction: function (c) {
      var kids = c.getAllChildMarkers();
      var late = kids.some(function (m) { return m.options.overdue; });
      return L.divIcon({html: '<div><span>' + kids.length + '</span></div>',
                        className: 'marker-cluster ' + (late ? 'gg-cluster-late' : 'gg-cluster'),
                        iconSize: L.point(40, 40)});
    }
  }).addTo(map);

  function popup(c) {
    return el('div', {}, el('a', {href: '/center/cases/' + encodeURIComponent(c.code)}, el('b', {text: c.code})),
      el('br'), GG.categoryName(c.category_code), ' · ', GG.statusBadge(c),
      el('br'), c.description.slice(0, 60),
      el('br'), '责任单位：', GG.unitName(c.unit_code));
  }

  function drawMap() {
    cluster.clearLayers();
    markers = {};
    var list = rows.filter(function (c) { return c.lat !== null && c.lon !== null; }).map(function (c) {
      var late = GG.overdue(c);
      var m = L.marker([c.lat, c.lon], {overdue: late, title: c.code, icon: L.divIcon({
        className: 'gg-pin ' + (late ? 'gg-pin-late' : GG.isOpen(c) ? 'gg-pin-open' : 'gg-pin-done'),
        iconSize: [16, 16]})});
      m.bindPopup(popup(c));
      markers[c.code] = m;
      return m;
    });
    cluster.addLayers(list);
    if (!fitted && list.length) {
      map.fitBounds(cluster.getBounds(), {maxZoom: 16, padding: [20, 20]});
      fitted = true;
    }
  }

  // --- the list ---------------------------------------------------------------------------------
  function unitCode(v) {
    v = v.trim();
    if (!v || GG.units[v]) return v;
    var hits = Object.keys(GG.units).filter(function (k) { return GG.units[k].name.indexOf(v) >= 0; });
    var exact = hits.filter(function (k) { return GG.units[k].name === v; });
    return exact.length ? exact[0] : hits.length === 1 ? hits[0] : v;
  }

  function query(limit) {
    var f = new FormData(form), q = new URLSearchParams();
    var status = f.get('status');
    if (status === 'open') status = L10N.open.join(',');
    if (status) q.set('status', status);
    ['category_code', 'since', 'until'].forEach(function (k) { if (f.get(k)) q.set(k, f.get(k)); });
    var unit = unitCode(String(f.get('unit_code') || ''));
    if (unit) q.set('unit_code', unit);
    if (f.get('overdue')) q.set('overdue', 'true');
    q.set('limit', String(limit));
    return q;
  }

  function draw() {
    tbody.textContent = '';
    var late = 0;
    rows.forEach(function (c) {
      var isLate = GG.overdue(c), due = GG.stageDue(c);
      if (isLate) late++;
      var link = el('a', {href: '/center/cases/' + encodeURIComponent(c.code)}, c.code);
      var tr = el('tr', {cls: isLate ? 'overdue' : '', 'data-code': c.code},
        el('td', {}, link),
        el('td', {}, GG.categoryName(c.category_code)),
        el('td', {}, GG.statusBadge(c)),
        el('td', {}, GG.unitName(c.unit_code), c.near_boundary ? el('span', {title: '边界附近，请核实', text: ' ⚠'}) : null),
        el('td', {}, GG.time(c.reported_at)),
        el('td', {cls: due.late ? 'late' : ''}, due.at ? due.label + ' ' + GG.time(due.at) : '—'));
      tr.addEventListener('click', function (ev) {
        if (ev.target.tagName === 'A') return;
        var m = markers[c.code];
        if (m) cluster.zoomToShowLayer(m, function () { m.openPopup(); });
      });
      tbody.appendChild(tr);
    });
    summary.textContent = rows.length ? '共显示 ' + rows.length + ' 件' + (late ? '，其中超期 ' + late + ' 件（红色）' : '') :
      '没有符合条件的工单';
    more.hidden = rows.length < shown;
    drawMap();
  }

  function load() {
    var q = query(shown);
    var address = new URLSearchParams(q);
    address.delete('limit');
    if (!address.has('status')) address.set('status', 'all');
    history.replaceState(null, '', '?' + address.toString());
    return GG.api('/cases?' + q.toString()).then(function (r) {
      rows = r.body;
      draw();
    }).catch(function (err) {
      summary.textContent = '';
      summary.appendChild(GG.errorBox(err));
    });
  }

  // filters from the address, so a filtered list can be bookmarked or sent
  var initial = new URLSearchParams(location.search);
  initial.forEach(function (v, k) {
    var input = form.elements[k];
    if (!input) return;
    if (k === 'status') v = v === L10N.open.join(',') ? 'open' : v === 'all' ? '' : v;
    if (input.type === 'checkbox') input.checked = v === 'true';
    else input.value = v;
  });
  form.addEventListener('submit', function (ev) { ev.preventDefault(); shown = PAGE; fitted = false; load(); });
  more.addEventListener('click', function () { shown += PAGE; load(); });
  GG.whenSignedIn(function () { load(); });
  if (!GG.session()) load();
  GG.watch('cases', load, 4000);
})();
