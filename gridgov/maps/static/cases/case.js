/* One case, as GET /cases/{code} returns it to the signed-in user: map, details, routing note,
   photos, history, and a button for each move the API says this user may make. Used by the case
   page and by the units' list (in its side panel). */
GG.casePanel = function (container, code, opts) {
  'use strict';
  opts = opts || {};
  var el = GG.el, L10N = GG.L10N;
  var map = null, photoUrls = [];
  // moves that need more than a note, and moves that end a case without doing it
  var DANGER = {reject: true, merge: true, 'return': true, suspend: true};

  function row(label, value) {
    return [el('dt', {text: label}), el('dd', {}, value === null || value === undefined || value === '' ? '—' : value)];
  }

  function drawMap(div, c) {
    if (map) { map.remove(); map = null; }
    if (c.lat === null || c.lon === null) return;
    map = L.map(div, {attributionControl: false, maxZoom: 19}).setView([c.lat, c.lon], 17);
    var s = GG.session();
    if (L.vectorGrid) {
      L.vectorGrid.protobuf('/tiles/compounds/{z}/{x}/{y}.pbf', {
        maxNativeZoom: 18, interactive: false,
        fetchOptions: s ? {headers: {Authorization: 'Bearer ' + s.token}} : {},
        vectorTileLayerStyles: {compounds: {weight: 1, color: '#90a4ae', fill: true,
                                            fillColor: '#cfd8dc', fillOpacity: 0.35}}
      }).addTo(map);
    }
    if (c.compound_code) {
      GG.api('/collections/compounds/items/' + encodeURIComponent(c.compound_code)).then(function (r) {
        if (!map) return;
        L.geoJSON(r.body, {style: {color: '#1565c0', weight: 3, fillOpacity: 0.08}})
          .bindTooltip(String((r.body.properties || {}).name || '')).addTo(map);
      }).catch(function () {});
    }
    L.circleMarker([c.lat, c.lon], {radius: 10, weight: 3, color: '#fff',
      fillColor: GG.overdue(c) ? '#c62828' : '#ef6c00', fillOpacity: 1})
      .bindTooltip(c.code).addTo(map);
  }

  function facts(c) {
    var reporter = c.anonymous ? '匿名' :
      [c.reporter_name, c.reporter_phone].filter(Boolean).join(' ') || '—';
    var late = GG.overdue(c);
    var unit = c.unit_code ? GG.unitName(c.unit_code) + '（' + (L10N.unit_kind[c.unit_kind] || '') + '）' : '未定（待人工派遣）';
    var co = (c.co_units || []).map(GG.unitName).join('、');
    return el('dl', {cls: 'kv'},
      row('类别', c.category_code + ' ' + GG.categoryName(c.category_code)),
      row('问题描述', c.description),
      row('地址', c.address),
      row('上报时间', GG.time(c.reported_at)),
      row('来源', (L10N.channel[c.channel] || c.channel)),
      row('反映人', reporter),
      row('责任单位', unit),
      co ? row('协办单位', co) : null,
      row('派遣时限', GG.time(c.dispatch_due)),
      c.sign_due ? row('签收时限', GG.time(c.sign_due)) : null,
      row('办理时限', el('span', {cls: late ? 'late' : ''}, GG.time(c.handle_due), late ? '（已超期）' : '')),
      c.check_due ? row('核查时限', GG.time(c.check_due)) : null,
      (c.return_count || c.rework_count || c.reopen_count) ?
        row('退回/返工/重开', c.return_count + ' / ' + c.rework_count + ' / ' + c.reopen_count) : null,
      c.duplicate_of ? row('重复于', el('a', {href: './' + encodeURIComponent(c.duplicate_of)}, c.duplicate_of)) : null,
      c.satisfaction ? row('满意度', c.satisfaction + ' / 5') : null);
  }

  function photos(c) {
    photoUrls.forEach(URL.revokeObjectURL);
    photoUrls = [];
    if (!c.photos.length) return el('p', {cls: 'muted', text: '暂无照片'});
    return el('div', {cls: 'photos'}, c.photos.map(function (p) {
      var img = el('img', {alt: L10N.stage[p.stage] || p.stage});
      var link = el('a', {target: '_blank', rel: 'noopener'}, img);
      GG.api(p.url, {blob: true}).then(function (r) {
        var u = URL.createObjectURL(r.body);
        photoUrls.push(u);
        img.src = u;
        link.href = u;
      }).catch(function () { img.alt = '照片无法载入'; });
      return el('figure', {}, link, el('figcaption', {},
        (L10N.stage[p.stage] || p.stage) + (p.taken_at ? ' · 拍摄于 ' + GG.time(p.taken_at) : '')));
    }));
  }

  function events(c) {
    return el('ol', {cls: 'events'}, c.events.map(function (e) {
      var move = (e.from_status ? (L10N.status[e.from_status] || e.from_status) + ' → ' : '') +
        (e.to_status ? (L10N.status[e.to_status] || e.to_status) : '');
      return el('li', {}, el('span', {cls: 'when', text: GG.time(e.at)}),
        el('b', {text: L10N.actions[e.action] || e.action}), move,
        el('span', {cls: 'muted'}, '  ' + e.actor),
        e.note ? el('div', {text: e.note}) : null);
    }));
  }

  function upload(c) {
    var s = GG.session();
    var stages = !s ? [] : s.role === 'handler' ? ['before', 'after'] :
      s.role === 'dispatcher' ? ['check'] : s.role === 'admin' ? ['before', 'after', 'check'] : [];
    if (!stages.length || !GG.isOpen(c)) return null;
    var stage = el('select', {name: 'stage'}, stages.map(function (st) {
      return el('option', {value: st}, L10N.stage[st]);
    }));
    // the browser's own file button speaks the browser's language: ours speaks Chinese
    var file = el('input', {type: 'file', name: 'photo', accept: 'image/*', capture: 'environment'});
    var chosen = el('span', {text: '拍照或选择照片'});
    file.addEventListener('change', function () {
      chosen.textContent = file.files.length ? '已选：' + file.files[0].name : '拍照或选择照片';
    });
    var pick = el('label', {cls: 'pick'}, chosen, file);
    var msg = el('div');
    var button = el('button', {type: 'button', onclick: function () {
      msg.textContent = '';
      if (!file.files.length) { msg.appendChild(GG.errorBox(new Error('请先选择照片'))); return; }
      var form = new FormData();
      form.set('stage', stage.value);
      form.set('photo', file.files[0]);
      button.disabled = true;
      GG.api('/cases/' + encodeURIComponent(c.code) + '/photos', {method: 'POST', body: form})
        .then(function () { GG.toast('照片已上传'); load(); })
        .catch(function (err) { msg.appendChild(GG.errorBox(err)); })
        .then(function () { button.disabled = false; });
    }}, '上传照片');
    return [el('h3', {text: '上传照片 · Photos'}), el('div', {cls: 'upload'}, stage, pick, button), msg];
  }

  function actions(c, etag) {
    var s = GG.session();
    if (!s) return el('p', {cls: 'muted', text: '登录后可办理此工单。'});
    if (!c.actions.length) return el('p', {cls: 'muted', text: '当前状态（' + (L10N.status[c.status] || c.status) + '）下您没有可进行的操作。'});
    var note = el('textarea', {name: 'note', maxlength: '2000',
                               placeholder: '办理意见（退回、挂起须写明理由）'});
    var msg = el('div');
    var extra = {};
    var rows = [];

    function act(action, body, button) {
      msg.textContent = '';
      body = Object.assign({}, body);
      if (note.value.trim()) body.note = note.value.trim();
      if ((action === 'return' || action === 'suspend') && !body.note) {
        msg.appendChild(GG.errorBox(new Error('请在“办理意见”中写明理由')));
        return;
      }
      button.disabled = true;
      GG.api('/cases/' + encodeURIComponent(c.code) + '/actions/' + action,
             {method: 'POST', json: body, headers: etag ? {'If-Match': etag} : {}})
        .then(function (r) {
          GG.toast((button.dataset.label || L10N.actions[action]) + '：已完成，工单现为' +
                   (L10N.status[r.body.status] || r.body.status));
          load();
          if (opts.onChange) opts.onChange(r.body);
        })
        .catch(function (err) {
          button.disabled = false;
          msg.appendChild(GG.errorBox(err));
          if (err.status === 412 || err.status === 409) load(err);
        });
    }

    function button(action, label, body, name) {
      var b = el('button', {type: 'button', 'data-action': name || action, 'data-label': label,
                            cls: DANGER[action] ? 'danger' : ''}, label);
      b.addEventListener('click', function () {
        var given = typeof body === 'function' ? body() : body;
        if (given === null) {
          msg.textContent = '';
          msg.appendChild(GG.errorBox(new Error(action === 'merge' ? '请填写主工单编号（重复于哪一件）' : '请选择改派的责任单位')));
          return;
        }
        act(action, given, b);
      });
      return b;
    }

    var buttons = el('div', {cls: 'buttons'});
    c.actions.forEach(function (a) {
      if (a === 'merge') {
        var into = el('input', {name: 'into', placeholder: '主工单编号', list: 'gg-merge-' + c.code});
        var dl = el('datalist', {id: 'gg-merge-' + c.code});
        GG.api('/cases?status=' + L10N.open.join(',') + '&category_code=' + encodeURIComponent(c.category_code) + '&limit=50')
          .then(function (r) {
            r.body.filter(function (x) { return x.code !== c.code; }).forEach(function (x) {
              dl.appendChild(el('option', {value: x.code}, x.description.slice(0, 20)));
            });
          }).catch(function () {});
        rows.push(el('div', {cls: 'row'}, '重复于', into, dl,
          button('merge', L10N.actions.merge, function () { return into.value.trim() ? {into: into.value.trim()} : null; })));
        return;
      }
      if (a === 'dispatch') {
        // to the routed unit; or to another (改派), the only way when routing found none
        if (c.unit_code) {
          buttons.appendChild(button('dispatch', L10N.actions.dispatch + '（' + GG.unitName(c.unit_code) + '）', {}));
        }
        var unit = el('input', {name: 'unit_code', placeholder: '单位名称或编码', list: GG.unitsList()});
        rows.push(el('div', {cls: 'row'}, c.unit_code ? '改派给' : '派遣给', unit,
          button('dispatch', c.unit_code ? '改派' : L10N.actions.dispatch, function () {
            var v = unit.value.trim(), u = GG.units[v];
            if (!u) {  // a name typed instead of chosen: find its code
              for (var k in GG.units) if (GG.units[k].name === v) { u = GG.units[k]; break; }
            }
            return u ? {unit_kind: u.kind, unit_code: u.code} : null;
          }, 'reassign')));
        return;
      }
      if (a === 'approve') {
        var rating = el('select', {name: 'satisfaction'}, el('option', {value: ''}, '群众满意度（可不填）'),
          [5, 4, 3, 2, 1].map(function (n) { return el('option', {value: String(n)}, n + ' 分'); }));
        rows.push(el('div', {cls: 'row'}, rating, button('approve', L10N.actions.approve, function () {
          return rating.value ? {satisfaction: parseInt(rating.value, 10)} : {};
        })));
        return;
      }
      buttons.appendChild(button(a, L10N.actions[a], {}));
    });
    return el('div', {cls: 'actions'}, note, buttons, rows, msg);
  }

  function draw(c, etag, err) {
    container.textContent = '';
    var mapDiv = el('div', {cls: 'case-map'});
    container.appendChild(el('h2', {}, '工单 ' + c.code + ' ', GG.statusBadge(c)));
    if (err) container.appendChild(GG.errorBox(err));
    if (c.near_boundary) {
      container.appendChild(el('p', {cls: 'warn', role: 'note'},
        '⚠ 位于边界附近（距小区/网格边界 20 米内），责任单位可能有误，请派遣员核实。'));
    }
    container.appendChild(el('p', {cls: 'note-routing'}, el('b', {text: '派遣说明：'}),
      c.routing_note || '未能自动派遣，请人工指定责任单位',
      c.routing_rule ? el('span', {cls: 'muted'}, '（依据：' + (L10N.rule[c.routing_rule] || c.routing_rule) + '）') : null));
    container.appendChild(el('div', {cls: 'top'}, el('div', {cls: 'facts'}, facts(c)), mapDiv));
    container.appendChild(el('h3', {text: '办理 · Actions'}));
    container.appendChild(actions(c, etag));
    var up = upload(c);
    if (up) up.forEach(function (x) { container.appendChild(x); });
    container.appendChild(el('h3', {text: '照片 · Photos'}));
    container.appendChild(photos(c));
    container.appendChild(el('h3', {text: '办理记录 · History'}));
    container.appendChild(events(c));
    drawMap(mapDiv, c);
  }

  function load(err) {
    return GG.api('/cases/' + encodeURIComponent(code)).then(function (r) {
      draw(r.body, r.etag, err && err.message ? err : null);
      if (opts.onLoad) opts.onLoad(r.body);
    }).catch(function (e) {
      container.textContent = '';
      container.appendChild(GG.errorBox(e));
    });
  }

  load();
  return {reload: load};
};
