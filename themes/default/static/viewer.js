/* tracesite viewer: view/index.html?t=<shard>.<k>#pos-N (src/tracesite/render/viewer.py).
 *
 * Draws the k-th trace of token shard <shard> (assets/tokens/<shard>.js, docs/scale.md) in the
 * page's empty heatmap embed with TracesiteHeatmap.load, so it has the trace page's heatmap,
 * hover, keyboard and #pos-N; its card (cards-<i / meta.card_shard>) gives the title and
 * statistics, and the tokens give the text view. Everything from the data is set with textContent (untrusted text).
 * Loaded by the viewer page only (templates/viewer.html), after shards.js.
 */
(function () {
  "use strict";

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function fixed(x, d) { return x == null || x !== x ? "\u2013" : Number(x).toFixed(d); }
  function grouped(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }

  /** ?t=<shard>.<k> as [shard, k], or null. */
  function wanted() {
    var m = /^([A-Za-z0-9_-]+)\.(\d+)$/.exec(new URLSearchParams(location.search).get("t") || "");
    return m ? [m[1], parseInt(m[2], 10)] : null;
  }

  function say(article, text) {
    var status = article.querySelector(".viewer-status");
    status.textContent = text;
    status.hidden = !text;
  }

  /** The columns TracesiteHeatmap.load reads: the shard's (decoded by TracesiteShards) and the
   *  config as the JSON string the embed would carry. */
  function columnsOf(entry) {
    var cols = Object.assign({}, entry.cols);
    var cfg = cols.cfg != null ? cols.cfg : entry.cfg;
    cols.cfg = typeof cfg === "string" ? cfg : JSON.stringify(cfg);
    return cols;
  }

  /** The title, the meta line and the statistics table from the trace's card. */
  function showCard(article, card) {
    var title = card.t || "Trace " + (card.i + 1);
    article.querySelector(".viewer-title").textContent = title;
    document.title = title + " \u00b7 " + document.title.split(" \u00b7 ").slice(-1)[0];
    var meta = article.querySelector(".viewer-meta");
    meta.replaceChildren();
    if (card.m) meta.append(el("span", "model", card.m));
    if (card.d) meta.append(el("time", null, card.d));
    meta.append(el("span", null, grouped(card.n) + " tokens"));
    var rows = [["Tokens", grouped(card.n)], ["Mean p", fixed(card.p, 3)], ["Perplexity", fixed(card.q, 2)]];
    if (card.sc) Object.keys(card.sc).forEach(function (k) { rows.push([k, String(card.sc[k])]); });
    if (card.gr) rows.push(["Group", String(card.gr)]);
    if (card.f) rows.push(["Data checks", String(card.f)]);
    var table = article.querySelector(".viewer-stats");
    table.replaceChildren();
    rows.forEach(function (r) {
      var tr = el("tr");
      var th = el("th", null, r[0]);
      th.scope = "row";
      tr.append(th, el("td", null, r[1]));
      table.append(tr);
    });
  }

  /** The text view as a trace page has it (tok-N spans coloured by p in tenths), from the
   *  heatmap's own data; blocks of 500 tokens (content-visibility, see heatmap.css). */
  function showText(article, h) {
    var tsv = el("div", "tsv"), block = null, low = h.cfg.low, shown = new Map(h.cfg.pc || []);
    for (var i = 0; i < h.n; i++) {
      if (i % 500 === 0) { block = el("div", "tsv-c"); tsv.append(block); }
      // the page's text where it is not the token's own (a character split over tokens, codes)
      var text = shown.has(i) ? shown.get(i) : h.str(h.tok[i]);
      var p = h.p[i], span = el("span", null, text);
      span.id = "tok-" + (h.cfg.off + i + 1);
      span.className = h.sp[i] === 1 ? "sp" : p === p ? "q" + Math.round(p * 10) + (p < low ? " lc" : "") : "qu";
      if (p === p && p < low) span.title = "p=" + p.toFixed(2);
      block.append(span);
    }
    article.querySelector(".viewer-text").replaceChildren(tsv);
    window.TracesiteHeatmap.textChanged();
  }

  /** Channel colour modes in the mode switch (a trace page gets them from Python). */
  function addChannelModes(root, h) {
    var sel = root.querySelector(".tsh-mode"), modes = h.cfg.modes, keys = Object.keys(modes);
    var group = el("optgroup");
    group.label = "channels";
    keys.forEach(function (key) {
      if (modes[key].ch == null) return;
      var opt = el("option", null, modes[key].title || key);
      opt.value = key;
      group.append(opt);
    });
    if (sel && group.children.length) sel.append(group);
  }

  /** The card of trace ``i``: in shard cards-<i / card_shard>, the size the build wrote in the
   *  index's meta. Without it the heatmap stands alone. */
  function showCardOf(article, site, i) {
    var S = window.TracesiteShards;
    S.load(site, "meta").then(function (meta) {
      return S.load(site, "cards-" + Math.floor(i / meta.card_shard));
    }).then(function (cards) {
      var card = (cards || []).find(function (c) { return c.i === i; });
      if (card) showCard(article, card);
    }, function () { /* the heatmap stands without its card */ });
  }

  function start(article) {
    var root = article.querySelector(".tsh"), want = wanted(), S = window.TracesiteShards;
    var site = article.dataset.root || "../";
    if (!want) { say(article, "No trace chosen: open a trace from the gallery."); return; }
    if (!S || !window.TracesiteHeatmap) { say(article, "The viewer's scripts did not load."); return; }
    S.load(site, "tok-" + want[0]).then(function (shard) {
      var entry = shard.traces[want[1]];
      if (!entry) throw new Error("no trace " + want[1] + " in token shard " + want[0]);
      if (entry.i != null) showCardOf(article, site, entry.i);
      return window.TracesiteHeatmap.load(root.id, columnsOf(entry));
    }).then(function (h) {
      S.forget("tok-" + want[0]); // the heatmap holds what it needs
      root.dataset.n = String(h.n);
      root.setAttribute("aria-label", "Token heatmap, positions " + (h.cfg.off + 1) + "\u2013" + (h.cfg.off + h.n) +
        "; hover or tap a cell for its alternatives, or move through the positions with the arrow keys");
      addChannelModes(root, h);
      showText(article, h);
      say(article, "");
    }).catch(function (err) {
      say(article, "This trace could not be loaded: " + err.message);
      console.error("tracesite viewer:", err);
    });
  }

  function init() {
    var article = document.querySelector("article.viewer");
    if (article) start(article);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init, { once: true });
  else init();
})();
