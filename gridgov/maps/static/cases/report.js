/* 文明中阳随手拍: locate (the browser gives WGS84), take a photo, send the report to POST /cases
   as a form, show the case number and where it goes. Plain script, no framework. */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var form = $('report'), where = $('where'), error = $('error'), submit = $('submit');
  var pos = null;

  function show(el, on) { el.hidden = !on; }
  function status(text, cls) { where.textContent = text; where.className = cls || ''; }

  function locate() {
    pos = null;
    if (!navigator.geolocation) return status('此浏览器不支持定位，无法上报位置', 'bad');
    if (window.isSecureContext === false) return status('定位需要通过 HTTPS 打开本页', 'bad');
    status('正在定位…');
    navigator.geolocation.getCurrentPosition(function (p) {
      pos = p.coords;
      status('已定位，精度约 ' + Math.round(pos.accuracy) + ' 米（' + pos.longitude.toFixed(5) +
             ', ' + pos.latitude.toFixed(5) + '）', pos.accuracy > 100 ? 'bad' : 'ok');
    }, function (e) {
      status(e.code === 1 ? '未允许定位：请在浏览器设置中允许本页使用位置，再点“重新定位”'
        : e.code === 3 ? '定位超时，请到开阔处点“重新定位”' : '暂时无法定位，请点“重新定位”', 'bad');
    }, {enableHighAccuracy: true, timeout: 20000, maximumAge: 0});
  }

  // The API's errors ({code, description}, in English) said in Chinese; the original stays
  // below in small print for whoever helps the resident.
  function zh(status, body, retry) {
    var d = (body && body.description) || '';
    if (status === 429) return '提交太频繁，请' + (retry ? ' ' + retry + ' 秒' : '稍')+ '后再试';
    if (status === 413 || /photo limit|megapixel/.test(d)) return '照片太大，请换一张或降低拍照分辨率';
    if (/HEIC/.test(d)) return '照片是 HEIC 格式，无法识别：请在相机设置中改为“兼容性最佳”（JPEG）';
    if (/photo/.test(d)) return '照片无法接收（不是 JPEG/PNG 图片或已损坏），请重新拍照或不附照片';
    if (/no county/.test(d)) return '您所在的位置不在中阳县服务范围内，无法受理';
    if (/category|service_code/.test(d)) return '请选择有效的问题类别';
    if (/description/.test(d)) return '请填写问题描述';
    if (/phone/.test(d)) return '手机号码格式不正确';
    if (status === 401 || status === 403) return '本服务当前不接受匿名上报，请联系社区';
    if (status >= 500) return '服务暂时不可用，请稍后再试';
    return '提交未成功，请检查后重试';
  }

  function fail(message, detail) {
    error.textContent = message;
    if (detail) {
      var s = document.createElement('small');
      s.textContent = detail;
      error.appendChild(s);
    }
    show(error, true);
    error.scrollIntoView({block: 'center'});
  }

  $('locate').addEventListener('click', locate);
  $('anonymous').addEventListener('change', function () { show($('contact'), !this.checked); });
  $('photo').addEventListener('change', function () {
    var f = this.files[0], img = $('preview');
    if (img.src) URL.revokeObjectURL(img.src);
    show(img, !!f);
    if (f) img.src = URL.createObjectURL(f);
    $('photo-label').textContent = f ? '已选照片，点此更换' : '拍照或选择照片';
  });

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    show(error, false);
    var data = new FormData(form);
    if (!data.get('category_code')) return fail('请选择问题类别');
    if (!String(data.get('description')).trim()) return fail('请填写问题描述');
    if (!pos) return fail('还没有定位成功，请点“重新定位”');
    var anonymous = $('anonymous').checked, phone = String(data.get('reporter_phone') || '');
    if (!anonymous && phone && !/^\+?\d{7,15}$/.test(phone)) return fail('手机号码格式不正确');
    data.set('anonymous', anonymous ? 'true' : 'false');
    if (anonymous) { data.delete('reporter_name'); data.delete('reporter_phone'); }
    ['address', 'reporter_name', 'reporter_phone'].forEach(function (k) {
      if (data.has(k) && !String(data.get(k)).trim()) data.delete(k);
    });
    if (!$('photo').files.length) data.delete('photos');
    data.set('lon', pos.longitude.toFixed(7));
    data.set('lat', pos.latitude.toFixed(7));
    data.set('crs', 'wgs84');
    data.set('channel', 'resident');
    submit.disabled = true;
    submit.textContent = '正在提交…';
    fetch('/cases', {method: 'POST', body: data}).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) return fail(zh(r.status, body, r.headers.get('Retry-After')), body.description);
        $('code').textContent = body.code;
        $('routing').textContent = body.routing_note || '由指挥中心人工派遣';
        var dups = body.duplicates_offered || [];
        $('dups').textContent = dups.length ? '附近已有 ' + dups.length + ' 件同类问题正在办理，指挥中心会一并处理。' : '';
        show($('dups'), dups.length > 0);
        show(form, false);
        show($('done'), true);
        window.scrollTo(0, 0);
      });
    }).catch(function () {
      fail('网络连接失败，请检查网络后重试');
    }).then(function () {
      submit.disabled = false;
      submit.textContent = '提交 · Submit';
    });
  });

  $('again').addEventListener('click', function () {
    form.reset();
    $('photo').dispatchEvent(new Event('change'));
    show($('contact'), false);
    show($('done'), false);
    show(form, true);
    locate();
  });

  locate();
})();
