/* 党员进社区报到: sign in (a bearer token from POST /auth/token, or an API key, kept in
   sessionStorage for this tab as on the case pages), locate (the browser gives WGS84, with its
   accuracy), choose one of the compounds the member's organization is assigned to (nearest
   first), and press the one big button: POST /checkins, later POST /checkins/{id}/checkout.
   The result and its flags are said in Chinese. Data is put on the page as text only. */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var L = JSON.parse($('ck-data').textContent);
  var KEY = 'gridgov.signin';
  var ROLE_ZH = {viewer: '访客', member: '党员', handler: '责任单位经办人', dispatcher: '指挥中心调度员',
                 planner: '规划人员', admin: '管理员'};
  var pos = null, posAt = 0, open = null, busy = false, byHand = false;
  var big = $('big'), select = $('compound');

  function show(el, on) { el.hidden = !on; }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  var clock = new Intl.DateTimeFormat('zh-CN', {timeZone: 'Asia/Shanghai', hour: '2-digit',
                                                minute: '2-digit', hour12: false});
  function hhmm(iso) { return iso ? clock.format(new Date(iso)) : ''; }
  function hours(h) { return (Math.round((h || 0) * 100) / 100).toString(); }

  // --- the session and the API ---------------------------------------------------------------
  function session() {
    try { return JSON.parse(sessionStorage.getItem(KEY)) || null; } catch (e) { return null; }
  }

  // The API's {code, description} (English) said in Chinese; the original follows in small print.
  function zh(status, body, retry) {
    var d = (body && body.description) || '';
    if (status === 0) return '网络连接失败，请检查网络后重试';
    if (status === 429) return '操作太频繁，请' + (retry ? ' ' + retry + ' 秒' : '稍') + '后再试';
    if (status === 401) return /password/.test(d) ? '用户名或密码错误' : '请先登录（或登录已过期）';
    if (status === 403) {
      if (/checks in as member/.test(d)) return '只能以本人身份签到';
      if (/is not .*'s/.test(d)) return '只能签退本人的签到';
      if (/made by members/.test(d)) return '此页面供党员账号使用';
      return '您的账号无权进行此操作';
    }
    if (status === 404) return /compound/.test(d) ? '没有找到该小区' :
      /member/.test(d) ? '账号未关联党员信息，请联系管理员' : '没有找到该签到记录';
    if (status === 409) return '该签到已经签退';
    if (status === 413 || /photo limit|megapixel/.test(d)) return '照片太大，请换一张';
    if (/HEIC/.test(d)) return '照片是 HEIC 格式，无法识别，请改用 JPEG';
    if (/photo/.test(d)) return '照片无法接收（不是 JPEG/PNG 图片或已损坏）';
    if (status >= 500) return '服务暂时不可用，请稍后重试';
    return '操作未成功，请检查后重试';
  }

  // fetch with the signed-in member's token; resolves the body, rejects an Error said in Chinese
  function api(path, opts) {
    opts = opts || {};
    var headers = Object.assign({}, opts.headers || {});
    var s = session();
    var token = opts.token || (s && s.token);
    if (token) headers.Authorization = 'Bearer ' + token;
    return fetch(path, {method: opts.method || 'GET', headers: headers, body: opts.body})
      .then(function (r) {
        var json = /json/.test(r.headers.get('Content-Type') || '');
        return (json ? r.json() : r.text()).then(function (b) {
          if (!r.ok) {
            var e = new Error(zh(r.status, b, r.headers.get('Retry-After')));
            e.status = r.status;
            e.detail = (b && b.description) || '';
            throw e;
          }
          return b;
        });
      }, function () {
        var e = new Error(zh(0));
        e.status = 0;
        throw e;
      });
  }

  function fail(box, err) {
    box.textContent = err.message || String(err);
    if (err.detail) box.appendChild(el('small', null, err.detail));
    show(box, true);
    if (err.status === 401 && session()) signout('登录已过期，请重新登录');
  }

  // --- sign-in -------------------------------------------------------------------------------
  $('toggle-key').addEventListener('click', function () {
    var key = $('by-key').hidden;
    show($('by-key'), key);
    show($('by-password'), !key);
    this.textContent = key ? '用密码登录' : '用 API 密钥登录';
  });

  $('signin').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var box = $('signin-error');
    show(box, false);
    var got;
    if (!$('by-key').hidden) {
      var key = $('key').value.trim();
      if (!key) return fail(box, new Error('请填写 API 密钥'));
      got = Promise.resolve(key);
    } else {
      if (!$('username').value.trim() || !$('password').value) {
        return fail(box, new Error('请填写用户名和密码'));
      }
      var form = new URLSearchParams({grant_type: 'password', username: $('username').value.trim(),
                                      password: $('password').value});
      got = api('/auth/token', {method: 'POST', body: form, token: null,
                                headers: {'Content-Type': 'application/x-www-form-urlencoded'}})
        .then(function (b) { return b.access_token; });
    }
    got.then(function (token) {
      return api('/auth/me', {token: token}).then(function (me) {
        if (me.role !== 'member') {
          throw new Error('此页面供党员账号使用，当前账号为“' + (ROLE_ZH[me.role] || me.role) + '”');
        }
        sessionStorage.setItem(KEY, JSON.stringify({token: token, username: me.username,
                                                    role: me.role}));
        $('password').value = '';
        $('key').value = '';
        start();
      });
    }).catch(function (err) { fail(box, err); });
  });

  function signout(message) {
    sessionStorage.removeItem(KEY);
    showSignin(message);
  }

  // (a session of another role, from the case pages in this tab, is left as it is)
  function showSignin(message) {
    show($('desk'), false);
    show($('who'), false);
    show($('signin'), true);
    var box = $('signin-error');
    show(box, !!message);
    box.textContent = message || '';
  }
  $('signout').addEventListener('click', function () { signout(); });

  // --- where the member is -------------------------------------------------------------------
  function where(text, cls) { $('where').textContent = text; $('where').className = cls || ''; }

  function locate() {
    return new Promise(function (resolve) {
      if (!navigator.geolocation) { where('此浏览器不支持定位，无法签到', 'bad'); return resolve(null); }
      if (window.isSecureContext === false) { where('定位需要通过 HTTPS 打开本页', 'bad'); return resolve(null); }
      where('正在定位…');
      navigator.geolocation.getCurrentPosition(function (p) {
        pos = p.coords;
        posAt = Date.now();
        var acc = Math.round(pos.accuracy);
        where('已定位，精度约 ' + acc + ' 米' + (acc > L.max_accuracy_m ? '（精度较差，签到将转人工审核）' : ''),
              acc > L.max_accuracy_m ? 'bad' : 'ok');
        loadCompounds().then(function () { resolve(pos); });
      }, function (e) {
        where(e.code === 1 ? '未允许定位：请在浏览器设置中允许本页使用位置，再点“重新定位”'
          : e.code === 3 ? '定位超时，请到开阔处点“重新定位”' : '暂时无法定位，请点“重新定位”', 'bad');
        pos = null;
        loadCompounds().then(function () { resolve(null); });
      }, {enableHighAccuracy: true, timeout: 20000, maximumAge: 0});
    });
  }
  $('locate').addEventListener('click', function () { locate(); });

  // --- the compounds, nearest first ----------------------------------------------------------
  var compounds = [], asked = 0;

  function fence() {
    var c = compounds.filter(function (x) { return x.code === select.value; })[0];
    var hint = $('fence');
    if (!c || c.distance_m === null || c.distance_m === undefined) { hint.textContent = ''; return; }
    hint.textContent = c.within_fence
      ? (c.distance_m < 1 ? '您在小区范围内' : '距小区约 ' + Math.round(c.distance_m) + ' 米，在签到范围内')
      : '距小区约 ' + Math.round(c.distance_m) + ' 米，超出签到范围（' + L.fence_m + ' 米），签到将转人工审核';
    hint.className = 'hint ' + (c.within_fence ? 'ok' : 'bad');
  }

  function loadCompounds() {
    var q = pos ? '?lon=' + pos.longitude.toFixed(7) + '&lat=' + pos.latitude.toFixed(7) : '';
    var mine = ++asked;
    return api('/checkins/compounds' + q).then(function (list) {
      if (mine !== asked) return;  // a newer position asked since
      compounds = list;
      var keep = byHand ? select.value : null;
      select.textContent = '';
      if (!list.length) {
        select.appendChild(el('option', null, '您所在党组织暂无包联小区'));
        select.firstChild.value = '';
      }
      list.forEach(function (c) {
        var o = el('option', null, c.name + (c.distance_m !== null && c.distance_m !== undefined
          ? '（' + (c.within_fence ? '在范围内' : '约 ' + Math.round(c.distance_m) + ' 米') + '）' : ''));
        o.value = c.code;
        select.appendChild(o);
      });
      if (keep) select.value = keep;
      fence();
      ready();
    }).catch(function (err) { fail($('error'), err); });
  }
  select.addEventListener('change', function () { byHand = true; fence(); });

  $('photo').addEventListener('change', function () {
    $('photo-label').textContent = this.files.length ? '已选照片，点此更换' : '现场照片（可选）';
  });

  // --- the member's day ------------------------------------------------------------------------
  function badge(row) { return el('span', 'badge ' + row.status, row.status_zh); }

  function drawToday(body) {
    var list = $('today');
    list.textContent = '';
    if (!body.today.length) list.appendChild(el('li', 'empty', '今天还没有签到'));
    body.today.forEach(function (r) {
      var li = el('li');
      li.appendChild(el('span', 'time', hhmm(r.checked_in_at) + '–' + (r.checked_out_at ? hhmm(r.checked_out_at) : '')));
      li.appendChild(el('span', 'place', (r.compound_name || r.compound_code) + ' · ' + r.kind_zh));
      li.appendChild(badge(r));
      if (r.checked_out_at) li.appendChild(el('span', 'hours', hours(r.hours) + ' 小时'));
      list.appendChild(li);
    });
    var m = body.month;
    $('month').textContent = '本月签到 ' + m.checkins + ' 次，有效时长 ' + hours(m.verified_hours) + ' 小时' +
      (m.added_hours ? '，补录 ' + hours(m.added_hours) + ' 小时' : '');
  }

  function drawOpen() {
    show($('current'), !!open);
    show($('choose'), !open);
    big.textContent = open ? '签退' : '签到';
    big.className = 'big ' + (open ? 'out' : 'in');
    if (open) {
      $('current-place').textContent = (open.compound_name || open.compound_code) + ' · ' + open.kind_zh;
      var minutes = Math.max(0, Math.floor((Date.now() - Date.parse(open.checked_in_at)) / 60000));
      $('current-since').textContent = hhmm(open.checked_in_at) + ' 签到 · 已 ' + minutes + ' 分钟';
    }
    ready();
  }

  function ready() { big.disabled = busy || (!open && !select.value); }

  function loadMine() {
    return api('/checkins/mine?days=7').then(function (body) {
      open = body.open;
      drawOpen();
      drawToday(body);
    }).catch(function (err) { fail($('error'), err); });
  }

  function result(title, row, detail) {
    $('result-title').textContent = title;
    var b = $('result-status');
    b.textContent = row.status_zh;
    b.className = 'badge ' + row.status;
    $('result-detail').textContent = detail;
    var flags = $('result-flags');
    flags.textContent = '';
    (row.flags_zh || []).forEach(function (f) { flags.appendChild(el('li', null, f)); });
    if (row.status === 'flagged') flags.appendChild(el('li', null, '已转人工审核，审核通过后计入时长'));
    show($('result'), true);
  }

  function checkIn() {
    var fresh = pos && Date.now() - posAt < 60000 ? Promise.resolve(pos) : locate();
    return fresh.then(function (p) {
      if (!p) throw new Error('还没有定位成功，请点“重新定位”');
      if (!select.value) throw new Error('请选择报到小区');
      var data = new FormData();
      data.set('compound_code', select.value);
      data.set('lon', p.longitude.toFixed(7));
      data.set('lat', p.latitude.toFixed(7));
      data.set('accuracy_m', String(Math.round(p.accuracy * 10) / 10));
      data.set('crs', 'wgs84');
      data.set('mocked', 'false');  // a web page cannot tell; the speed and fence checks can
      data.set('kind', document.querySelector('input[name=kind]:checked').value);
      if ($('photo').files.length) data.set('photo', $('photo').files[0]);
      return api('/checkins', {method: 'POST', body: data});
    }).then(function (row) {
      $('photo').value = '';
      $('photo-label').textContent = '现场照片（可选）';
      result(row.status === 'valid' ? '签到成功' : '已签到', row,
             (row.compound_name || row.compound_code) + ' · ' + hhmm(row.checked_in_at) + ' 签到');
    });
  }

  function checkOut() {
    return api('/checkins/' + open.id + '/checkout', {method: 'POST'}).then(function (row) {
      result('已签退', row, (row.compound_name || row.compound_code) + ' · ' + hhmm(row.checked_in_at) +
             '–' + hhmm(row.checked_out_at) + '，本次 ' + hours(row.hours) + ' 小时');
    });
  }

  big.addEventListener('click', function () {
    if (busy) return;
    busy = true;
    show($('error'), false);
    big.disabled = true;
    var was = big.textContent;
    big.textContent = '请稍候';
    (open ? checkOut() : checkIn()).catch(function (err) {
      big.textContent = was;
      fail($('error'), err);
    }).then(function () {
      busy = false;
      return loadMine();
    });
  });

  // --- start -----------------------------------------------------------------------------------
  function start() {
    var s = session();
    if (!s || s.role !== 'member') return showSignin(s ? '此页面供党员账号使用' : '');
    $('who-name').textContent = s.username;
    show($('who'), true);
    show($('signin'), false);
    show($('desk'), true);
    loadMine();
    locate();
  }

  setInterval(function () { if (open) drawOpen(); }, 30000);  // "已 N 分钟" moves on
  start();
})();
