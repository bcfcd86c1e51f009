/* partnerops first-party click tracking, making no requests of its own: see the
   README's "Merchant integration" for the script tag and its data- attributes.
   It keeps the click id the redirect appended in a first-party cookie for the
   program's cookie window, fills <input name="po_click_id"> fields, and answers
   partnerops.clickId() for the checkout. */
(function (d, w) {
  var s = d.currentScript || {}, o = s.dataset || {};
  var p = /^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(o.param || "") ? o.param : "po_click_id";
  var days = Math.min(Math.max(parseInt(o.days, 10) || 30, 1), 365);
  var m = new RegExp("[?&]" + p + "=([A-Za-z0-9_-]{22}|[0-9a-fA-F-]{36})(&|#|$)").exec(w.location.search);
  if (m) {
    d.cookie = p + "=" + m[1] + "; path=/; max-age=" + days * 86400 + "; samesite=lax" +
      (o.domain ? "; domain=" + o.domain : "") + (w.location.protocol === "https:" ? "; secure" : "");
  }
  function clickId() {
    var c = new RegExp("(?:^|; )" + p + "=([^;]*)").exec(d.cookie);
    return c ? c[1] : "";
  }
  function fill() {
    var f = d.querySelectorAll("input[name='" + p + "']");
    for (var i = 0; i < f.length; i++) if (!f[i].value) f[i].value = clickId();
  }
  w.partnerops = { clickId: clickId, param: p };
  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", fill); else fill();
})(document, window);
