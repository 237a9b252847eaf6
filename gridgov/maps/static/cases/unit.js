/* A responsible unit's cases (GET /cases?mine=true, for a handler's account): each card can be
   signed for at once; a click opens the case beside the list, where the unit returns it,
   reports back (处置反馈) and adds before/after photos. New dispatches show up by themselves. */
(function () {
  'use strict';
  var el = GG.el, L10N = GG.L10N;
  var form = document.getElementById('filters');
  var list = document.getElementById('mine');
  var summary = document.getElementById('summary');
  var detail = document.getElementById('case');
  var current = null, panel = null;

  function say(text) {
    summary.textContent = text;
    list.textContent = '';
  }

  function open(code) {
    current = code;
    Array.prototype.forEach.call(list.children, function (li) {
      li.classList.toggle('active', li.dataset.code === code);
    });
    panel = GG.casePanel(detail, code, {mode: 'unit', onChange: function () { load(); }});
    if (window.innerWidth < 800) detail.scrollIntoView();
  }

  function card(c) {
    var late = GG.overdue(c);
    var due = c.status === 'dispatched' ? c.sign_due : c.handle_due;
    var li = el('li', {cls: late ? 'overdue' : '', 'data-code': c.code},
      el('div', {cls: 'line'}, el('b', {text: c.code}), GG.statusBadge(c),
         el('span', {cls: 'muted', text: GG.categoryName(c.category_code)})),
      el('div', {cls: 'desc', text: c.description}),
      el('div', {cls: 'line'},
         el('span', {cls: late ? 'late' : 'muted'},
            (c.status === 'dispatched' ? '签收时限 ' : '办理时限 ') + GG.time(due)),
         c.status === 'dispatched' ? el('button', {type: 'button', 'data-action': 'sign', onclick: function (ev) {
           ev.stopPropagation();
           var b = ev.target;
           b.disabled = true;
           GG.api('/cases/' + encodeURIComponent(c.code) + '/actions/sign',
                  {method: 'POST', json: {}, headers: {'If-Match': '"v' + c.version + '"'}})
             .then(function () { GG.toast(c.code + ' 已签收'); load(); open(c.code); })
             .catch(function (err) { b.disabled = false; GG.toast(err.message); });
         }}, L10N.actions.sign) : null));
    li.addEventListener('click', function () { open(c.code); });
    return li;
  }

  function load() {
    var s = GG.session();
    if (!s) return say('请使用责任单位经办人账号登录（右上角）。');
    if (s.role !== 'handler') return say('此页面供责任单位经办人使用；指挥中心请打开“工单调度”页面。');
    var q = new URLSearchParams({mine: 'true', limit: '500'});
    var status = new FormData(form).get('status');
    if (status) q.set('status', status);
    return GG.api('/cases?' + q.toString()).then(function (r) {
      list.textContent = '';
      var late = r.body.filter(GG.overdue).length;
      summary.textContent = r.body.length ? '共 ' + r.body.length + ' 件' + (late ? '，超期 ' + late + ' 件' : '') :
        '暂无工单';
      r.body.forEach(function (c) { list.appendChild(card(c)); });
      if (current) Array.prototype.forEach.call(list.children, function (li) {
        li.classList.toggle('active', li.dataset.code === current);
      });
    }).catch(function (err) { say(''); summary.appendChild(GG.errorBox(err)); });
  }

  form.addEventListener('submit', function (ev) { ev.preventDefault(); load(); });
  GG.whenSignedIn(function () { load(); if (panel) panel.reload(); });
  if (!GG.session()) load();
  GG.watch('cases', load, 5000);
})();
