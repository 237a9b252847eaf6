/* The case page (/center/cases/{code}, /unit/cases/{code}): one case panel, drawn again when
   someone signs in (the moves offered depend on who asks). */
(function () {
  'use strict';
  var panel = GG.casePanel(document.getElementById('case'), GG.data.code, {mode: GG.data.mode});
  var first = true;
  GG.whenSignedIn(function () { if (!first) panel.reload(); });
  first = false;
})();
