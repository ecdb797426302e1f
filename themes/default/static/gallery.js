/* The gallery at any size, in the browser, with no server (works from file://).
 *
 * The first page of cards is plain HTML. This file pages through every trace, sorts over all of
 * them (across sections) by any summary field, filters by tag, section and numeric conditions
 * ("reward>0.5 n<300"), searches the whole text of every trace and every note, and answers token
 * queries (token:"Wait" p<0.3, alt:"wait", entropy>2, any channel). All of it reads shards
 * loaded on demand through TracesiteShards (shards.js; formats in docs/scale.md). The view is kept
 * in the URL hash (#sort=p-asc&tag=x&q=...&page=3) so a link reproduces it. Model output and file
 * names are untrusted: they reach the page through textContent and attributes only.
 */
(function () {
  "use strict";
  var form = document.getElementById("gallery-controls");
  var S = window.TracesiteShards;
  if (!form || !S) return;
  var ROOT = form.getAttribute("data-root") || "";
  var TOKEN_HITS = 50; // token-query hits shown at a time ("more" scans on)
  var el = {
    q: document.getElementById("q"), tag: document.getElementById("tag-filter"),
    sort: document.getElementById("sort"), section: document.getElementById("section-filter"),
    count: document.getElementById("count"), list: document.getElementById("gallery"),
    pager: document.getElementById("pager"), noMatch: document.getElementById("no-match"),
    docs: document.getElementById("doc-hits"), tokens: document.getElementById("token-hits")
  };
  var meta = null, N = 0, generation = 0, tokenRun = null;
  var cache = { order: new Map(), col: new Map() };

  /* ---- the view's state, in the URL hash ---- */

  function readHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    return {
      q: p.get("q") || "", tag: p.get("tag") || "", sort: p.get("sort") || "",
      section: p.get("section") || "", page: Math.max(1, parseInt(p.get("page") || "1", 10) || 1)
    };
  }
  function writeHash(st) {
    var p = new URLSearchParams();
    ["q", "tag", "section", "sort"].forEach(function (k) { if (st[k]) p.set(k, st[k]); });
    if (st.page > 1) p.set("page", String(st.page));
    var h = p.toString();
    if (("#" + h) === location.hash || (!h && !location.hash)) return;
    history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
  }
  function stateOfControls(page) {
    return { q: el.q.value.trim(), tag: el.tag.value, sort: el.sort.value,
      section: el.section ? el.section.value : "", page: page || 1 };
  }
  function setControls(st) {
    el.q.value = st.q;
    setSelect(el.tag, st.tag);
    setSelect(el.sort, st.sort);
    if (el.section) setSelect(el.section, st.section);
  }
  function setSelect(sel, value) {
    if (value && !Array.prototype.some.call(sel.options, function (o) { return o.value === value; })) {
      var o = document.createElement("option");
      o.value = value; o.textContent = value;
      sel.appendChild(o);
    }
    sel.value = value;
  }
  function isDefault(st) { return !st.q && !st.tag && !st.sort && !st.section; }

  /* ---- queries: words, numeric conditions, token: / alt: ---- */

  var COND = /^([A-Za-z_][\w.:\-]*?)(<=|>=|!=|<|>|=)(-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)$/i;
  var TOKEN = /^(token|alt):(?:"((?:[^"\\]|\\.)*)"?|(.*))$/i;

  /** {words, conds: [{field, op, value}], token: {text, alt} | null} of a search box text. */
  function parseQuery(text) {
    var out = { words: [], conds: [], token: null };
    (text.match(/(?:[^\s"]+|"[^"]*"?)+/g) || []).forEach(function (piece) {
      var t = TOKEN.exec(piece), c = COND.exec(piece);
      if (t) out.token = { text: t[2] !== undefined ? t[2].replace(/\\(.)/g, "$1") : t[3], alt: t[1].toLowerCase() === "alt" };
      else if (c) out.conds.push({ field: c[1], op: c[2], value: parseFloat(c[3]) });
      else out.words = out.words.concat(S.terms(piece));
    });
    return out;
  }
  function test(op, x, v) {
    if (x !== x) return false; // unknown never matches
    switch (op) {
      case "<": return x < v; case "<=": return x <= v; case ">": return x > v;
      case ">=": return x >= v; case "=": return x === v; default: return x !== v;
    }
  }

  /* ---- summary columns, order and filters over every trace ---- */

  /** The column of a field named in a query or a sort: "n", "p", "reward" -> "sc.reward". */
  function fieldName(name) {
    var names = meta.fields.map(function (f) { return f.name; });
    var aliases = { tokens: "n", length: "n", mean_p: "p", perplexity: "q", date: "d", title: "title" };
    if (names.indexOf(name) >= 0) return name;
    if (aliases[name] && names.indexOf(aliases[name]) >= 0) return aliases[name];
    if (names.indexOf("sc." + name) >= 0) return "sc." + name;
    return null;
  }
  function column(field) {
    var hit = cache.col.get(field);
    if (!hit) {
      hit = S.load(ROOT, "col-" + field).then(function (c) { return c.v; });
      hit.catch(function () { cache.col.delete(field); }); // a failed load is tried again
      cache.col.set(field, hit);
    }
    return hit;
  }

  /** Trace ids in the order of a sort spec ("p-asc", "sc.reward-desc", "title-asc", "").
   *  Unknown values go last whichever the direction; ties keep the gallery's order. */
  function order(spec) {
    var hit = cache.order.get(spec);
    if (hit) return hit;
    var cut = spec.lastIndexOf("-"), key = spec.slice(0, cut), dir = spec.slice(cut + 1) === "desc" ? -1 : 1;
    if (!spec || cut < 0) hit = Promise.resolve(identity(N));
    else if (key === "title") {
      hit = S.load(ROOT, "ord-title").then(function (o) { return dir > 0 ? o.ids : o.ids.slice().reverse(); });
    } else hit = column(key === "date" ? "d" : key).then(function (v) { return argsort(v, dir); });
    hit.catch(function () { cache.order.delete(spec); });
    cache.order.set(spec, hit);
    return hit;
  }
  function identity(n) {
    var ids = new Uint32Array(n);
    for (var i = 0; i < n; i++) ids[i] = i;
    return ids;
  }
  /** Ids with a known value in the order of `v` (dir 1 ascending, -1 descending), ties by id,
   *  then the unknown (NaN) ones by id: an LSD radix sort on the doubles' bits, 16 bits a pass
   *  (a pass every key agrees on is skipped). 7-20 ms for 100,000 values in Chromium, where a
   *  comparator sort took 31-35 ms; the order is the comparator's (and Python's sort_order). */
  function argsort(v, dir) {
    var n = v.length, m = 0, i;
    for (i = 0; i < n; i++) if (v[i] === v[i]) m++;
    var ids = new Uint32Array(m), hi = new Uint32Array(m), lo = new Uint32Array(m);
    var out = new Uint32Array(n), f = new Float64Array(1), u = new Uint32Array(f.buffer);
    var k = 0, un = m;
    for (i = 0; i < n; i++) {
      var x = v[i];
      if (x !== x) { out[un++] = i; continue; }
      f[0] = x + 0; // -0 + 0 is +0: the two zeros tie, as they compare equal
      var h = u[1], l = u[0];
      if (h & 0x80000000) { h = ~h; l = ~l; } else h |= 0x80000000; // bits in the numbers' order
      if (dir < 0) { h = ~h; l = ~l; }
      ids[k] = i; hi[k] = h >>> 0; lo[k] = l >>> 0; k++;
    }
    var count = new Uint32Array(65537), ids2 = new Uint32Array(m), hi2 = new Uint32Array(m), lo2 = new Uint32Array(m);
    for (var pass = 0; pass < 4; pass++) {
      var key = pass < 2 ? lo : hi, shift = pass % 2 ? 16 : 0;
      count.fill(0);
      for (i = 0; i < m; i++) count[((key[i] >>> shift) & 0xffff) + 1]++;
      var one = false;
      for (var d = 1; d <= 65536; d++) { if (count[d] === m) one = true; count[d] += count[d - 1]; }
      if (one || m < 2) continue; // every key has this digit: the order stays
      for (i = 0; i < m; i++) {
        var at = count[(key[i] >>> shift) & 0xffff]++;
        ids2[at] = ids[i]; hi2[at] = hi[i]; lo2[at] = lo[i];
      }
      var t = ids; ids = ids2; ids2 = t; t = hi; hi = hi2; hi2 = t; t = lo; lo = lo2; lo2 = t;
    }
    out.set(ids);
    return out;
  }

  window.TracesiteGallery = { argsort: argsort };

  /** A mask (1 = shown) over trace ids from the tag, section and numeric conditions, or null. */
  function filters(st, query) {
    var parts = [];
    if (st.tag) {
      var k = meta.tags.findIndex(function (t) { return t[0] === st.tag; });
      parts.push(k < 0 ? Promise.resolve(new Uint8Array(N)) : S.load(ROOT, "tag-" + k).then(function (t) {
        var m = new Uint8Array(N);
        for (var j = 0; j < t.ids.length; j++) m[t.ids[j]] = 1;
        return m;
      }));
    }
    if (st.section) {
      var s = meta.sections.findIndex(function (x) { return x.name === st.section; });
      parts.push(S.load(ROOT, "col-section").then(function (c) {
        var m = new Uint8Array(N);
        for (var j = 0; j < N; j++) m[j] = c.v[j] === s ? 1 : 0;
        return m;
      }));
    }
    if (!query.token) query.conds.forEach(function (c) {
      var f = fieldName(c.field);
      parts.push(f === null || f === "title" ? Promise.resolve(new Uint8Array(N)) : column(f).then(function (v) {
        var m = new Uint8Array(N);
        for (var j = 0; j < N; j++) m[j] = test(c.op, v[j], c.value) ? 1 : 0;
        return m;
      }));
    });
    if (!parts.length) return Promise.resolve(null);
    return Promise.all(parts).then(function (ms) {
      var m = ms[0];
      for (var a = 1; a < ms.length; a++) for (var j = 0; j < N; j++) m[j] &= ms[a][j];
      return m;
    });
  }

  /* ---- text search over postings ---- */

  /** Map of document id -> position of the first term (-1 for notes), for all terms (AND). */
  function textHits(words) {
    if (!words.length) return Promise.resolve(null);
    var uniq = words.filter(function (w, i) { return words.indexOf(w) === i; });
    return Promise.all(uniq.map(function (w) {
      return S.load(ROOT, "s-" + S.bucket(w, meta.search_buckets)).then(function (b) {
        return Object.prototype.hasOwnProperty.call(b, w) ? b[w] : [];
      });
    })).then(function (lists) {
      var hits = new Map(), first = lists[0];
      for (var i = 0; i < first.length; i += 2) hits.set(first[i], first[i + 1]);
      for (var k = 1; k < lists.length; k++) {
        var has = new Set();
        for (var j = 0; j < lists[k].length; j += 2) has.add(lists[k][j]);
        hits.forEach(function (_, id) { if (!has.has(id)) hits.delete(id); });
      }
      return hits;
    });
  }

  /* ---- cards ---- */

  function cardsOf(ids) {
    var need = [];
    ids.forEach(function (id) { var k = Math.floor(id / (meta.card_shard || 64)); if (need.indexOf(k) < 0) need.push(k); });
    return Promise.all(need.map(function (k) { return S.load(ROOT, "cards-" + k); })).then(function (shards) {
      var byId = new Map();
      shards.forEach(function (sh) { sh.forEach(function (c) { byId.set(c.i, c); }); });
      return ids.map(function (id) { return byId.get(id); });
    });
  }
  function node(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || v !== v) return "\u2013";
    if (Number.isInteger(v) && digits === 0) return v.toLocaleString("en-US");
    if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
    return v.toFixed(digits);
  }
  function scalarText(v) {
    if (typeof v !== "number") return String(v);
    return Number.isInteger(v) ? v.toLocaleString("en-US") : fmt(v, 3);
  }
  function href(u) { return ROOT + encodeURI(u).replace(/%25/g, "%"); }
  /** A card shard's compact points (``~x0,dx:y y ...``, site/gallery.compact_sparkline) as
   *  SVG polyline points; plain points pass as they are. */
  function expandPoints(points) {
    if (points.charAt(0) !== "~") return points;
    var colon = points.indexOf(":"), head = points.slice(1, colon).split(",");
    var x0 = parseFloat(head[0]), dx = parseFloat(head[1]);
    return points.slice(colon + 1).split(" ").map(function (y, k) {
      return (x0 + k * dx).toFixed(1) + "," + y;
    }).join(" ");
  }
  function sparkline(points) {
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "spark"); svg.setAttribute("viewBox", "0 0 120 24");
    svg.setAttribute("preserveAspectRatio", "none"); svg.setAttribute("aria-hidden", "true");
    var line = document.createElementNS(ns, "line");
    [["x1", "0"], ["y1", "1"], ["x2", "120"], ["y2", "1"], ["class", "spark-top"]].forEach(function (a) { line.setAttribute(a[0], a[1]); });
    var poly = document.createElementNS(ns, "polyline");
    poly.setAttribute("points", expandPoints(points));
    svg.appendChild(line); svg.appendChild(poly);
    return svg;
  }
  function stat(dl, name, value) {
    var d = node("div");
    d.appendChild(node("dt", "", name)); d.appendChild(node("dd", "", value));
    dl.appendChild(d);
  }
  /** One card as partials/card.html draws it; `pos` (1-based) adds a link to the match. */
  function cardNode(c, pos) {
    var art = node("article", "card");
    art.setAttribute("data-id", String(c.i));
    var h = node("h3", "card-title"), a = node("a", "", c.t);
    a.href = href(c.u);
    h.appendChild(a); art.appendChild(h);
    var m = node("p", "card-meta");
    if (c.m) m.appendChild(node("span", "model", c.m));
    if (c.d) { m.appendChild(document.createTextNode(" ")); var t = node("time", "", c.d); t.setAttribute("datetime", c.d); m.appendChild(t); }
    art.appendChild(m);
    if (c.sp) art.appendChild(sparkline(c.sp));
    var dl = node("dl", "card-stats");
    stat(dl, "tokens", fmt(c.n, 0)); stat(dl, "mean p", fmt(c.p, 2)); stat(dl, "perplexity", fmt(c.q, 2));
    Object.keys(c.sc || {}).slice(0, 4).forEach(function (k) { stat(dl, k, scalarText(c.sc[k])); });
    art.appendChild(dl);
    if (c.gr || c.f) {
      var x = node("p", "card-extra");
      if (c.gr) x.appendChild(node("span", "group", "group " + c.gr));
      if (c.f) x.appendChild(node("span", "flag-badge", " \u26a0 " + c.f + " data check" + (c.f > 1 ? "s" : "")));
      art.appendChild(x);
    }
    if (c.g && c.g.length) art.appendChild(tagList(c.g));
    if (pos !== undefined && pos >= 0) {
      var hit = node("a", "card-hit", "match at position " + pos);
      hit.href = href(c.u) + "#pos-" + pos;
      art.appendChild(hit);
    }
    return art;
  }
  function tagList(tags) {
    var ul = node("ul", "tags");
    tags.forEach(function (tag) {
      var li = node("li"), a = node("a", "tag", tag);
      a.href = "#tag=" + encodeURIComponent(tag);
      a.setAttribute("data-tag", tag);
      li.appendChild(a); ul.appendChild(li);
    });
    return ul;
  }

  /** The page's cards; under sections' headings when the gallery's own order is kept. */
  function drawCards(cards, st, hits) {
    var frag = document.createDocumentFragment(), grid = null, current = null;
    cards.forEach(function (c) {
      if (!c) return;
      var sec = st.sort ? null : c.s;
      if (!grid || sec !== current) {
        current = sec;
        var box = node("section", "section");
        if (sec !== null) {
          box.setAttribute("data-section", sec);
          var info = meta.sections.find(function (x) { return x.name === sec; }) || { title: sec, count: "" };
          var h2 = node("h2", "", info.title + " ");
          h2.appendChild(node("small", "", String(info.count)));
          box.appendChild(h2);
        }
        grid = node("div", "cards");
        box.appendChild(grid);
        frag.appendChild(box);
      }
      grid.appendChild(cardNode(c, hits ? hits.get(c.i) : undefined));
    });
    el.list.replaceChildren(frag);
  }

  function drawDocs(hits) {
    if (!el.docs) return Promise.resolve();
    var ids = [];
    if (hits) hits.forEach(function (_, id) { if (id >= N) ids.push(id); });
    if (!ids.length) { el.docs.hidden = true; el.docs.replaceChildren(); return Promise.resolve(); }
    return S.load(ROOT, meta.docs || "docs").then(function (docs) {
      var byId = new Map(docs.map(function (d) { return [d.i, d]; }));
      var ul = node("ul", "doc-list");
      ids.forEach(function (id) {
        var d = byId.get(id);
        if (!d) return;
        var li = node("li"), a = node("a", "", d.t);
        a.href = href(d.u);
        li.appendChild(a); ul.appendChild(li);
      });
      var h = node("h2", "", "Notes and pages");
      el.docs.replaceChildren(h, ul);
      el.docs.hidden = false;
    });
  }

  function drawPager(st, total) {
    var pages = Math.max(1, Math.ceil(total / meta.page_size));
    el.pager.replaceChildren();
    el.pager.hidden = pages <= 1;
    if (pages <= 1) return;
    var want = [1, st.page - 2, st.page - 1, st.page, st.page + 1, st.page + 2, pages], last = 0;
    var add = function (label, page, cls) {
      var a = node("a", cls || "", label);
      a.href = "#" + hashFor(st, page);
      a.setAttribute("data-page", String(page));
      if (page === st.page && !cls) a.setAttribute("aria-current", "page");
      el.pager.appendChild(a);
    };
    if (st.page > 1) add("\u2039 previous", st.page - 1, "prev");
    want.filter(function (p, i) { return p >= 1 && p <= pages && want.indexOf(p) === i; })
      .sort(function (a, b) { return a - b; })
      .forEach(function (p) {
        if (p > last + 1) el.pager.appendChild(node("span", "gap", "\u2026"));
        add(String(p), p);
        last = p;
      });
    if (st.page < pages) add("next \u203a", st.page + 1, "next");
  }
  function hashFor(st, page) {
    var p = new URLSearchParams();
    ["q", "tag", "section", "sort"].forEach(function (k) { if (st[k]) p.set(k, st[k]); });
    if (page > 1) p.set("page", String(page));
    return p.toString();
  }

  /* ---- one view: filter, order, page, draw ---- */

  function apply(st, firstLoad) {
    var mine = ++generation;
    writeHash(st);
    var query = parseQuery(st.q);
    stopTokens();
    if (firstLoad && isDefault(st) && st.page === 1) { drawPager(st, N); return Promise.resolve(); }
    if (window.performance && performance.mark) performance.mark("ts-query-start");
    form.setAttribute("aria-busy", "true");
    var top = topShard(st, query);
    var view = top !== null ? S.load(ROOT, top).then(function (cards) {
      if (mine !== generation) return;
      if (window.performance && performance.mark) performance.mark("ts-order-done");
      drawCards(cards, st, null);
      drawPager(st, N);
      showCount(N, 0);
      done();
      prefetchNext(st, query, null, mine);
    }) : Promise.all([order(st.sort), filters(st, query), textHits(query.words)]).then(function (r) {
      if (mine !== generation) return null;
      var ids = select(r[0], r[1], r[2]);
      if (window.performance && performance.mark) performance.mark("ts-order-done");
      var pages = Math.max(1, Math.ceil(ids.length / meta.page_size));
      if (st.page > pages) st.page = pages;
      var pageIds = Array.from(ids.subarray((st.page - 1) * meta.page_size, st.page * meta.page_size));
      return Promise.all([cardsOf(pageIds), drawDocs(r[2])]).then(function (res) {
        if (mine !== generation) return;
        drawCards(res[0], st, r[2]);
        drawPager(st, ids.length);
        var docs = r[2] ? Array.from(r[2].keys()).filter(function (id) { return id >= N; }).length : 0;
        showCount(ids.length, docs);
        if (query.token) runTokens(query, r[1]);
        done();
        prefetchNext(st, query, ids, mine);
      });
    });
    return view.catch(function (err) {
      if (mine !== generation) return;
      el.count.textContent = "could not load the gallery's data: " + err.message;
      done();
    });
  }
  /** The pre-sorted shard (top-K-P) of this view's page, when the view is a plain sort over
   *  every trace on one of its first meta.top_pages pages; else null. */
  function topShard(st, query) {
    if (!st.sort || st.tag || st.section || query.words.length || query.conds.length || query.token) return null;
    if (!meta.top || !Object.prototype.hasOwnProperty.call(meta.top, st.sort)) return null;
    if (st.page > (meta.top_pages || 0) || st.page > Math.ceil(N / meta.page_size)) return null;
    return "top-" + meta.top[st.sort] + "-" + st.page;
  }
  /** Once a page is drawn, load what its next page needs while the browser is idle, so the
   *  pager's "next" draws from loaded shards: the next pre-sorted shard, or the next page's
   *  cards-K (the order of all computed first when the view came from a pre-sorted shard). */
  function prefetchNext(st, query, ids, mine) {
    if (mine !== generation) return; // a newer view began while this one was finishing
    var next = st.page + 1, size = meta.page_size;
    var later = window.requestIdleCallback || function (f) { return setTimeout(f, 50); };
    function cardsAt(o) { return cardsOf(Array.from(o.subarray((next - 1) * size, next * size))); }
    later(function () {
      if (mine !== generation) return;
      var top = topShard({ sort: st.sort, tag: st.tag, section: st.section, page: next }, query), got = null;
      if (top !== null) got = S.load(ROOT, top);
      else if (ids) got = cardsAt(ids);
      else if (st.sort && next <= Math.ceil(N / size)) got = order(st.sort).then(cardsAt);
      if (got) got.catch(function () {}); // a failed load is retried, and reported, when it is needed
    });
  }
  function done() {
    form.removeAttribute("aria-busy");
    if (window.performance && performance.mark) performance.mark("ts-query-done");
    document.dispatchEvent(new CustomEvent("tracesite:gallery", { detail: { generation: generation } }));
  }
  /** The ids of `ordered` kept by the mask and the text hits (traces only: notes are listed apart). */
  function select(ordered, mask, hits) {
    if (!mask && !hits) return ordered;
    var out = new Uint32Array(ordered.length), k = 0;
    for (var i = 0; i < ordered.length; i++) {
      var id = ordered[i];
      if ((!mask || mask[id]) && (!hits || hits.has(id))) out[k++] = id;
    }
    return out.subarray(0, k);
  }
  function showCount(traces, docs) {
    var text = traces.toLocaleString("en-US") + (traces === 1 ? " trace" : " traces");
    if (docs) text += ", " + docs + (docs === 1 ? " note" : " notes");
    el.count.textContent = text;
    el.noMatch.hidden = traces + docs > 0;
  }

  /* ---- token queries, scanned shard by shard ---- */

  function stopTokens() {
    if (tokenRun) tokenRun.stopped = true;
    tokenRun = null;
    if (el.tokens) { el.tokens.hidden = true; el.tokens.replaceChildren(); }
  }

  function runTokens(query, mask) {
    if (!el.tokens || !window.TracesiteTokenQuery) return;
    var key = S.tokenKey(query.token.text);
    var box = node("div", "token-box"), ol = node("ol", "token-list"), status = node("p", "token-status", "searching\u2026");
    var more = node("button", "token-more", "more hits");
    more.type = "button"; more.hidden = true;
    box.appendChild(node("h2", "", (query.token.alt ? "Alternatives " : "Tokens ") + JSON.stringify(query.token.text)));
    box.appendChild(status); box.appendChild(ol); box.appendChild(more);
    el.tokens.replaceChildren(box);
    el.tokens.hidden = false;
    var run = tokenRun = window.TracesiteTokenQuery.start(ROOT, meta, key, query, mask);
    var show = function () {
      more.hidden = true;
      status.textContent = "searching\u2026";
      run.next(TOKEN_HITS, function (hit, card) { ol.appendChild(tokenHit(hit, card)); }).then(function (end) {
        if (run !== tokenRun) return;
        var n = ol.children.length;
        status.textContent = n + (n === 1 ? " position" : " positions") + (end ? "" : " so far");
        more.hidden = end;
        if (window.performance && performance.mark) performance.mark("ts-tokens-done");
      }).catch(function (err) { status.textContent = "token search failed: " + err.message; });
    };
    more.addEventListener("click", show);
    show();
  }
  function tokenHit(hit, card) {
    var li = node("li", "token-hit"), a = node("a", "", card ? card.t : "trace " + hit.trace);
    a.href = href(card.u) + "#pos-" + hit.pos;
    li.appendChild(node("code", "token-text", JSON.stringify(hit.token)));
    li.appendChild(node("span", "token-p", " p " + fmt(hit.p, 3) + " "));
    li.appendChild(a);
    li.appendChild(node("span", "token-pos", " at " + hit.pos));
    li.setAttribute("data-trace", String(hit.trace));
    li.setAttribute("data-pos", String(hit.pos));
    return li;
  }

  /* ---- wiring ---- */

  function fromControls() { apply(stateOfControls(1)); }
  var typing = 0;
  el.q.addEventListener("input", function () { clearTimeout(typing); typing = setTimeout(fromControls, 150); });
  el.q.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { clearTimeout(typing); fromControls(); } });
  [el.tag, el.sort, el.section].forEach(function (s) { if (s) s.addEventListener("change", fromControls); });
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a");
    if (!a || !el.list.parentNode.contains(a)) return;
    if (a.hasAttribute("data-page")) {
      ev.preventDefault();
      apply(stateOfControls(parseInt(a.getAttribute("data-page"), 10)));
      window.scrollTo(0, form.offsetTop);
    } else if (a.classList.contains("tag") && a.hasAttribute("data-tag") && a.closest(".card")) {
      ev.preventDefault();
      setSelect(el.tag, a.getAttribute("data-tag"));
      fromControls();
    }
  });
  window.addEventListener("hashchange", function () { var st = readHash(); setControls(st); apply(st); });

  /** Options the first page cannot know: every section, and a sort by every summary field. */
  function addOptions() {
    if (meta.sections.length > 1 && el.section) {
      meta.sections.forEach(function (s) {
        var o = node("option", "", s.title);
        o.value = s.name;
        el.section.appendChild(o);
      });
      document.getElementById("section-label").hidden = false;
    }
    meta.fields.forEach(function (f) {
      var key = f.name === "d" ? "date" : f.name;
      [["desc", ", high to low"], ["asc", ", low to high"]].forEach(function (d) {
        var v = key + "-" + d[0];
        if (Array.prototype.some.call(el.sort.options, function (o) { return o.value === v; })) return;
        var o = node("option", "", f.label + d[1]);
        o.value = v;
        el.sort.appendChild(o);
      });
    });
  }

  S.load(ROOT, "meta").then(function (m) {
    meta = m; N = m.n;
    addOptions();
    form.hidden = false;
    var st = readHash();
    setControls(st);
    return apply(st, true);
  }).catch(function (err) {
    form.hidden = false;
    el.count.textContent = "search and paging are unavailable: " + err.message;
  });
})();
