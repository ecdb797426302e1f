/* Gallery search, tag filter and sort, in the browser, with no server (works from file://).
   The text search uses window.TRACESITE_INDEX (assets/search-index.js). Trace text is only ever
   compared, never inserted as HTML. */
(function () {
  var form = document.getElementById("gallery-controls");
  if (!form) return;
  form.hidden = false;
  var q = document.getElementById("q"), tagSel = document.getElementById("tag-filter");
  var sortSel = document.getElementById("sort"), count = document.getElementById("count");
  var noMatch = document.getElementById("no-match");
  var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
  var byUrl = {};
  (window.TRACESITE_INDEX || []).forEach(function (item) { byUrl[item.u] = item; });
  var haystack = cards.map(function (card) {
    var it = byUrl[card.getAttribute("data-url")] || {};
    return [card.getAttribute("data-title"), it.m, (it.g || []).join(" "), it.s, it.x, it.d]
      .join(" \u0000 ").toLowerCase();
  });
  cards.forEach(function (card, i) { card.setAttribute("data-order", i); });

  function num(card, key) {
    if (key.slice(0, 3) === "sc.") {  /* a numeric scalar (step, reward...) from data-sc JSON */
      if (card._sc === undefined) {
        try { card._sc = JSON.parse(card.getAttribute("data-sc") || "{}"); } catch (e) { card._sc = {}; }
      }
      var s = card._sc[key.slice(3)];
      return typeof s === "number" ? s : NaN;
    }
    var v = card.getAttribute("data-" + key);
    return v === "" || v === null ? NaN : parseFloat(v);
  }
  function compare(key, dir) {
    return function (a, b) {
      var x, y;
      if (key === "title" || key === "date") {
        x = a.getAttribute("data-" + key) || ""; y = b.getAttribute("data-" + key) || "";
        var c = x.localeCompare(y);
        return dir * c || (+a.getAttribute("data-order") - +b.getAttribute("data-order"));
      }
      x = num(a, key); y = num(b, key);
      if (isNaN(x) && isNaN(y)) return 0;
      if (isNaN(x)) return 1;  /* unknown values last, whichever the direction */
      if (isNaN(y)) return -1;
      return dir * (x - y);
    };
  }
  function apply() {
    var terms = q.value.toLowerCase().split(/\s+/).filter(Boolean);
    var tag = tagSel.value, shown = 0;
    cards.forEach(function (card, i) {
      var tags = (card.getAttribute("data-tags") || "").split("\u001f");
      var ok = (!tag || tags.indexOf(tag) >= 0) &&
        terms.every(function (t) { return haystack[i].indexOf(t) >= 0; });
      card.hidden = !ok;
      if (ok) shown++;
    });
    document.querySelectorAll(".section").forEach(function (sec) {
      sec.hidden = !sec.querySelector(".card:not([hidden])");
    });
    var s = sortSel.value;
    document.querySelectorAll(".cards").forEach(function (grid) {
      var items = Array.prototype.slice.call(grid.children);
      var cut = s ? s.lastIndexOf("-") : -1;  /* a scalar's name may hold "-" */
      var parts = s ? [s.slice(0, cut), s.slice(cut + 1)] : ["order", "asc"];
      var key = parts[0], dir = parts[1] === "desc" ? -1 : 1;
      items.sort(key === "order" ? function (a, b) {
        return +a.getAttribute("data-order") - +b.getAttribute("data-order");
      } : compare(key, dir));
      items.forEach(function (el) { grid.appendChild(el); });
    });
    count.textContent = shown + (shown === 1 ? " trace" : " traces");
    noMatch.hidden = shown > 0;
    var params = new URLSearchParams();
    if (q.value) params.set("q", q.value);
    if (tag) params.set("tag", tag);
    if (s) params.set("sort", s);
    var h = params.toString();
    if (history.replaceState) history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
  }
  /* restore state from the URL hash (#q=...&tag=...&sort=...) */
  try {
    var init = new URLSearchParams(location.hash.slice(1));
    if (init.get("q")) q.value = init.get("q");
    if (init.get("tag")) tagSel.value = init.get("tag");
    if (init.get("sort")) sortSel.value = init.get("sort");
  } catch (e) { /* old browsers: start unfiltered */ }
  q.addEventListener("input", apply);
  tagSel.addEventListener("change", apply);
  sortSel.addEventListener("change", apply);
  document.querySelectorAll(".card .tag[data-tag]").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      tagSel.value = a.getAttribute("data-tag");
      apply();
    });
  });
  apply();
})();
