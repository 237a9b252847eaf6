/* Shared by the command center's and the units' case pages: the page's labels, sign-in (a
   bearer token from POST /auth/token, or an API key, kept in sessionStorage for this tab),
   calls to the JSON API with the API's errors said in Chinese, and small DOM helpers. Data is
   only ever put on the page as text (textContent), never as HTML. */
var GG = (function () {
  'use strict';
  var data = JSON.parse(document.getElementById('gg-data').textContent);
  var L10N = data.labels;
  var KEY = 'gridgov.signin';
  var ROLE_ZH = {viewer: '访客', handler: '责任单位经办人', dispatcher: '指挥中心调度员',
                 planner: '规划人员', admin: '管理员'};
  var skew = 0;  // server clock - this clock, from the Date header of the last answer
  var units = {};
  data.units.forEach(function (u) { units[u.code] = u; });
  var categories = {};
  data.categories.forEach(function (c) { categories[c.code] = c; });

  function el(tag, attrs) {
    var e = document.createElement(tag);
    for (var k in (attrs || {})) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'cls') e.className = v;
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      (Array.isArray(c) ? c : [c]).forEach(function (x) {
        e.appendChild(typeof x === 'string' || typeof x === 'number' ? document.createTextNode(String(x)) : x);
      });
    }
    return e;
  }

  function session() {
    try { return JSON.parse(sessionStorage.getItem(KEY)) || null; } catch (e) { return null; }
  }

  // The API's {code, description} (English) said in Chinese; the original follows in small print.
  function zh(status, body, retry) {
    var d = (body && body.description) || '';
    if (status === 0) return '网络连接失败，请检查网络后重试';
    if (status === 429) return '操作太频繁，请' + (retry ? ' ' + retry + ' 秒' : '稍') + '后再试';
    if (status === 401) return /password/.test(d) ? '用户名或密码错误' : '请先登录（或登录已过期）';
    if (status === 403) return '您的账号无权进行此操作';
    if (status === 404) return '没有找到该工单或记录';
    if (status === 409) return '工单状态已变化，当前不能进行此操作';
    if (status === 412) return '工单刚被他人更新，已重新载入，请确认后再操作';
    if (status === 413 || /photo limit|megapixel/.test(d)) return '照片太大，请换一张';
    if (/HEIC/.test(d)) return '照片是 HEIC 格式，无法识别，请改用 JPEG';
    if (/photo/.test(d)) return '照片无法接收（不是 JPEG/PNG 图片或已损坏）';
    if (/退回理由|挂起理由|'note'/.test(d)) return '请在“办理意见”中写明理由';
    if (/unit_code|unit_kind/.test(d)) return '请选择有效的责任单位';
    if (/'into'|merge into/.test(d)) return '请填写有效的主工单编号（重复于哪一件）';
    if (/mine/.test(d)) return '“我的工单”只供责任单位经办人账号使用';
    if (status >= 500) return '服务暂时不可用，请稍后重试';
    return '操作未成功，请检查后重试';
  }

  function ApiError(status, body, retry) {
    var e = new Error(zh(status, body, retry));
    e.status = status;
    e.detail = (body && body.description) || '';
    e.body = body || {};
    return e;
  }

  // fetch with the signed-in user's token; resolves {body, etag, response}, rejects ApiError
  function api(path, opts) {
    opts = opts || {};
    var headers = Object.assign({}, opts.headers || {});
    var s = session();
    if (s && s.token && !opts.anonymous) headers.Authorization = 'Bearer ' + s.token;
    var body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['Content-Type'] = 'application/json';
    }
    return fetch(path, {method: opts.method || 'GET', headers: headers, body: body}).then(function (r) {
      var date = r.headers.get('Date');
      if (date) skew = Date.parse(date) - Date.now();
      var type = r.headers.get('Content-Type') || '';
      var read = opts.blob && r.ok ? r.blob() : (/json/.test(type) ? r.json() : r.text());
      return read.then(function (b) {
        if (!r.ok) {
          if (r.status === 401 && s && !opts.signin) expired();
          throw ApiError(r.status, b, r.headers.get('Retry-After'));
        }
        return {body: b, etag: r.headers.get('ETag'), response: r};
      });
    }, function () { throw ApiError(0, {}); });
  }

  function now() { return Date.now() + skew; }

  function isOpen(c) { return L10N.open.indexOf(c.status) >= 0; }

  function overdue(c) {
    return isOpen(c) && !!c.handle_due && Date.parse(c.handle_due) < now();
  }

  // the deadline of the stage the case is in
  var STAGE_DUE = {received: ['dispatch_due', '派遣'], filed: ['dispatch_due', '派遣'],
                   returned: ['dispatch_due', '派遣'], dispatched: ['sign_due', '签收'],
                   signed: ['handle_due', '办理'], suspended: ['handle_due', '办理'],
                   handled: ['check_due', '核查']};
  function stageDue(c) {
    var d = STAGE_DUE[c.status];
    if (!d || !c[d[0]]) return {at: null};
    return {at: c[d[0]], label: d[1], late: Date.parse(c[d[0]]) < now() && c.status !== 'suspended'};
  }

  var fmt = new Intl.DateTimeFormat('zh-CN', {timeZone: 'Asia/Shanghai', year: 'numeric',
    month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false});
  function time(iso) { return iso ? fmt.format(new Date(iso)).replace(/\//g, '-') : '—'; }

  // a <datalist> of every unit (code, and name as its label), made once per page
  function unitsList() {
    if (!document.getElementById('gg-units')) {
      document.body.appendChild(el('datalist', {id: 'gg-units'}, data.units.map(function (u) {
        return el('option', {value: u.code}, u.name + '（' + L10N.unit_kind[u.kind] + '）');
      })));
    }
    return 'gg-units';
  }

  function unitName(code) {
    if (!code) return '未定';
    var u = units[code];
    return u ? u.name : code;
  }

  function categoryName(code) {
    var c = categories[code];
    return c ? c.name : code;
  }

  function statusBadge(c) {
    var late = overdue(c);
    return el('span', {cls: 'badge ' + c.status}, L10N.status[c.status] || c.status,
              late ? el('b', {cls: 'late'}, ' 超期') : null);
  }

  var toastTimer = null;
  function toast(text) {
    var t = document.getElementById('toast');
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { t.hidden = true; }, 3000);
  }

  function errorBox(err) {
    return el('p', {cls: 'error', role: 'alert'}, err.message, err.detail ? el('small', {text: err.detail}) : null);
  }

  // --- sign-in --------------------------------------------------------------------------------
  var listeners = [];
  var box = document.getElementById('signin');

  function expired() {
    sessionStorage.removeItem(KEY);
    drawSignin('登录已过期，请重新登录');
  }

  function drawSignin(message) {
    box.textContent = '';
    var s = session();
    if (s) {
      box.appendChild(el('span', {cls: 'who'}, s.username + '（' + (ROLE_ZH[s.role] || s.role) + '）'));
      box.appendChild(el('button', {type: 'button', onclick: function () {
        sessionStorage.removeItem(KEY);
        location.reload();
      }}, '退出'));
      return;
    }
    var user = el('input', {name: 'username', placeholder: '用户名', autocomplete: 'username'});
    var pass = el('input', {name: 'password', type: 'password', placeholder: '密码',
                            autocomplete: 'current-password'});
    var key = el('input', {name: 'key', type: 'password', placeholder: 'API 密钥 (gg_…)', hidden: true,
                           autocomplete: 'off'});
    var toggle = el('a', {href: '#', onclick: function (ev) {
      ev.preventDefault();
      var k = key.hidden;
      key.hidden = !k; user.hidden = k; pass.hidden = k;
      toggle.textContent = k ? '用密码登录' : '用 API 密钥';
    }, style: 'color:#fff'}, '用 API 密钥');
    var form = el('form', {cls: 'signin', onsubmit: function (ev) {
      ev.preventDefault();
      signin(user.value.trim(), pass.value, key.hidden ? '' : key.value.trim());
    }}, user, pass, key, el('button', {type: 'submit'}, '登录 · Sign in'), toggle,
      message ? el('span', {cls: 'err', text: message}) : null);
    box.appendChild(form);
  }

  function signin(username, password, apiKey) {
    var got;
    if (apiKey) {
      got = Promise.resolve(apiKey);
    } else {
      var form = new URLSearchParams({grant_type: 'password', username: username, password: password});
      got = api('/auth/token', {method: 'POST', body: form, signin: true, anonymous: true,
                                headers: {'Content-Type': 'application/x-www-form-urlencoded'}})
        .then(function (r) { return r.body.access_token; });
    }
    return got.then(function (token) {
      return api('/auth/me', {headers: {Authorization: 'Bearer ' + token}, signin: true, anonymous: true})
        .then(function (me) {
          var s = {token: token, username: me.body.username, role: me.body.role};
          sessionStorage.setItem(KEY, JSON.stringify(s));
          drawSignin();
          listeners.forEach(function (fn) { fn(s); });
        });
    }).catch(function (err) { drawSignin(err.message); });
  }

  // fn(session) now if signed in, and whenever someone signs in on this page
  function whenSignedIn(fn) {
    listeners.push(fn);
    var s = session();
    if (s) fn(s);
  }

  // Poll GET /versions (cheap) every `ms`; fn() when any of the tables changed.
  function watch(tables, fn, ms) {
    var last = null;
    function tick() {
      fetch('/versions?tables=' + encodeURIComponent(tables), {cache: 'no-store'})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (v) {
          if (v === null) return;
          if (last !== null && v !== last) fn();
          last = v;
        }).catch(function () {});
    }
    tick();
    return setInterval(tick, ms || 4000);
  }

  drawSignin();

  return {data: data, L10N: L10N, units: units, el: el, api: api, zh: zh, now: now, isOpen: isOpen,
          overdue: overdue, stageDue: stageDue, time: time, unitName: unitName, unitsList: unitsList, categoryName: categoryName,
          statusBadge: statusBadge, toast: toast, errorBox: errorBox, session: session,
          whenSignedIn: whenSignedIn, signin: signin, watch: watch, ROLE_ZH: ROLE_ZH};
})();
