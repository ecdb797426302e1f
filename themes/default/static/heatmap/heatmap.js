/* tracesite heatmap: the browser half of src/tracesite/render/heatmap.py.
 *
 * The embed gives one data source per trace (compact typed arrays, token strings in one UTF-8
 * blob) and small empty drawing sources. This file fills the drawing sources with the rows near
 * the viewport whenever the y range moves (a canvas as tall as a 50k-token trace would be blank in
 * Chromium past ~15k px), draws the overview strip, builds tooltips with textContent (trace text
 * is untrusted model output: never innerHTML), recolours by mode (the text view too) and follows
 * #pos-N. A trace with per-token channels gets their modes, masks and hover lines from
 * channels.js (TracesiteChannels). Loaded before or after the embed scripts: embeds queue
 * themselves in window.__tsh_q.
 */
(function () {
  "use strict";
  if (window.TracesiteHeatmap) return;

  var PALETTE_STEPS = 64;
  // Narrowest readable cell (CSS px): on a phone the embed's columns would be ~13 px wide, with
  // every token cut to "…" and the p values overlapping, so the rows re-flow into fewer columns.
  var MIN_CELL_PX = 36;
  var DRAG_PX = 6; // a pointer that moved further between down and up panned: not a tap
  var FONT = "Helvetica, Arial, sans-serif";
  var LOW_COLOUR = "#e8590c";
  var NUM_COLOUR = "#8c8c8c";
  var NAN_COLOUR = "#e4e4e4"; // the colour mapper's nan_color (glyphs.py)
  var STAND_INS = { " ": "\u2423", "\n": "\u21b5", "\t": "\u21e5", "\r": "\u240d", "\u00a0": "\u237d" };
  // controls, format characters, line/paragraph separators, spaces other than U+0020
  var INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Zs}]/u;
  var INVISIBLE_ALL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Zs}]/gu;
  var WHITESPACE_ONLY = /^[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Zs}]*$/u;

  var queue = (window.__tsh_q = window.__tsh_q || []);
  var byModel = new Map(); // range / hover tool id -> Heatmap
  var instances = [];
  var decoder = new TextDecoder("utf-8");
  var measureCtx = null, measureFont = "";

  function hex2(n) { return (n < 16 ? "0" : "") + n.toString(16); }
  function parseHex(c) { return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)]; }

  /** PALETTE_STEPS colours interpolated between a mode's anchors (light to dark), as hex and
   *  as RGB. The anchors and titles come from the embed's config (cfg.modes, defined once in
   *  tracesite.render.modes from bokeh.palettes); interpolated once per set of anchors. */
  var paletteCache = new Map();
  function palette(anchors) {
    var key = anchors.join(",");
    var hit = paletteCache.get(key);
    if (hit) return hit;
    var a = anchors.map(parseHex);
    var hex = [];
    for (var s = 0; s < PALETTE_STEPS; s++) {
      var t = (s / (PALETTE_STEPS - 1)) * (a.length - 1);
      var k = Math.min(a.length - 2, Math.floor(t));
      var f = t - k;
      var rgb = [0, 1, 2].map(function (ch) { return Math.round(a[k][ch] + (a[k + 1][ch] - a[k][ch]) * f); });
      hex.push("#" + rgb.map(hex2).join(""));
    }
    hit = { hex: hex, rgb: hex.map(parseHex) };
    paletteCache.set(key, hit);
    return hit;
  }

  function codeOf(ch) {
    return "\u27e8U+" + ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0") + "\u27e9";
  }

  /** The form drawn in a cell: whitespace-only tokens become stand-ins (␣ ↵ ⇥ ⍽), invisible
   *  characters become ⟨U+XXXX⟩ codes, newlines and tabs inside words become ↵ and ⇥, and the
   *  ordinary spaces around a word are dropped (the tooltip has the exact text). */
  function visible(text) {
    if (text === "") return "\u2205";
    var whole = WHITESPACE_ONLY.test(text);
    var body = whole ? text : text.replace(/^ +| +$/g, "");
    if (!INVISIBLE.test(body)) return body;
    return body.replace(INVISIBLE_ALL, function (ch, at, s) {
      if (ch === " " && !whole) return " ";
      if (ch === "\u200d" && at > 0 && at < s.length - 1) return ch; // joins emoji sequences
      return STAND_INS[ch] || codeOf(ch);
    });
  }

  /** The exact text as a quoted, escaped literal ("\n", "\u00a0"): safe to show, nothing hidden. */
  function exact(text) {
    var out = '"';
    for (var ch of text) {
      var cp = ch.codePointAt(0);
      if (ch === "\\") out += "\\\\";
      else if (ch === '"') out += '\\"';
      else if (ch === "\n") out += "\\n";
      else if (ch === "\t") out += "\\t";
      else if (ch === "\r") out += "\\r";
      else if (ch !== " " && INVISIBLE.test(ch)) out += cp > 0xffff ? "\\u{" + cp.toString(16) + "}" : "\\u" + cp.toString(16).padStart(4, "0");
      else out += ch;
    }
    return out + '"';
  }

  function grouped(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }

  function fixed(x, d) { return (Math.round(x * Math.pow(10, d)) / Math.pow(10, d)).toFixed(d); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function niceTicks(high) {
    var raw = high / 5;
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; }).find(function (s) { return s >= raw; });
    var ticks = [];
    for (var t = 0; t <= high + 1e-9; t += step) ticks.push(Math.round(t * 1000) / 1000);
    return ticks;
  }

  var TYPED = [Float32Array, Float64Array, Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array];

  /** A plain typed-array view of a decoded Bokeh column (BokehJS's ndarray subclasses do not
   *  support subarray()). */
  function plain(a) {
    for (var t = 0; t < TYPED.length; t++) {
      if (a instanceof TYPED[t]) return new TYPED[t](a.buffer, a.byteOffset, a.length);
    }
    return a;
  }

  /** A heatmap over the models of one embed; ``col(name)`` gives a data column (by default the
   *  embed's own, see ``load`` for the viewer's), ``uid`` its container when not the config's. */
  function Heatmap(m, col, uid) {
    if (window.performance && performance.mark) performance.mark("tsh-attach");
    var d = m.data.data;
    col = col || function (k) { return plain(d[k][0]); };
    this.m = m;
    this.cfg = JSON.parse(col("cfg"));
    if (uid) { // the viewer's: a token shard's config leaves out the built-in colour modes,
      // which the page's empty embed carries once (render_empty_heatmap); the trace's win
      var embed = JSON.parse(plain(d.cfg[0]));
      this.cfg.modes = Object.assign({}, embed.modes, this.cfg.modes);
      this.cfg.uid = uid; this.loaded = this.relayout = true;
    }
    this.root = document.getElementById(this.cfg.uid);
    this.tok = col("tok"); this.nalt = col("nalt"); this.ci = col("ci");
    this.sp = col("sp"); this.atok = col("atok"); this.alp = col("alp");
    this.sb = col("sb"); this.so = col("so");
    this.nent = col("nent")[0];
    this.rawOf = new Map();
    var bad = col("bad");
    for (var b = 0; b < bad.length; b++) this.rawOf.set(bad[b], this.nent + b);
    this.n = this.tok.length;
    this.lp = this.chosenLogprobs(col("lpo"), col("lpdi"), col("lpdv"));
    this.C = this.cfg.C; // columns drawn: the embed's, fewer on a narrow screen (reflow)
    this.rows = Math.ceil(this.n / this.C);
    this.strings = new Map();
    this.shown = new Map();
    this.derive();
    this.alts = this.off[this.n] > 0; // with none anywhere, the hover says nothing about them
    var CH = window.TracesiteChannels;
    this.ch = this.cfg.ch && CH ? new CH.Channels(this, col) : null;
    this.masked = this.ch ? this.ch.masked : null;
    this.mode = this.cfg.mode;
    this.r0 = -1; this.r1 = -1; this.target = -1; this.tipCell = null;
    this.cellPx = 0;
    this.busy = false;
    this.total = this.rows * this.cfg.block;
    var yr = m.yr;
    this.view = Math.abs(yr.start - yr.end);
    this.embedView = this.view;
    byModel.set(yr.id, this);
    byModel.set(m.hover.id, this);
    instances.push(this);
    this.bind();
    this.reflow();
    this.setMode(this.mode);
    this.fromHash(false);
    var self = this;
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        if (window.performance && performance.mark) performance.mark("tsh-ready");
        if (self.root) self.root.dataset.ready = "1";
      });
    });
  }

  /** Chosen logprobs: from the listed alternative that is the chosen token, else sent apart. */
  Heatmap.prototype.chosenLogprobs = function (own, diffAt, diffValue) {
    var n = this.n, lp = new Float32Array(n), k = 0, j = 0;
    for (var i = 0; i < n; i++) {
      lp[i] = this.ci[i] < 0 ? own[k++] : this.alp[j + this.ci[i]];
      j += this.nalt[i];
    }
    for (var d = 0; d < diffAt.length; d++) lp[diffAt[d]] = diffValue[d];
    return lp;
  };

  Heatmap.prototype.derive = function () {
    var n = this.n, off = new Int32Array(n + 1);
    for (var i = 0; i < n; i++) off[i + 1] = off[i] + this.nalt[i];
    this.off = off;
    var p = new Float64Array(n), ap = new Float64Array(this.alp.length);
    for (i = 0; i < n; i++) p[i] = Math.exp(this.lp[i]);
    for (var j = 0; j < ap.length; j++) ap[j] = Math.exp(this.alp[j]);
    this.p = p; this.ap = ap;
    this.statsCache = null;
  };

  /** Entropy (lower bound) and rest-of-vocabulary mass per position, as the model computes
   *  them (tracesite.model.PositionStats); computed on first need, not at load. */
  Heatmap.prototype.stats = function () {
    if (this.statsCache) return this.statsCache;
    var n = this.n, off = this.off, p = this.p, ap = this.ap;
    var H = new Float64Array(n), rest = new Float64Array(n), maxH = 0, maxS = 0;
    for (var i = 0; i < n; i++) {
      var listed = 0, h = 0;
      for (var j = off[i]; j < off[i + 1]; j++) {
        var q = ap[j];
        if (q > 0) { var l = Math.log2(q); listed += q; h -= q * l; if (-l > maxS) maxS = -l; }
      }
      // the chosen token joins the distribution when it is not among the listed alternatives
      if (this.ci[i] < 0 && isFinite(this.lp[i]) && p[i] > 0) { listed += p[i]; h -= p[i] * Math.log2(p[i]); }
      var r = Math.min(1, Math.max(0, 1 - listed));
      if (r > 0) h -= r * Math.log2(r);
      H[i] = h; rest[i] = r;
      if (h > maxH) maxH = h;
      if (p[i] > 0 && -Math.log2(p[i]) > maxS) maxS = -Math.log2(p[i]);
    }
    this.statsCache = {
      H: H, rest: rest,
      entropy: [0, Math.max(1, Math.ceil(maxH * 2) / 2)],
      surprisal: [0, Math.min(24, Math.max(1, Math.ceil(maxS)))]
    };
    return this.statsCache;
  };

  /** The colour scale's [low, high] of a mode (a channel mode's comes with it). */
  Heatmap.prototype.rangeOf = function (mode) {
    var look = this.cfg.modes[mode];
    if (look && look.range) return look.range;
    return mode === "probability" ? [0, 1] : this.stats()[mode];
  };

  /** A mode's palette (see palette()); a channel mode may name an earlier mode's ("as"). */
  Heatmap.prototype.colours = function (mode) {
    var look = this.cfg.modes[mode];
    return palette(look.colors || this.cfg.modes[look.as].colors);
  };

  /** The channel of a mode's look, or null for the built-in modes. */
  Heatmap.prototype.channelLook = function (mode) {
    var look = this.cfg.modes[mode];
    return this.ch && look && look.ch != null ? look : null;
  };

  /** Palette index (0..PALETTE_STEPS-1) of value v in the current mode, as the mapper maps it. */
  Heatmap.prototype.step = function (v) {
    var r = this.rangeOf(this.mode), t = (v - r[0]) / (r[1] - r[0]);
    return Math.max(0, Math.min(PALETTE_STEPS - 1, Math.floor(t * PALETTE_STEPS)));
  };

  Heatmap.prototype.str = function (e) {
    var s = this.strings.get(e);
    if (s === undefined) {
      s = decoder.decode(this.sb.subarray(this.so[e], this.so[e + 1]));
      this.strings.set(e, s);
    }
    return s;
  };

  Heatmap.prototype.rawHex = function (e) {
    var r = this.rawOf.get(e);
    if (r === undefined) return null;
    var out = [];
    for (var k = this.so[r]; k < this.so[r + 1]; k++) out.push(hex2(this.sb[k]));
    return out.join(" ");
  };

  /** Cell text cut with … to the cell's width (measured with the cell's font). */
  Heatmap.prototype.cellText = function (e, special) {
    var key = e * 2 + (special ? 1 : 0);
    var s = this.shown.get(key);
    if (s !== undefined) return s;
    var full = visible(this.str(e));
    var maxW = Math.max(12, this.cellPx * 0.94 - 6);
    if (!measureCtx) measureCtx = document.createElement("canvas").getContext("2d");
    var font = (special ? "italic bold " : "") + "12px " + FONT;
    if (measureFont !== font) { measureCtx.font = font; measureFont = font; } // parsing is slow
    s = full;
    if (measureCtx.measureText(full).width > maxW) {
      var chars = Array.from(full), lo = 0, hi = chars.length;
      while (lo < hi) {
        var mid = (lo + hi + 1) >> 1;
        if (measureCtx.measureText(chars.slice(0, mid).join("") + "\u2026").width <= maxW) lo = mid; else hi = mid - 1;
      }
      s = chars.slice(0, lo).join("") + "\u2026";
    }
    this.shown.set(key, s);
    return s;
  };

  Heatmap.prototype.pmin = function (i) {
    var lo = NaN;
    for (var j = this.off[i]; j < this.off[i + 1]; j++) if (this.ap[j] === this.ap[j]) lo = this.ap[j];
    return lo; // alternatives are sorted, unknown last: the last known is the lowest
  };

  Heatmap.prototype.pText = function (p, i) {
    if (p === p) return fixed(p, 2);
    var lo = this.pmin(i);
    return lo === lo ? "<" + fixed(lo, 2) : "?";
  };

  /** Colour value of a cell in the current mode (NaN: drawn grey, outside the colour scale). */
  Heatmap.prototype.value = function (i, j) {
    var look = this.channelLook(this.mode);
    if (look) return this.ch.value(look, i, j);
    var p = j < 0 ? this.p[i] : this.ap[j];
    if (this.mode === "probability") return p;
    if (this.mode === "surprisal") return p === p ? Math.min(this.rangeOf("surprisal")[1], -Math.log2(p)) : NaN;
    return j < 0 ? this.stats().H[i] : NaN;
  };

  Heatmap.prototype.textColour = function (v) {
    if (v !== v) return "#333333";
    if (this.channelLook(this.mode)) { // diverging palettes are dark at both ends: by luminance
      var c = this.colours(this.mode).rgb[this.step(v)];
      return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2] < 140 ? "#ffffff" : "#1a1a1a";
    }
    var r = this.rangeOf(this.mode);
    return (v - r[0]) / (r[1] - r[0]) > 0.55 ? "#ffffff" : "#1a1a1a";
  };

  /** The plot frame (the cells' area) in the plot element's pixels. */
  Heatmap.prototype.frameBox = function () {
    try {
      var view = window.Bokeh.index[this.m.plot.id];
      var b = view && view.frame && view.frame.bbox;
      // the height is the frame's by definition; Bokeh's box lags a frame_height change
      if (b && b.width > 0) return { left: b.left, top: b.top, width: b.width, height: this.view * this.cfg.unit };
    } catch (err) { /* fall back to the element's size */ }
    var plotEl = this.root ? this.root.querySelector(".tsh-plot") : null;
    var w = plotEl ? Math.max(100, plotEl.clientWidth - 90) : 800;
    return { left: 4, top: 4, width: w, height: this.view * this.cfg.unit };
  };

  Heatmap.prototype.frameWidth = function () { return this.frameBox().width; };

  // ---------------------------------------------------------------- reflow (narrow screens)
  /** The columns to draw in a frame ``width`` px wide: the embed's while its cells stay at least
   *  MIN_CELL_PX wide (every desktop window), else as many as fit (a phone: 6-8). */
  Heatmap.prototype.columnsFor = function (width) {
    if (width / this.cfg.C >= MIN_CELL_PX) return this.cfg.C;
    return Math.max(1, Math.min(this.cfg.C, Math.floor(width / MIN_CELL_PX)));
  };

  /** The viewport's height (units) for the current rows: the embed's while the columns are its
   *  own; after a reflow the whole trace when it fits, else a viewport that leaves some of a
   *  phone's screen to the page around it. */
  Heatmap.prototype.viewFor = function () {
    if (this.C === this.cfg.C && !this.loaded) return this.embedView;
    var maxPx = this.cfg.vmax || 780;
    if (this.C !== this.cfg.C) maxPx = Math.min(maxPx, Math.max(360, window.innerHeight - 140));
    return Math.min(this.total, Math.floor(maxPx / this.cfg.unit * 100) / 100);
  };

  /** Re-flow the positions into the columns the frame's width allows (rows are laid out here,
   *  not in Python, so one embed serves a phone and a desktop); true when the layout changed. */
  Heatmap.prototype.reflow = function () {
    var C = this.columnsFor(this.frameWidth());
    if (C === this.C && !this.relayout) return false;
    var B = this.cfg.block, first = Math.floor(this.top() / B) * this.C;
    this.C = C;
    this.relayout = false;
    this.rows = Math.ceil(this.n / C);
    this.total = this.rows * this.cfg.block;
    this.m.plot.x_range.setv({ start: 0, end: C });
    this.setView(this.viewFor());
    this.overviewImage = null;
    this.ensureOverview();
    if (this.target >= 0) this.scrollToPosition(this.target);
    else this.scrollTo(Math.floor(first / C) * B); // the first row shown stays on top
    if (this.root) this.root.dataset.columns = String(C);
    return true;
  };

  /** Make the plot frame ``view`` units tall (Bokeh lays the plot out again). */
  Heatmap.prototype.setView = function (view) {
    if (Math.abs(view - this.view) < 1e-6) return;
    var px = Math.round(view * this.cfg.unit);
    this.view = px / this.cfg.unit;
    var plotEl = this.root && this.root.querySelector(".tsh-plot");
    if (plotEl) plotEl.style.minHeight = px + 8 + "px";
    this.m.plot.frame_height = px;
    var top = Math.max(0, Math.min(this.total - this.view, this.top()));
    this.m.yr.setv({ start: top + this.view, end: top });
  };

  /** The overview strip exists exactly when the trace scrolls in its viewport. */
  Heatmap.prototype.ensureOverview = function () {
    var main = this.root && this.root.querySelector(".tsh-main");
    if (!main) return;
    var cv = main.querySelector(".tsh-overview");
    if (this.total <= this.view) { if (cv) cv.remove(); return; }
    if (cv) return;
    cv = document.createElement("canvas");
    cv.className = "tsh-overview";
    cv.setAttribute("role", "scrollbar");
    cv.setAttribute("aria-controls", this.cfg.uid);
    cv.setAttribute("aria-orientation", "vertical");
    cv.setAttribute("aria-valuemin", "0");
    cv.setAttribute("aria-valuemax", "100");
    cv.setAttribute("aria-valuenow", "0");
    cv.setAttribute("aria-label", "Overview of the whole trace; click to jump");
    main.append(cv);
    this.bindOverview(cv);
  };

  /** Scroll the viewport so position i's row is in the middle. */
  Heatmap.prototype.scrollToPosition = function (i) {
    var B = this.cfg.block;
    this.scrollTo(Math.floor(i / this.C) * B - (this.view - B) / 2);
  };

  /** Scroll only as far as needed to show position i's whole block. */
  Heatmap.prototype.reveal = function (i) {
    var B = this.cfg.block, y = Math.floor(i / this.C) * B, top = this.top();
    if (y < top) this.scrollTo(y);
    else if (y + B > top + this.view) this.scrollTo(y + B - this.view);
  };

  /** Position and slot (-1: the chosen token, else the alternative's index among the listed)
   *  of the cell at viewport point (x, y), or null: the inverse of cellPoint. */
  Heatmap.prototype.cellAt = function (x, y) {
    var cfg = this.cfg, f = this.frameBox(), C = this.C;
    var rect = this.root.querySelector(".tsh-plot").getBoundingClientRect();
    var fx = x - rect.left - f.left, fy = y - rect.top - f.top;
    if (fx < 0 || fx >= f.width || fy < 0 || fy >= f.height) return null;
    var col = Math.floor(fx / (f.width / C));
    var u = fy * (this.view / f.height) + this.top(), row = Math.floor(u / cfg.block);
    var slot = Math.floor(u - row * cfg.block - (cfg.head - 1));
    var i = row * C + col;
    if (col >= C || i >= this.n || slot < 0 || slot > cfg.A) return null;
    if (slot === 0) return { i: i, k: -1 };
    for (var j = this.off[i], shown = 0; j < this.off[i + 1]; j++) {
      if (j - this.off[i] === this.ci[i]) continue;
      if (++shown === slot) return { i: i, k: j - this.off[i] };
    }
    return null;
  };

  /** Viewport coordinates of the centre of position i's cell in row slot (0: the chosen token,
   *  1..: alternatives), or null when it is not in view. For tests and the benchmark. */
  Heatmap.prototype.cellPoint = function (i, slot) {
    var cfg = this.cfg, f = this.frameBox(), C = this.C;
    var y = Math.floor(i / C) * cfg.block + cfg.head - 0.5 + (slot || 0) - this.top();
    if (y < 0 || y > this.view) return null;
    var rect = this.root.querySelector(".tsh-plot").getBoundingClientRect();
    return {
      x: rect.left + f.left + ((i % C) + 0.5) * (f.width / C),
      y: rect.top + f.top + y * (f.height / this.view)
    };
  };

  Heatmap.prototype.top = function () { return Math.min(this.m.yr.start, this.m.yr.end); };

  Heatmap.prototype.scrollTo = function (top) {
    var max = Math.max(0, this.total - this.view);
    top = Math.max(0, Math.min(max, top));
    this.m.yr.setv({ start: top + this.view, end: top });
    this.fill(false);
  };

  /** Called by Bokeh when the y range moves (pan tool, or scrollTo). */
  Heatmap.prototype.moved = function () {
    if (this.busy) return;
    this.busy = true;
    try {
      var top = this.top(), max = Math.max(0, this.total - this.view);
      if (top < 0 || top > max) this.m.yr.setv({ start: Math.max(0, Math.min(max, top)) + this.view, end: Math.max(0, Math.min(max, top)) });
      this.fill(false);
    } finally {
      this.busy = false;
    }
  };

  /** Copy the rows near the viewport into the drawing sources (only those reach the renderer). */
  Heatmap.prototype.fill = function (force) {
    if (this.reflow()) force = true;
    var cfg = this.cfg, B = cfg.block, C = this.C, A = cfg.A, n = this.n;
    var top = this.top();
    var r0 = Math.max(0, Math.floor(top / B) - 1);
    var r1 = Math.min(this.rows - 1, Math.floor((top + this.view) / B) + 1);
    var w = this.frameWidth() / C;
    if (Math.abs(w - this.cellPx) > 0.5) { this.cellPx = w; this.shown.clear(); force = true; }
    if (!force && r0 === this.r0 && r1 === this.r1) { this.where(); this.drawOverview(); return; }
    this.r0 = r0; this.r1 = r1;
    var c = { x: [], y: [], t: [], pt: [], v: [], tc: [], la: [], fs: [], i: [], k: [] };
    var unk = { x: [], y: [] }, ms = { x: [], y: [] }, masked = this.masked;
    var nu = { x: [], y: [], t: [], nc: [], nf: [] };
    var fl = { x: [], y: [] };
    var self = this;
    function cell(i, j, x, y) {
      var v = self.value(i, j), p = j < 0 ? self.p[i] : self.ap[j];
      var special = j < 0 && self.sp[i] === 1;
      c.x.push(x); c.y.push(y);
      c.t.push(self.cellText(j < 0 ? self.tok[i] : self.atok[j], special));
      c.pt.push(self.pText(p, i));
      var mk = masked !== null && masked[i] === 1;
      c.v.push(v); c.tc.push(mk ? "#555555" : self.textColour(v));
      c.la.push(j < 0 ? 1 : 0);
      if (mk) { ms.x.push(x); ms.y.push(y); }
      if (p !== p) { unk.x.push(x); unk.y.push(y); }
      c.fs.push(special ? "bold italic" : "normal");
      c.i.push(i); c.k.push(j < 0 ? -1 : j - self.off[i]);
    }
    for (var r = r0; r <= r1; r++) {
      var y0 = r * B;
      for (var col = 0; col < C; col++) {
        var i = r * C + col;
        if (i >= n) break;
        var x = col + 0.5;
        cell(i, -1, x, y0 + cfg.head - 0.5);
        var shown = 0;
        for (var j = this.off[i]; j < this.off[i + 1] && shown < A; j++) {
          if (j - this.off[i] === this.ci[i]) continue;
          shown++;
          cell(i, j, x, y0 + cfg.head - 0.5 + shown);
        }
        var low = this.p[i] < cfg.low;
        nu.x.push(x); nu.y.push(y0 + cfg.head + A + 0.28); nu.t.push(String(cfg.off + i + 1));
        nu.nc.push(low ? LOW_COLOUR : NUM_COLOUR); nu.nf.push(low ? "bold" : "normal");
        if (low) { fl.x.push(col + 0.86); fl.y.push(y0 + cfg.head - 0.5 - 0.3); }
      }
    }
    this.m.cells.data = c;
    this.m.unknown.data = unk;
    if (this.m.masked) this.m.masked.data = ms;
    this.m.nums.data = nu;
    this.m.flags.data = fl;
    this.m.bands.data = this.bandRows(r0, r1);
    this.m.target.data = this.targetRow(r0, r1);
    if (this.root) this.root.dataset.rows = r0 + "-" + r1;
    this.where();
    this.drawOverview();
  };

  Heatmap.prototype.bandRows = function (r0, r1) {
    var cfg = this.cfg, C = this.C;
    var out = { x: [], y: [], w: [], lx: [], t: [] };
    cfg.hl.forEach(function (h) {
      var a = Math.max(0, h[0] - 1 - cfg.off), b = Math.min(this.n - 1, h[1] - 1 - cfg.off);
      for (var r = Math.max(r0, Math.floor(a / C)); r <= Math.min(r1, Math.floor(b / C)); r++) {
        var c0 = Math.max(a, r * C) - r * C, c1 = Math.min(b, r * C + C - 1) - r * C;
        out.x.push((c0 + c1 + 1) / 2); out.w.push(c1 - c0 + 1 - 0.06);
        out.y.push(r * cfg.block + 0.25); out.lx.push(c0 + 0.08); out.t.push(h[2]);
      }
    }, this);
    return out;
  };

  Heatmap.prototype.targetRow = function (r0, r1) {
    var cfg = this.cfg, i = this.target, r = Math.floor(i / this.C);
    if (i < 0 || r < r0 || r > r1) return { x: [], y: [], h: [] };
    return { x: [(i % this.C) + 0.5], y: [r * cfg.block + cfg.head - 0.5 + cfg.A / 2], h: [cfg.A + 1.06] };
  };

  Heatmap.prototype.where = function () {
    var out = this.root && this.root.querySelector(".tsh-where");
    if (!out || this.total <= this.view) return;
    var first = this.cfg.off + Math.min(this.n, Math.floor(this.top() / this.cfg.block) * this.C) + 1;
    var last = this.cfg.off + Math.min(this.n, Math.ceil((this.top() + this.view) / this.cfg.block) * this.C);
    var text = "positions " + grouped(first) + "\u2013" + grouped(last) + " of " + grouped(this.cfg.off + this.n);
    if (out.textContent !== text) out.textContent = text;
  };

  Heatmap.prototype.setMode = function (mode) {
    var look = this.cfg.modes[mode];
    if (!look) return;
    this.mode = mode;
    var r = this.rangeOf(mode), m = this.m;
    m.mapper.setv({ palette: this.colours(mode).hex, low: r[0], high: r[1] });
    // only what changed: a colour-bar change makes BokehJS lay the whole plot out again
    var ticks = look.ticks || (mode === "probability" ? [0, 0.2, 0.4, 0.6, 0.8, 1] : niceTicks(r[1]));
    var format = look.fmt || (mode === "surprisal" && r[1] >= 5 ? "%d" : "%.1f");
    if (m.bar.title !== look.title) m.bar.title = look.title;
    if (String(Array.from(m.bar.ticker.ticks)) !== String(ticks)) m.bar.ticker.ticks = ticks;
    if (m.bar.formatter.format !== format) m.bar.formatter.format = format;
    if (this.root) {
      this.root.dataset.mode = mode;
      var sel = this.root.querySelector(".tsh-mode");
      if (sel && sel.value !== mode) sel.value = mode;
      var note = this.root.querySelector(".tsh-scale"); // channel traces: how the scale was set
      if (note && note.textContent !== (look.note || "")) note.textContent = look.note || "";
    }
    this.overviewImage = null;
    this.fill(true);
    this.colourText();
  };

  // ---------------------------------------------------------------- text view
  /** The text view's token spans (tok-N, in position order), or null when it is not there. */
  Heatmap.prototype.textSpans = function () {
    var first = document.getElementById("tok-" + (this.cfg.off + 1));
    var tsv = first && first.closest(".tsv");
    if (!tsv) return null;
    var spans = tsv.querySelectorAll("span[id^='tok-']");
    return spans.length === this.n ? spans : null;
  };

  /** Colour the text view as the heatmap: in the probability mode its own classes do (p in
   *  tenths, no script needed); in any other mode each token's background comes from the mode's
   *  palette here, so the page carries no extra bytes per token for it. */
  Heatmap.prototype.colourText = function () {
    var spans = this.textSpans();
    if (!spans) return;
    var plain = this.mode === "probability";
    if (plain && !this.textColoured) return;
    this.textColoured = !plain;
    var hex = this.colours(this.mode).hex;
    for (var i = 0; i < spans.length; i++) {
      var s = spans[i];
      if (plain || this.sp[i] === 1) { if (s.style.cssText) s.style.cssText = ""; continue; }
      var v = this.value(i, -1);
      s.style.cssText = v === v
        ? "background:" + hex[this.step(v)] + ";color:" + this.textColour(v)
        : "background:" + NAN_COLOUR;
    }
    if (this.root) this.root.dataset.textMode = this.mode;
  };

  // ---------------------------------------------------------------- overview strip
  Heatmap.prototype.drawOverview = function () {
    var cv = this.root && this.root.querySelector(".tsh-overview");
    if (!cv || this.total <= this.view) return;
    var dpr = window.devicePixelRatio || 1, f = this.frameBox();
    // a canvas keeps its attribute aspect ratio unless both CSS sizes are set: match the frame
    if (cv.style.height !== f.height + "px") {
      cv.style.height = f.height + "px";
      cv.style.marginTop = f.top + "px";
    }
    var W = cv.clientWidth || 44, Hc = f.height;
    if (cv.width !== Math.round(W * dpr) || cv.height !== Math.round(Hc * dpr)) {
      cv.width = Math.round(W * dpr); cv.height = Math.round(Hc * dpr); this.overviewImage = null;
    }
    var ctx = cv.getContext("2d");
    if (!this.overviewImage) this.overviewImage = this.overviewPixels(cv.height);
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, cv.width, cv.height);
    ctx.drawImage(this.overviewImage, 0, 0, this.overviewImage.width, this.overviewImage.height, 0, 0, cv.width, cv.height);
    var scale = cv.height / this.total, cfg = this.cfg, C = this.C;
    ctx.fillStyle = "rgba(245,166,35,0.9)";
    cfg.hl.forEach(function (h) {
      var a = Math.max(0, h[0] - 1 - cfg.off), b = Math.min(this.n - 1, h[1] - 1 - cfg.off);
      var ya = Math.floor(a / C) * cfg.block * scale, yb = (Math.floor(b / C) + 1) * cfg.block * scale;
      ctx.fillRect(0, ya, 3 * dpr, Math.max(2 * dpr, yb - ya));
    }, this);
    if (this.target >= 0) {
      ctx.fillStyle = "#1f6feb";
      ctx.fillRect(0, Math.floor(this.target / C) * cfg.block * scale - dpr, cv.width, 3 * dpr);
    }
    var max = Math.max(1e-9, this.total - this.view);
    cv.setAttribute("aria-valuenow", String(Math.round((100 * this.top()) / max)));
    var y = this.top() * scale, h = Math.max(4 * dpr, this.view * scale);
    ctx.fillStyle = "rgba(31,111,235,0.14)";
    ctx.fillRect(0, y, cv.width, h);
    ctx.strokeStyle = "#1f6feb"; ctx.lineWidth = 1.5 * dpr;
    ctx.strokeRect(ctx.lineWidth / 2, y + ctx.lineWidth / 2, cv.width - ctx.lineWidth, h - ctx.lineWidth);
  };

  /** One pixel per column, one pixel row per group of trace rows; each pixel shows the least
   *  confident position of its group (lowest p, highest entropy or surprisal). */
  Heatmap.prototype.overviewPixels = function (height) {
    var C = this.C, rows = this.rows, h = Math.max(1, Math.min(rows, height));
    var img = document.createElement("canvas");
    img.width = C; img.height = h;
    var ctx = img.getContext("2d"), data = ctx.createImageData(C, h);
    var pal = this.colours(this.mode).rgb, r = this.rangeOf(this.mode), span = r[1] - r[0];
    var look = this.channelLook(this.mode), centre = look ? this.ch.list[look.ch].c : 0;
    var worst = this.mode === "probability" || (look && this.ch.list[look.ch].k === "logprob")
      ? Math.min
      : look && this.ch.list[look.ch].k === "signed"
        ? function (a, b) { return Math.abs(b - centre) > Math.abs(a - centre) ? b : a; }
        : Math.max;
    for (var py = 0; py < h; py++) {
      var ra = Math.floor((py * rows) / h), rb = Math.max(ra + 1, Math.floor(((py + 1) * rows) / h));
      for (var c = 0; c < C; c++) {
        var v = NaN;
        for (var row = ra; row < rb; row++) {
          var i = row * C + c;
          if (i >= this.n) break;
          var x = this.value(i, -1);
          if (x === x) v = v === v ? worst(v, x) : x;
        }
        var o = (py * C + c) * 4;
        if (v !== v) {
          var idx = (ra * C + c) < this.n ? 228 : 0;
          data.data[o] = data.data[o + 1] = data.data[o + 2] = idx; data.data[o + 3] = idx ? 255 : 0;
          continue;
        }
        var k = Math.max(0, Math.min(pal.length - 1, Math.round(((v - r[0]) / span) * (pal.length - 1))));
        data.data[o] = pal[k][0]; data.data[o + 1] = pal[k][1]; data.data[o + 2] = pal[k][2]; data.data[o + 3] = 255;
      }
    }
    ctx.putImageData(data, 0, 0);
    return img;
  };

  // ---------------------------------------------------------------- interaction
  Heatmap.prototype.bind = function () {
    var self = this, root = this.root;
    if (!root) return;
    var sel = root.querySelector(".tsh-mode");
    if (sel) sel.addEventListener("change", function () { self.setMode(sel.value); });
    var plotEl = root.querySelector(".tsh-plot");
    if (plotEl) {
      plotEl.addEventListener("wheel", function (e) {
        if (self.total <= self.view) return;
        var unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? self.view * self.cfg.unit : 1;
        var before = self.top();
        var max = Math.max(0, self.total - self.view);
        var next = Math.max(0, Math.min(max, before + (e.deltaY * unit) / self.cfg.unit));
        if (next === before) return; // at an end: let the page scroll
        e.preventDefault();
        self.scrollTo(next);
      }, { passive: false });
      plotEl.addEventListener("mouseleave", function (e) {
        if (e.pointerType !== "touch" && !self.pinned) self.hideTip();
      });
      this.bindTap(plotEl);
    }
    root.addEventListener("keydown", function (e) { self.onKey(e); });
    var cv = root.querySelector(".tsh-overview");
    if (cv) this.bindOverview(cv);
    if (window.ResizeObserver && plotEl) {
      var pending = false;
      new ResizeObserver(function () {
        if (pending) return;
        pending = true;
        requestAnimationFrame(function () { pending = false; self.fill(false); });
      }).observe(plotEl);
    }
  };

  Heatmap.prototype.bindOverview = function (cv) {
    var self = this;
    var jump = function (e) {
      var rect = cv.getBoundingClientRect();
      self.scrollTo(((e.clientY - rect.top) / rect.height) * self.total - self.view / 2);
    };
    cv.addEventListener("pointerdown", function (e) { cv.setPointerCapture(e.pointerId); jump(e); });
    cv.addEventListener("pointermove", function (e) { if (cv.hasPointerCapture(e.pointerId)) jump(e); });
  };

  /** A tap (or click) on a cell opens its tooltip and marks its position; a tap anywhere else
   *  closes it. Touch screens have no hover, and Bokeh's hover tool only follows a mouse. A
   *  pointer that moved between down and up dragged the viewport (the pan tool): not a tap. */
  Heatmap.prototype.bindTap = function (plotEl) {
    var self = this, down = null;
    plotEl.addEventListener("pointerdown", function (e) { down = [e.clientX, e.clientY]; });
    plotEl.addEventListener("pointerup", function (e) {
      if (!down || Math.abs(e.clientX - down[0]) + Math.abs(e.clientY - down[1]) > DRAG_PX) return;
      down = null;
      var hit = self.cellAt(e.clientX, e.clientY);
      if (!hit) { self.hideTip(); return; }
      self.select(hit.i, { tip: hit.k, announce: true });
    });
    var tip = this.root.querySelector(".tsh-tip"), onTip = null;
    document.addEventListener("pointerdown", function (e) {
      if (tip && tip.contains(e.target)) return;  // the phone's sheet: a drag scrolls it
      if (self.pinned && !plotEl.contains(e.target)) self.hideTip();
    });
    if (tip) {  // a tap on the sheet (not a scroll) closes it, so the cells it covers can be reached
      tip.addEventListener("pointerdown", function (e) { onTip = [e.clientX, e.clientY]; });
      tip.addEventListener("pointerup", function (e) {
        if (onTip && Math.abs(e.clientX - onTip[0]) + Math.abs(e.clientY - onTip[1]) <= DRAG_PX) self.hideTip();
        onTip = null;
      });
    }
  };

  /** Arrow keys move the focus cell (and its tooltip) by a position or a row; Escape closes the
   *  tooltip; Page Up/Down, Home and End scroll the viewport. */
  Heatmap.prototype.onKey = function (e) {
    if (e.target !== this.root || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "Escape") {
      if (this.root.querySelector(".tsh-tip").hidden) return;
      this.hideTip();
      e.preventDefault();
      return;
    }
    var move = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -this.C, ArrowDown: this.C }[e.key];
    if (move !== undefined) {
      e.preventDefault();
      var from = this.target >= 0 ? this.target : Math.min(this.n - 1, Math.floor(this.top() / this.cfg.block) * this.C);
      var to = this.target >= 0 ? Math.max(0, Math.min(this.n - 1, from + move)) : from;
      this.select(to, { tip: -1, announce: true, reveal: true });
      return;
    }
    if (this.total <= this.view) return;
    var step = { PageDown: this.view * 0.9, PageUp: -this.view * 0.9, Home: -this.total, End: this.total }[e.key];
    if (step === undefined) return;
    e.preventDefault();
    this.scrollTo(this.top() + step);
  };

  /** Make position i (0-based) the marked one: outlined in the heatmap and the text view,
   *  scrolled to, and told to the page (``tracesite:position``, e.g. for a copy-link button).
   *  ``how.tip``: show the tooltip of that slot (-1 the chosen token); ``how.announce``: say it
   *  in the live region; ``how.reveal``: scroll only as far as needed (else centre it). */
  Heatmap.prototype.select = function (i, how) {
    how = how || {};
    if (!(i >= 0 && i < this.n)) return;
    var changed = this.target !== i;
    this.target = i;
    if (how.reveal) this.reveal(i);
    else if (how.centre) this.scrollToPosition(i);
    this.fill(true);
    var pos = i + 1 + this.cfg.off;
    if (this.root) this.root.dataset.target = String(pos);
    this.markText();
    if (how.tip !== undefined) this.showTipAt(i, how.tip);
    if (how.announce) this.announce(i);
    if (changed || how.always) {
      document.dispatchEvent(new CustomEvent("tracesite:position", { detail: { pos: pos } }));
    }
  };

  /** Say position i in the heatmap's live region (screen readers read it out). */
  Heatmap.prototype.announce = function (i) {
    var live = this.root && this.root.querySelector(".tsh-live");
    if (!live) return;
    var p = this.p[i];
    live.textContent = "Position " + grouped(i + 1 + this.cfg.off) + " of " + grouped(this.cfg.off + this.n) +
      ": " + exact(this.str(this.tok[i])) + ", p " + (p === p ? fixed(p, 2) : "not given");
  };

  Heatmap.prototype.fromHash = function (scrollPage) {
    var m = /^#pos-(\d+)$/.exec(window.location.hash);
    if (!m) return;
    var i = parseInt(m[1], 10) - 1 - this.cfg.off;
    if (!(i >= 0 && i < this.n)) return;
    this.select(i, { centre: true, always: true });
    if (this.root && (scrollPage !== false || window.scrollY === 0)) this.root.scrollIntoView({ block: "nearest" });
    var self = this, markText = function () { self.markText(); };
    // the heatmap may be drawn before the text view below it is parsed
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", markText, { once: true });
  };

  // the target position's token in the text view (again after the dev server swapped it in)
  Heatmap.prototype.markText = function () {
    if (this.target < 0) return;
    var old = document.querySelectorAll(".tsv .tsv-target");
    for (var k = 0; k < old.length; k++) old[k].classList.remove("tsv-target");
    var span = document.getElementById("tok-" + (this.target + 1 + this.cfg.off));
    if (span) span.classList.add("tsv-target");
  };

  /** The heatmap whose text view holds token span ``span``, or null. */
  function ownerOf(span) {
    var tsv = span.closest(".tsv");
    for (var k = 0; k < instances.length; k++) {
      var h = instances[k], first = document.getElementById("tok-" + (h.cfg.off + 1));
      if (first && first.closest(".tsv") === tsv) return h;
    }
    return null;
  }

  function tokenSpan(node) {
    var span = node && node.closest ? node.closest(".tsv span[id^='tok-']") : null;
    return span && ownerOf(span) ? span : null;
  }

  /** Follow a text-view token: the heatmap scrolls to it and marks it; the token becomes the
   *  text's tab stop. */
  function followToken(span) {
    var h = ownerOf(span), pos = parseInt(span.id.slice(4), 10);
    if (!h) return;
    var stop = span.closest(".tsv").querySelector("span[tabindex='0']");
    if (stop && stop !== span) moveStop(stop, span, false);
    h.select(pos - 1 - h.cfg.off, { centre: true, announce: true });
    if (h.root) h.root.scrollIntoView({ block: "nearest" });
  }

  /** Tokens of the text view are reachable by keyboard with one tab stop (a "roving tabindex":
   *  one span is focusable at a time, so 50,000 tokens cost no bytes): Tab reaches the text,
   *  Left/Right move token by token, Enter follows the token into the heatmap. */
  function rovingStop() {
    instances.forEach(function (h) {
      var spans = h.textSpans();
      if (!spans || !spans.length || spans[0].closest(".tsv").querySelector("[tabindex='0']")) return;
      var at = h.target >= 0 ? spans[h.target] : spans[0];
      at.tabIndex = 0;
      at.setAttribute("role", "button");
      at.setAttribute("aria-label", "token " + at.id.slice(4) + ": " + at.textContent + " (Enter shows it in the heatmap)");
    });
  }

  function moveStop(from, to, focus) {
    from.tabIndex = -1;
    from.removeAttribute("role");
    from.removeAttribute("aria-label");
    to.tabIndex = 0;
    to.setAttribute("role", "button");
    to.setAttribute("aria-label", "token " + to.id.slice(4) + ": " + to.textContent + " (Enter shows it in the heatmap)");
    if (focus !== false) to.focus();
  }

  document.addEventListener("click", function (e) {
    var span = tokenSpan(e.target), sel = window.getSelection && window.getSelection();
    if (!span || (sel && !sel.isCollapsed)) return; // selecting text is not following it
    followToken(span);
  });
  document.addEventListener("keydown", function (e) {
    var span = tokenSpan(e.target);
    if (!span || e.target !== span) return;
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); followToken(span); return; }
    var next = e.key === "ArrowRight" ? span.nextElementSibling || (span.parentElement.nextElementSibling || {}).firstElementChild
      : e.key === "ArrowLeft" ? span.previousElementSibling || (span.parentElement.previousElementSibling || {}).lastElementChild : null;
    if (!next || !tokenSpan(next)) return;
    e.preventDefault();
    moveStop(span, next);
  });

  // ---------------------------------------------------------------- tooltip
  Heatmap.prototype.hideTip = function () {
    var tip = this.root && this.root.querySelector(".tsh-tip");
    this.pinned = false;
    if (tip) tip.hidden = true;
  };

  /** The hover tool's tooltip: of the cell under the mouse (``geometry``: its point). */
  Heatmap.prototype.showTip = function (cellIndex, geometry) {
    var cd = this.m.cells.data, i = cd.i[cellIndex], k = cd.k[cellIndex];
    if (i == null) { if (!this.pinned) this.hideTip(); return; }
    this.pinned = false;
    this.fillTip(i, k, geometry);
  };

  /** The tooltip of position i's slot k (-1 the chosen token) beside its cell, kept open until
   *  Escape, a tap elsewhere or the mouse leaves (a tap or the keyboard opened it). */
  Heatmap.prototype.showTipAt = function (i, k) {
    var slot = 0;
    if (k >= 0) for (var j = this.off[i]; j <= this.off[i] + k; j++) if (j - this.off[i] !== this.ci[i]) slot++;
    var pt = this.cellPoint(i, slot), plotEl = this.root.querySelector(".tsh-plot");
    if (!pt) return;
    var pr = plotEl.getBoundingClientRect(), cell = (this.frameWidth() / this.C) / 2;
    this.fillTip(i, k, { sx: pt.x - pr.left + cell - 14, sy: pt.y - pr.top + 4 });
    this.pinned = true;
  };

  Heatmap.prototype.fillTip = function (i, k, geometry) {
    var tip = this.root && this.root.querySelector(".tsh-tip");
    if (!tip) return;
    if (tip.dataset.cell === i + ":" + k && !tip.hidden) return this.placeTip(tip, geometry);
    tip.dataset.cell = i + ":" + k;
    tip.replaceChildren(this.tipContent(i, k));
    tip.hidden = false;
    this.placeTip(tip, geometry);
  };

  Heatmap.prototype.placeTip = function (tip, g) {
    var plotEl = this.root.querySelector(".tsh-plot");
    var pr = plotEl.getBoundingClientRect(), rr = this.root.getBoundingClientRect();
    if (getComputedStyle(tip).position === "fixed") {
      // a narrow screen (heatmap.css): a sheet across the viewport, on the half away from the
      // cell so it never covers it; a tall tooltip beside a cell would be cut by the panel
      var low = pr.top + g.sy > window.innerHeight / 2;
      tip.style.left = tip.style.right = "";
      tip.style.top = low ? "8px" : "auto";
      tip.style.bottom = low ? "auto" : "8px";
      return;
    }
    var x = pr.left - rr.left + g.sx + 16, y = pr.top - rr.top + g.sy + 16;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > rr.width) x = Math.max(0, pr.left - rr.left + g.sx - w - 16);
    if (x + w > rr.width) x = Math.max(0, rr.width - w); // a phone: as far left as it must
    if (pr.top + g.sy + 16 + h > window.innerHeight && y - h - 32 > -rr.top) y = y - h - 32;
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  };

  Heatmap.prototype.tipContent = function (i, k) {
    var frag = document.createDocumentFragment();
    var pos = this.cfg.off + i + 1;
    var lo = this.off[i], hi = this.off[i + 1], ci = this.ci[i];
    var isChosen = k < 0;
    var e = isChosen ? this.tok[i] : this.atok[lo + k];
    var lp = isChosen ? this.lp[i] : this.alp[lo + k];
    var p = isChosen ? this.p[i] : this.ap[lo + k];
    var head = el("div", "tsh-tip-head");
    head.append(el("strong", null, "Position " + pos), el("span", "tsh-tip-kind", isChosen ? " \u00b7 chosen token" : " \u00b7 alternative"));
    frag.append(head);
    if (this.masked && this.masked[i] === 1) frag.append(el("div", "tsh-tip-masked", "masked (not in the loss)"));
    var tokLine = el("div", "tsh-tip-token");
    tokLine.append(el("code", null, exact(this.str(e))));
    if (isChosen && this.sp[i] === 1) tokLine.append(el("span", "tsh-tip-special", " special token"));
    frag.append(tokLine);
    var hex = this.rawHex(e);
    if (hex) frag.append(el("div", "tsh-tip-bytes", "bytes (not valid UTF-8): " + hex));
    var dl = el("dl", "tsh-tip-stats");
    var add = function (label, value) { dl.append(el("dt", null, label), el("dd", null, value)); };
    var known = p === p;
    var pmin = this.pmin(i);
    add("p", known ? fixed(p, 4) : pmin === pmin ? "< " + fixed(pmin, 4) + " (not given)" : "not given");
    add("logprob", known ? (lp === -Infinity ? "\u2212\u221e" : fixed(lp, 4)) : "not given");
    var rank;
    if (!isChosen) rank = (k + 1) + " of " + (hi - lo) + " listed";
    else if (hi === lo) rank = "no alternatives listed";
    else if (ci < 0) rank = "not among the " + (hi - lo) + " listed";
    else rank = (ci + 1) + " of " + (hi - lo) + " listed";
    if (this.alts) add("rank", rank);
    add("surprisal", known ? (p > 0 ? fixed(-Math.log2(p), 3) + " bits" : "\u221e") : pmin === pmin ? "> " + fixed(-Math.log2(pmin), 3) + " bits" : "not given");
    frag.append(dl);
    if (this.ch) {
      var chl = el("dl", "tsh-tip-stats tsh-tip-ch");
      this.ch.rows(i).forEach(function (row) { chl.append(el("dt", null, row[0]), el("dd", null, row[1])); });
      frag.append(el("div", "tsh-tip-sub", "Channels at position " + pos), chl);
    }
    if (!this.alts) return frag; // no alternatives anywhere: nothing about them is shown
    var table = el("table", "tsh-tip-alts");
    var cap = el("caption", null, hi > lo ? "Listed alternatives at position " + pos : "No alternatives listed at position " + pos);
    table.append(cap);
    var body = el("tbody");
    for (var j = lo; j < hi; j++) {
      var tr = el("tr", j - lo === ci ? "is-chosen" : null);
      if (!isChosen && j - lo === k) tr.classList.add("is-hovered");
      tr.append(el("td", "n", String(j - lo + 1)), el("td", "tok", exact(this.str(this.atok[j]))),
        el("td", "p", this.ap[j] === this.ap[j] ? fixed(this.ap[j], 4) : "not given"),
        el("td", "mark", j - lo === ci ? "\u2190 chosen" : ""));
      body.append(tr);
    }
    if (ci < 0 && hi > lo) {
      var tc = el("tr", "is-chosen");
      tc.append(el("td", "n", "\u2013"), el("td", "tok", exact(this.str(this.tok[i]))),
        el("td", "p", this.p[i] === this.p[i] ? fixed(this.p[i], 4) : "not given"), el("td", "mark", "\u2190 chosen (not listed)"));
      body.append(tc);
    }
    table.append(body);
    frag.append(table);
    var foot = el("dl", "tsh-tip-stats tsh-tip-foot");
    var st = this.stats();
    foot.append(el("dt", null, "rest of vocabulary"), el("dd", null, fixed(st.rest[i], 4)));
    foot.append(el("dt", null, "entropy"), el("dd", null, "\u2265 " + fixed(st.H[i], 3) + " bits (lower bound)"));
    frag.append(foot);
    return frag;
  };

  // ---------------------------------------------------------------- entry points (CustomJS)
  var waiting = new Map(); // uid -> models of an empty embed (the viewer's), until load()
  var loads = new Map(); // uid -> the load() waiting for that embed

  function drain() {
    while (queue.length) {
      var m = queue.shift();
      try {
        var cfg = JSON.parse(plain(m.data.data.cfg[0]));
        if (cfg.wait) { waiting.set(cfg.uid, m); if (loads.has(cfg.uid)) loads.get(cfg.uid)(); continue; }
        new Heatmap(m);
      } catch (err) { console.error("tracesite heatmap:", err); }
    }
    rovingStop();
  }

  /** Draw a trace in the empty embed of container ``uid`` (the viewer page): ``cols`` are the
   *  trace's data columns by name (render.cells.pack_trace: typed arrays, "cfg" its JSON).
   *  Resolves to the Heatmap once BokehJS has drawn the embed. */
  function load(uid, cols) {
    return new Promise(function (resolve, reject) {
      var start = function () {
        loads.delete(uid);
        try {
          var h = new Heatmap(waiting.get(uid), function (k) { return cols[k]; }, uid);
          waiting.delete(uid);
          rovingStop();
          resolve(h);
        } catch (err) { reject(err); }
      };
      if (waiting.has(uid)) start(); else loads.set(uid, start);
    });
  }

  window.TracesiteHeatmap = {
    drain: drain,
    load: load,
    textChanged: textChanged,
    visible: visible,
    exact: exact,
    instances: instances,
    moved: function (range) { var h = byModel.get(range.id); if (h) h.moved(); },
    hover: function (tool, cbData) {
      var h = byModel.get(tool.id);
      if (!h) return;
      var idx = cbData.index && cbData.index.indices;
      if (idx && idx.length) h.showTip(idx[idx.length - 1], cbData.geometry);
      else if (!h.pinned) h.hideTip();
    }
  };
  window.addEventListener("hashchange", function () {
    instances.forEach(function (h) { h.fromHash(true); });
  });
  /** A text view was (re)placed: the dev server swapped one in, or the viewer built one. */
  function textChanged() {
    // a new text view has no colours of ours yet
    instances.forEach(function (h) { h.markText(); h.textColoured = false; h.colourText(); });
    rovingStop();
  }
  document.addEventListener("tracesite:updated", textChanged);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", rovingStop, { once: true });
  drain();
})();
